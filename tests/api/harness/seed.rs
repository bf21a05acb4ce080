//! Builds realistic history rows for read-side tests, written straight
//! through the store (the deploy path is tested on its own).

use chrono::{DateTime, Duration, Utc};
use dxcp::{
    domain::{
        audit::{AuditEvent, AuditOutcome},
        deployment::{
            DeploymentKind, DeploymentOutcome, DeploymentRecord, DeploymentState, EngineType, Failure, FailureCategory,
            TimelineEvent,
        },
        Role,
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
        source_environment: None,
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

/// A fixed instant that seeded history counts back from, so timestamps are
/// reproducible and well before anything the server writes itself.
pub fn base_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-02-01T12:00:00Z").expect("valid instant").with_timezone(&Utc)
}

/// The demo catalogue's delivery group of a demo service.
pub fn group_of(service: &str) -> &'static str {
    match service {
        "payments-api" | "ledger" => "payments",
        "checkout-web" | "catalog-api" => "storefront",
        other => panic!("{other} is not a demo service"),
    }
}

/// `record` with a given terminal state and outcome.
pub fn finished(
    service: &str,
    environment: &str,
    created_at: DateTime<Utc>,
    state: DeploymentState,
    outcome: DeploymentOutcome,
) -> DeploymentRecord {
    let mut r = record(service, environment, group_of(service), created_at);
    r.state = state;
    r.outcome = Some(outcome);
    r
}

/// The current success of `service` in `environment`.
pub fn succeeded(service: &str, environment: &str, created_at: DateTime<Utc>) -> DeploymentRecord {
    finished(service, environment, created_at, DeploymentState::Succeeded, DeploymentOutcome::Succeeded)
}

/// A failed deployment; `bundle` gives it one failure.
pub fn failed(service: &str, environment: &str, created_at: DateTime<Utc>) -> DeploymentRecord {
    finished(service, environment, created_at, DeploymentState::Failed, DeploymentOutcome::Failed)
}

/// Writes `records` (with their failures and timelines) through the store.
pub async fn insert(app: &super::TestApp, records: &[DeploymentRecord]) {
    let bundles: Vec<RecordBundle> = records.iter().cloned().map(bundle).collect();
    app.services.store().insert_history(&bundles).await.expect("history is written");
}

/// A successful audit event with no group, service or changes.
pub fn audit_event(event_type: &str, actor_id: &str, timestamp: DateTime<Utc>) -> AuditEvent {
    AuditEvent {
        id: Uuid::new_v4(),
        event_type: event_type.to_owned(),
        actor_id: actor_id.to_owned(),
        actor_role: Role::PlatformAdmin,
        target_type: "SETTINGS".to_owned(),
        target_id: "system".to_owned(),
        timestamp,
        outcome: AuditOutcome::Success,
        summary: format!("{event_type} by {actor_id}"),
        delivery_group_id: None,
        service_name: None,
        environment: None,
        request_id: Some(Uuid::new_v4().to_string()),
        changes: Vec::new(),
        repeat_count: 1,
    }
}

/// Appends `events` to the audit log through the store.
pub async fn insert_audit(app: &super::TestApp, events: &[AuditEvent]) {
    for event in events {
        app.services.store().append_audit(event).await.expect("audit event is written");
    }
}
