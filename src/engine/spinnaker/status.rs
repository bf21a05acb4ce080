//! Reading an orca execution: the status table (DESIGN §10 "Gate status
//! mapping") and where failure text lives (SPINNAKER-GATE.md §2.2, Deck's
//! precedence).

use super::wire::{ExceptionResponse, Execution, Stage};
use crate::engine::{ExecutionSnapshot, ExecutionStatus};

/// Stage statuses that halt a pipeline (orca's `halt` flag).
const HALTING: &[&str] = &["TERMINAL", "STOPPED", "CANCELED"];

/// Stage statuses whose stages have nothing to say about a failure.
const QUIET: &[&str] = &["SUCCEEDED", "SKIPPED", "NOT_STARTED", "BUFFERED"];

/// Maps orca's `ExecutionStatus` to DXCP's. Anything unlisted (future values,
/// Deck-era names, `REDIRECT`) is [`ExecutionStatus::Unknown`], which changes
/// nothing downstream; this never fails.
pub(crate) fn map_status(raw: &str) -> ExecutionStatus {
    match raw {
        "NOT_STARTED" | "BUFFERED" => ExecutionStatus::Active,
        "RUNNING" | "PAUSED" | "SUSPENDED" => ExecutionStatus::InProgress,
        "SUCCEEDED" => ExecutionStatus::Succeeded,
        "TERMINAL" | "STOPPED" | "FAILED_CONTINUE" => ExecutionStatus::Failed,
        "CANCELED" => ExecutionStatus::Canceled,
        other => ExecutionStatus::Unknown(other.to_owned()),
    }
}

/// The snapshot of an execution: status, failure text and failed stage.
///
/// Failure text is read whatever the status, so a canceled or still running
/// execution can explain itself too; callers use it when the run failed.
pub(crate) fn snapshot(execution: &Execution) -> ExecutionSnapshot {
    let raw_status = execution.status.clone().unwrap_or_default();
    let primary = primary_stage(&execution.stages);
    let ordered = stages_in_reading_order(&execution.stages, primary);
    ExecutionSnapshot {
        status: map_status(&raw_status),
        raw_status,
        failure_messages: failure_messages(execution, &ordered),
        failed_stage: primary.and_then(stage_label),
    }
}

/// The first top-level stage that halted the pipeline, else the first
/// top-level stage that failed but let it continue.
fn primary_stage(stages: &[Stage]) -> Option<&Stage> {
    let top_level_with = |statuses: &[&str]| {
        stages.iter().find(|stage| {
            stage.synthetic_stage_owner.is_none()
                && stage.status.as_deref().is_some_and(|status| statuses.contains(&status))
        })
    };
    top_level_with(HALTING).or_else(|| top_level_with(&["FAILED_CONTINUE"]))
}

/// The primary stage, then its synthetic children, then every other stage
/// that may carry failure text, in pipeline order.
fn stages_in_reading_order<'a>(stages: &'a [Stage], primary: Option<&'a Stage>) -> Vec<&'a Stage> {
    let primary_id = primary.and_then(|stage| stage.id.as_deref());
    let is_child = |stage: &Stage| primary_id.is_some() && stage.parent_stage_id.as_deref() == primary_id;
    let is_primary = |stage: &Stage| primary.is_some_and(|p| std::ptr::eq(p, stage));
    let may_explain = |stage: &Stage| !stage.status.as_deref().is_some_and(|status| QUIET.contains(&status));

    let mut ordered: Vec<&Stage> = primary.into_iter().collect();
    ordered.extend(stages.iter().filter(|stage| !is_primary(stage) && is_child(stage)));
    ordered.extend(stages.iter().filter(|stage| !is_primary(stage) && !is_child(stage) && may_explain(stage)));
    ordered
}

/// Deck's precedence: stage exceptions, task exceptions, clouddriver task
/// messages, then the execution's cancellation reason. Blank and repeated
/// texts are dropped (orca copies the stage exception onto its task).
fn failure_messages(execution: &Execution, stages: &[&Stage]) -> Vec<String> {
    let stage_exceptions =
        stages.iter().filter_map(|stage| stage.context.exception.as_ref()).flat_map(exception_messages);
    let task_exceptions = stages
        .iter()
        .flat_map(|stage| &stage.tasks)
        .filter_map(|task| task.task_exception_details.as_ref())
        .filter_map(|details| details.exception.as_ref())
        .flat_map(exception_messages);
    let kato_messages = stages.iter().flat_map(|stage| kato_messages(stage));
    let cancellation = execution.cancellation_reason.iter().cloned();

    let mut messages: Vec<String> = Vec::new();
    for message in stage_exceptions.chain(task_exceptions).chain(kato_messages).chain(cancellation) {
        let message = message.trim();
        if !message.is_empty() && !messages.iter().any(|seen| seen == message) {
            messages.push(message.to_owned());
        }
    }
    messages
}

/// `details.errors` when it has any text, else the short `details.error`.
fn exception_messages(exception: &ExceptionResponse) -> Vec<String> {
    let details = &exception.details;
    let errors: Vec<String> = details.errors.iter().filter(|error| !error.trim().is_empty()).cloned().collect();
    if errors.is_empty() {
        details.error.iter().cloned().collect()
    } else {
        errors
    }
}

/// For each failed clouddriver task: its exception message, else the last
/// status line of its history.
fn kato_messages(stage: &Stage) -> Vec<String> {
    stage
        .context
        .kato_tasks
        .iter()
        .filter(|task| task.status.failed)
        .filter_map(|task| {
            task.exception
                .as_ref()
                .and_then(|exception| exception.message.clone())
                .or_else(|| task.history.last().and_then(|entry| entry.status.clone()))
        })
        .collect()
}

/// `type:name`, or whichever of the two is known.
fn stage_label(stage: &Stage) -> Option<String> {
    match (stage.kind.as_deref(), stage.name.as_deref()) {
        (Some(kind), Some(name)) => Some(format!("{kind}:{name}")),
        (Some(only), None) | (None, Some(only)) => Some(only.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn read(value: Value) -> ExecutionSnapshot {
        snapshot(&serde_json::from_value(value).unwrap())
    }

    fn exception(errors: Value) -> Value {
        json!({"exceptionType": "SpinnakerHttpException", "shouldRetry": false,
               "details": {"error": "Unexpected Task Failure", "errors": errors, "stackTrace": "at x"}})
    }

    #[test]
    fn every_gate_status_maps_as_the_design_says() {
        let cases = [
            ("NOT_STARTED", ExecutionStatus::Active),
            ("BUFFERED", ExecutionStatus::Active),
            ("RUNNING", ExecutionStatus::InProgress),
            ("PAUSED", ExecutionStatus::InProgress),
            ("SUSPENDED", ExecutionStatus::InProgress),
            ("SUCCEEDED", ExecutionStatus::Succeeded),
            ("TERMINAL", ExecutionStatus::Failed),
            ("STOPPED", ExecutionStatus::Failed),
            ("FAILED_CONTINUE", ExecutionStatus::Failed),
            ("CANCELED", ExecutionStatus::Canceled),
        ];
        for (raw, expected) in cases {
            assert_eq!(map_status(raw), expected, "for {raw}");
        }
    }

    #[test]
    fn unlisted_statuses_are_unknown_and_keep_their_text() {
        for raw in ["REDIRECT", "SKIPPED", "TERMINATED", "running", ""] {
            assert_eq!(map_status(raw), ExecutionStatus::Unknown(raw.to_owned()));
        }
    }

    #[test]
    fn a_missing_status_is_unknown_with_an_empty_raw_status() {
        let snapshot = read(json!({}));
        assert_eq!(snapshot.status, ExecutionStatus::Unknown(String::new()));
        assert_eq!(snapshot.raw_status, "");
        assert!(snapshot.failure_messages.is_empty());
        assert_eq!(snapshot.failed_stage, None);
    }

    #[test]
    fn stage_exception_errors_come_first_and_duplicates_from_tasks_are_dropped() {
        let snapshot = read(json!({
            "status": "TERMINAL",
            "stages": [
                {"id": "s1", "type": "bake", "name": "Bake", "status": "SUCCEEDED", "context": {}},
                {"id": "s2", "type": "deploy", "name": "Deploy", "status": "TERMINAL",
                 "context": {"exception": exception(json!(["Health check failed", "3 of 3 down"]))},
                 "tasks": [{"status": "TERMINAL",
                            "taskExceptionDetails": {"exception": exception(json!(["Health check failed"]))}}]}
            ]
        }));
        assert_eq!(snapshot.status, ExecutionStatus::Failed);
        assert_eq!(snapshot.raw_status, "TERMINAL");
        assert_eq!(snapshot.failure_messages, vec!["Health check failed", "3 of 3 down"]);
        assert_eq!(snapshot.failed_stage.as_deref(), Some("deploy:Deploy"));
    }

    #[test]
    fn the_short_error_is_used_when_errors_is_empty() {
        let snapshot = read(json!({
            "status": "TERMINAL",
            "stages": [{"type": "deploy", "name": "Deploy", "status": "TERMINAL",
                        "context": {"exception": {"details": {"error": "Lock held", "errors": []}}}}]
        }));
        assert_eq!(snapshot.failure_messages, vec!["Lock held"]);
    }

    #[test]
    fn task_exceptions_then_kato_then_the_cancellation_reason_follow() {
        let snapshot = read(json!({
            "status": "CANCELED",
            "cancellationReason": "dxcp:alice:deployment=1",
            "stages": [{
                "type": "deploy", "name": "Deploy", "status": "CANCELED",
                "context": {"kato.tasks": [
                    {"status": {"failed": false}, "exception": {"message": "ignored: not failed"}},
                    {"status": {"failed": true}, "exception": {"message": "Server group quota exceeded"}},
                    {"status": {"failed": true}, "history": [{"status": "Creating"}, {"status": "Network unreachable"}]}
                ]},
                "tasks": [{"taskExceptionDetails": {"exception": exception(json!(["Task blew up"]))}}]
            }]
        }));
        assert_eq!(snapshot.status, ExecutionStatus::Canceled);
        assert_eq!(
            snapshot.failure_messages,
            vec!["Task blew up", "Server group quota exceeded", "Network unreachable", "dxcp:alice:deployment=1"]
        );
    }

    #[test]
    fn the_first_top_level_halting_stage_is_primary_and_its_children_follow_it() {
        let snapshot = read(json!({
            "status": "TERMINAL",
            "stages": [
                {"id": "a", "type": "wait", "name": "Soak", "status": "FAILED_CONTINUE",
                 "context": {"exception": exception(json!(["soak warning"]))}},
                {"id": "b-child", "type": "createServerGroup", "name": "Create", "status": "TERMINAL",
                 "syntheticStageOwner": "STAGE_BEFORE", "parentStageId": "b",
                 "context": {"exception": exception(json!(["Insufficient capacity"]))}},
                {"id": "b", "type": "deploy", "name": "Deploy prod", "status": "TERMINAL",
                 "context": {"exception": exception(json!(["Deploy failed"]))}}
            ]
        }));
        assert_eq!(snapshot.failed_stage.as_deref(), Some("deploy:Deploy prod"));
        assert_eq!(snapshot.failure_messages, vec!["Deploy failed", "Insufficient capacity", "soak warning"]);
    }

    #[test]
    fn a_failed_continue_stage_is_primary_when_nothing_halted() {
        let snapshot = read(json!({
            "status": "FAILED_CONTINUE",
            "stages": [{"type": "manualJudgment", "status": "FAILED_CONTINUE"}]
        }));
        assert_eq!(snapshot.status, ExecutionStatus::Failed);
        assert_eq!(snapshot.failed_stage.as_deref(), Some("manualJudgment"));
    }

    #[test]
    fn a_startup_failure_is_explained_by_its_cancellation_reason() {
        let snapshot = read(json!({
            "status": "TERMINAL", "canceled": true, "canceledBy": "system",
            "cancellationReason": "Failed on startup: Pipeline is disabled and cannot be started.",
            "stages": []
        }));
        assert_eq!(snapshot.failure_messages, vec!["Failed on startup: Pipeline is disabled and cannot be started."]);
        assert_eq!(snapshot.failed_stage, None);
    }

    #[test]
    fn succeeded_stages_do_not_contribute_stale_exceptions() {
        let snapshot = read(json!({
            "status": "SUCCEEDED",
            "stages": [{"type": "deploy", "status": "SUCCEEDED",
                        "context": {"exception": exception(json!(["retried and recovered"]))}}]
        }));
        assert!(snapshot.failure_messages.is_empty());
    }
}
