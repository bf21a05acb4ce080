//! Builds realistic history rows for read-side tests, written straight
//! through the store (the deploy path is tested on its own).

use chrono::{DateTime, Duration, Utc};
use dxcp::{
    domain::deployment::{
        DeploymentKind, DeploymentOutcome, DeploymentRecord, DeploymentState, EngineType, Failure, FailureCategory,
        TimelineEvent,
    },
    store::deployments::RecordBundle,
};
use uuid::Uuid;

/// A finished deployment of `service` to `environment` in `group`.
pub fn record(service: &str, environment: &str, group: &str, created_at: DateTime<Utc>) -> DeploymentRecord {
    DeploymentRecord {
        id: Uuid::new_v4(),
        service: service.to_owned(),
        environment: environment.to_owned(),
        version: "1.0.0".to_owned(),
        recipe_id: "standard".to_owned(),
        recipe_revision: 1,
        effective_behavior_summary: "Deploys the version in one pass.".to_owned(),
        state: DeploymentState::Succeeded,
        kind: DeploymentKind::RollForward,
        outcome: Some(DeploymentOutcome::Superseded),
        change_summary: "seeded".to_owned(),
        created_at,
        updated_at: created_at,
        delivery_group_id: group.to_owned(),
        created_by: "owner".to_owned(),
        rollback_of: None,
        superseded_by: None,
        engine_type: EngineType::Simulated,
        engine_execution_id: Some(format!("sim-{created_at:?}")),
        engine_execution_url: Some("simulated://executions/x".to_owned()),
        spinnaker_application: "dxcp-demo".to_owned(),
        deploy_pipeline: "deploy-standard".to_owned(),
        rollback_pipeline: "rollback-standard".to_owned(),
        artifact_ref: Some("s3://bucket/key.zip".to_owned()),
        last_engine_contact_at: Some(created_at),
    }
}

pub fn failure(at: DateTime<Utc>) -> Failure {
    Failure {
        category: FailureCategory::App,
        summary: "Health check failed".to_owned(),
        detail: Some("container exited with code 1".to_owned()),
        action_hint: Some("Check the application logs".to_owned()),
        observed_at: at,
    }
}

pub fn timeline(at: DateTime<Utc>) -> Vec<TimelineEvent> {
    vec![
        TimelineEvent { key: "SUBMITTED".into(), label: "Submitted".into(), occurred_at: at, detail: None },
        TimelineEvent {
            key: "ENGINE_ACCEPTED".into(),
            label: "Engine accepted".into(),
            occurred_at: at + Duration::milliseconds(5),
            detail: None,
        },
    ]
}

pub fn bundle(record: DeploymentRecord) -> RecordBundle {
    let at = record.created_at;
    let failures = if record.state == DeploymentState::Failed { vec![failure(at)] } else { Vec::new() };
    RecordBundle { record, policy_snapshot: serde_json::json!({}), failures, timeline: timeline(at) }
}
