//! Which deployment may be rolled back, and to what (DESIGN §5 rollback).

use super::{
    deployment::{DeploymentKind, DeploymentRecord, DeploymentState},
    guardrails::Violation,
    DomainError, ErrorCode,
};

/// Most rollback targets one `rollbackTargets` answer lists, whatever
/// `first` asks for (DESIGN §11.1: "`first` capped at 50").
pub const MAX_ROLLBACK_TARGETS: u64 = 50;

/// How many rollback targets to list for `first`: at least one is asked
/// for (`first < 1` is `INVALID_REQUEST`: an empty answer on purpose would
/// read as "nothing to roll back to"), at most [`MAX_ROLLBACK_TARGETS`]
/// are given (a larger `first` is capped, not refused).
pub fn rollback_targets_limit(first: i32) -> Result<u64, DomainError> {
    match u64::try_from(first) {
        Ok(first) if first >= 1 => Ok(first.min(MAX_ROLLBACK_TARGETS)),
        _ => Err(DomainError::new(ErrorCode::InvalidRequest, "`first` must be at least 1")),
    }
}

/// Decides a rollback of `target` and returns the version to restore.
///
/// `running` is the record whose outcome is the current success of the
/// target's service+environment; `prior_success` is the newest
/// SUCCEEDED-state record of that service+environment created before the
/// target.
pub fn restore_version(
    target: &DeploymentRecord,
    running: Option<&DeploymentRecord>,
    prior_success: Option<&DeploymentRecord>,
) -> Result<String, Violation> {
    if target.kind == DeploymentKind::Rollback {
        return Err(violation(ErrorCode::RollbackOfRollback, "a rollback cannot itself be rolled back"));
    }
    let is_running = running.is_some_and(|r| r.id == target.id);
    let is_newer_failure =
        target.state == DeploymentState::Failed && running.is_none_or(|r| target.created_at > r.created_at);
    if !is_running && !is_newer_failure {
        return Err(violation(
            ErrorCode::RollbackTargetNotCurrent,
            "only the running deployment, or a failed deployment newer than it, can be rolled back",
        ));
    }
    let restored = if is_running { prior_success } else { running };
    restored.map(|r| r.version.clone()).ok_or_else(|| {
        violation(ErrorCode::NoPriorSuccessfulVersion, "there is no earlier successful version to restore")
    })
}

fn violation(code: ErrorCode, message: &str) -> Violation {
    Violation { code, message: message.to_owned() }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::domain::deployment::{DeploymentOutcome, EngineType};

    fn record(version: &str, minutes_ago: i64, state: DeploymentState) -> DeploymentRecord {
        let at = Utc::now() - Duration::minutes(minutes_ago);
        DeploymentRecord {
            id: Uuid::new_v4(),
            service: "svc".into(),
            environment: "sandbox".into(),
            version: version.into(),
            recipe_id: "standard".into(),
            recipe_revision: 1,
            effective_behavior_summary: String::new(),
            state,
            kind: DeploymentKind::RollForward,
            outcome: None,
            change_summary: String::new(),
            created_at: at,
            updated_at: at,
            delivery_group_id: "g".into(),
            created_by: "a".into(),
            rollback_of: None,
            superseded_by: None,
            engine_type: EngineType::Simulated,
            engine_execution_id: None,
            engine_execution_url: None,
            spinnaker_application: String::new(),
            deploy_pipeline: String::new(),
            rollback_pipeline: String::new(),
            artifact_ref: None,
            last_engine_contact_at: None,
            source_environment: None,
        }
    }

    fn code(result: Result<String, Violation>) -> ErrorCode {
        result.expect_err("refused").code
    }

    #[test]
    fn the_running_deployment_rolls_back_to_the_prior_success() {
        let prior = record("1.0.0", 20, DeploymentState::Succeeded);
        let mut running = record("1.1.0", 10, DeploymentState::Succeeded);
        running.outcome = Some(DeploymentOutcome::Succeeded);
        assert_eq!(restore_version(&running, Some(&running), Some(&prior)), Ok("1.0.0".into()));
    }

    #[test]
    fn a_failure_newer_than_the_running_one_restores_the_running_version() {
        let running = record("1.1.0", 10, DeploymentState::Succeeded);
        let failed = record("1.2.0", 5, DeploymentState::Failed);
        assert_eq!(restore_version(&failed, Some(&running), None), Ok("1.1.0".into()));
    }

    #[test]
    fn old_records_and_rollbacks_are_refused() {
        let running = record("1.1.0", 10, DeploymentState::Succeeded);
        let old_failure = record("1.0.5", 15, DeploymentState::Failed);
        assert_eq!(code(restore_version(&old_failure, Some(&running), None)), ErrorCode::RollbackTargetNotCurrent);
        let superseded = record("1.0.0", 20, DeploymentState::Succeeded);
        assert_eq!(code(restore_version(&superseded, Some(&running), None)), ErrorCode::RollbackTargetNotCurrent);
        let mut rollback = running.clone();
        rollback.kind = DeploymentKind::Rollback;
        assert_eq!(code(restore_version(&rollback, Some(&rollback), None)), ErrorCode::RollbackOfRollback);
    }

    #[test]
    fn rollback_targets_are_capped_at_fifty_and_at_least_one_is_asked_for() {
        assert_eq!(rollback_targets_limit(1), Ok(1));
        assert_eq!(rollback_targets_limit(10), Ok(10));
        assert_eq!(rollback_targets_limit(50), Ok(50));
        assert_eq!(rollback_targets_limit(51), Ok(MAX_ROLLBACK_TARGETS));
        assert_eq!(rollback_targets_limit(i32::MAX), Ok(MAX_ROLLBACK_TARGETS));
        for refused in [0, -1, i32::MIN] {
            assert_eq!(rollback_targets_limit(refused).expect_err("refused").code, ErrorCode::InvalidRequest);
        }
    }

    #[test]
    fn nothing_to_restore_is_reported() {
        let running = record("1.0.0", 10, DeploymentState::Succeeded);
        assert_eq!(code(restore_version(&running, Some(&running), None)), ErrorCode::NoPriorSuccessfulVersion);
        let failed = record("1.0.0", 10, DeploymentState::Failed);
        assert_eq!(code(restore_version(&failed, None, None)), ErrorCode::NoPriorSuccessfulVersion);
    }
}
