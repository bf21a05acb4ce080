//! `dxcp seed-history --records N`: a realistic deployment history for the
//! demo catalogue, for benchmarks and demos.
//!
//! N records over the last 90 days across every (service, environment) of
//! the catalogue's groups: about 88% succeeded, 8% failed (each with a
//! failure), 2% canceled, 2% rolled back, and 5% rollbacks. Each
//! (service, environment) timeline is generated in order so supersession
//! and rollbacks are consistent (exactly one current success per pair);
//! every record has its submit audit event and a short timeline. Rows are
//! written in batched transactions with multi-row inserts.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::{
    domain::{
        audit::{AuditEvent, AuditOutcome},
        deployment::{
            DeploymentKind, DeploymentOutcome, DeploymentRecord, DeploymentState, EngineType, Failure, FailureCategory,
            TimelineEvent,
        },
        Role,
    },
    store::{deployments::RecordBundle, Store, StoreError},
};

/// Days of history generated.
pub const HISTORY_DAYS: i64 = 90;
/// Records written per transaction.
const BATCH: usize = 5_000;

/// What one generated record ends as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Succeeded,
    Failed,
    Canceled,
    /// A roll-forward success that a later rollback undoes.
    RolledBack,
    Rollback,
}

/// Draws a fate with the target mix: 5% rollbacks; of the rest about 88/8/2/2.
fn draw_fate(rng: &mut fastrand::Rng) -> Fate {
    match rng.u32(0..1000) {
        0..50 => Fate::Rollback,
        50..130 => Fate::Failed,
        130..150 => Fate::Canceled,
        150..170 => Fate::RolledBack,
        _ => Fate::Succeeded,
    }
}

/// One deployable (service, environment) with what the records freeze.
#[derive(Debug, Clone)]
struct Lane {
    service: String,
    environment: String,
    group: String,
    recipe_id: String,
    recipe_revision: i32,
    summary: String,
    application: String,
    deploy_pipeline: String,
    rollback_pipeline: String,
    versions: Vec<(String, String)>,
}

/// Generates and writes `records` deployments; returns how many were written.
pub async fn seed_history(store: &Store, records: usize, seed: u64, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let lanes = lanes(store).await?;
    if lanes.is_empty() || records == 0 {
        return Ok(0);
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut bundles = generate(&lanes, records, now, &mut rng);
    // Written oldest first, like a real history.
    bundles.sort_by_key(|(b, _)| (b.record.created_at, b.record.id));
    let mut written = 0;
    for chunk in bundles.chunks(BATCH) {
        let (records, audits): (Vec<RecordBundle>, Vec<AuditEvent>) = chunk.iter().cloned().unzip();
        store.insert_history(&records).await?;
        store.append_audit_batch(&audits).await?;
        written += records.len();
        tracing::info!(written, total = bundles.len(), "seeding history");
    }
    Ok(written)
}

async fn lanes(store: &Store) -> Result<Vec<Lane>, StoreError> {
    let recipes: HashMap<String, _> = store.recipes().await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let mut lanes = Vec::new();
    for group in store.delivery_groups().await? {
        let Some(recipe) = group.default_recipe_id.as_ref().and_then(|id| recipes.get(id)) else {
            continue;
        };
        for service in &group.services {
            let mut versions = Vec::new();
            let mut page = crate::domain::page::PageRequest::new(100, None);
            loop {
                let builds = store.builds_page(service, &page).await?;
                let last = builds
                    .items
                    .last()
                    .map(|b| crate::domain::page::Keyset { at: b.registered_at, id: b.registration.version.clone() });
                versions.extend(
                    builds
                        .items
                        .into_iter()
                        .filter(|b| !b.registration.version.contains("fail"))
                        .map(|b| (b.registration.version, b.registration.artifact_ref)),
                );
                match (builds.has_next_page, last) {
                    (true, Some(after)) => page = crate::domain::page::PageRequest::new(100, Some(after)),
                    _ => break,
                }
            }
            if versions.is_empty() {
                continue;
            }
            for environment in &group.allowed_environments {
                lanes.push(Lane {
                    service: service.clone(),
                    environment: environment.clone(),
                    group: group.id.clone(),
                    recipe_id: recipe.id.clone(),
                    recipe_revision: recipe.revision,
                    summary: recipe.effective_behavior_summary.clone(),
                    application: recipe.spinnaker_application.clone(),
                    deploy_pipeline: recipe.deploy_pipeline.clone(),
                    rollback_pipeline: recipe.rollback_pipeline.clone(),
                    versions: versions.clone(),
                });
            }
        }
    }
    Ok(lanes)
}

fn generate(
    lanes: &[Lane],
    records: usize,
    now: DateTime<Utc>,
    rng: &mut fastrand::Rng,
) -> Vec<(RecordBundle, AuditEvent)> {
    let span_ms = Duration::days(HISTORY_DAYS).num_milliseconds();
    let start = now - Duration::days(HISTORY_DAYS);
    let mut out = Vec::with_capacity(records);
    for (index, lane) in lanes.iter().enumerate() {
        let count = records / lanes.len() + usize::from(index < records % lanes.len());
        let mut times: Vec<DateTime<Utc>> =
            (0..count).map(|_| start + Duration::milliseconds(rng.i64(0..span_ms))).collect();
        times.sort();
        out.extend(generate_lane(lane, &times, rng));
    }
    out
}

/// One lane's records in time order, keeping supersession consistent: the
/// newest success is the only one whose outcome is SUCCEEDED.
fn generate_lane(lane: &Lane, times: &[DateTime<Utc>], rng: &mut fastrand::Rng) -> Vec<(RecordBundle, AuditEvent)> {
    let mut out: Vec<(RecordBundle, AuditEvent)> = Vec::with_capacity(times.len());
    // Index in `out` of the current success, and of the success before it.
    let mut current: Option<usize> = None;
    let mut previous: Option<usize> = None;
    for &at in times {
        let mut fate = draw_fate(rng);
        if fate == Fate::Rollback && (current.is_none() || previous.is_none()) {
            fate = Fate::Succeeded;
        }
        let version = lane.versions[rng.usize(0..lane.versions.len())].clone();
        let mut record = new_record(lane, at, &version);
        let mut failures = Vec::new();
        match fate {
            Fate::Failed => {
                record.state = DeploymentState::Failed;
                record.outcome = Some(DeploymentOutcome::Failed);
                failures.push(Failure {
                    category: FailureCategory::App,
                    summary: "Health check failed: container exited with code 1".into(),
                    detail: Some("readiness probe failed 3 times".into()),
                    action_hint: Some("Check the application logs and its health endpoint.".into()),
                    observed_at: at + Duration::seconds(90),
                });
            }
            Fate::Canceled => {
                record.state = DeploymentState::Canceled;
                record.outcome = Some(DeploymentOutcome::Canceled);
            }
            Fate::Rollback => {
                let (Some(target), Some(restore)) = (current, previous) else { continue };
                record.kind = DeploymentKind::Rollback;
                record.rollback_of = Some(out[target].0.record.id);
                record.version = out[restore].0.record.version.clone();
                record.artifact_ref = out[restore].0.record.artifact_ref.clone();
                let undone = &mut out[target].0.record;
                undone.state = DeploymentState::RolledBack;
                undone.outcome = Some(DeploymentOutcome::RolledBack);
                undone.updated_at = at;
            }
            Fate::Succeeded | Fate::RolledBack => {}
        }
        if record.state == DeploymentState::Succeeded {
            if let Some(index) = current {
                let superseded = &mut out[index].0.record;
                if superseded.outcome == Some(DeploymentOutcome::Succeeded) {
                    superseded.outcome = Some(DeploymentOutcome::Superseded);
                    superseded.superseded_by = Some(record.id);
                }
            }
            previous = if fate == Fate::Rollback { previous.filter(|p| Some(*p) != current) } else { current };
            current = Some(out.len());
        }
        let audit = submit_audit(&record);
        let timeline = timeline(&record);
        out.push((RecordBundle { record, policy_snapshot: serde_json::json!({}), failures, timeline }, audit));
    }
    out
}

fn new_record(lane: &Lane, at: DateTime<Utc>, version: &(String, String)) -> DeploymentRecord {
    let id = Uuid::new_v4();
    let finished = at + Duration::seconds(120);
    DeploymentRecord {
        id,
        service: lane.service.clone(),
        environment: lane.environment.clone(),
        version: version.0.clone(),
        recipe_id: lane.recipe_id.clone(),
        recipe_revision: lane.recipe_revision,
        effective_behavior_summary: lane.summary.clone(),
        state: DeploymentState::Succeeded,
        kind: DeploymentKind::RollForward,
        outcome: Some(DeploymentOutcome::Succeeded),
        change_summary: format!("Release {} of {}", version.0, lane.service),
        created_at: at,
        updated_at: finished,
        delivery_group_id: lane.group.clone(),
        created_by: "owner".into(),
        rollback_of: None,
        superseded_by: None,
        engine_type: EngineType::Simulated,
        engine_execution_id: Some(format!("sim-{id}")),
        engine_execution_url: Some(format!("simulated://executions/sim-{id}")),
        spinnaker_application: lane.application.clone(),
        deploy_pipeline: lane.deploy_pipeline.clone(),
        rollback_pipeline: lane.rollback_pipeline.clone(),
        artifact_ref: Some(version.1.clone()),
        last_engine_contact_at: Some(finished),
        source_environment: None,
    }
}

fn timeline(record: &DeploymentRecord) -> Vec<TimelineEvent> {
    let (key, label) = crate::domain::state_machine::timeline_entry(record.state);
    vec![
        TimelineEvent {
            key: "SUBMITTED".into(),
            label: "Submitted".into(),
            occurred_at: record.created_at,
            detail: None,
        },
        TimelineEvent { key: key.into(), label: label.into(), occurred_at: record.updated_at, detail: None },
    ]
}

fn submit_audit(record: &DeploymentRecord) -> AuditEvent {
    let event_type = record.kind.submit_event_type();
    AuditEvent {
        id: Uuid::new_v4(),
        event_type: event_type.into(),
        actor_id: record.created_by.clone(),
        actor_role: Role::DeliveryOwner,
        target_type: "DEPLOYMENT".into(),
        target_id: record.id.to_string(),
        timestamp: record.created_at,
        outcome: AuditOutcome::Success,
        summary: format!("{event_type} {} {} to {}", record.service, record.version, record.environment),
        delivery_group_id: Some(record.delivery_group_id.clone()),
        service_name: Some(record.service.clone()),
        environment: Some(record.environment.clone()),
        request_id: None,
        changes: Vec::new(),
        repeat_count: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane() -> Lane {
        Lane {
            service: "svc".into(),
            environment: "sandbox".into(),
            group: "g".into(),
            recipe_id: "standard".into(),
            recipe_revision: 1,
            summary: "s".into(),
            application: "a".into(),
            deploy_pipeline: "d".into(),
            rollback_pipeline: "r".into(),
            versions: vec![("1.0.0".into(), "s3://b/1".into()), ("1.1.0".into(), "s3://b/2".into())],
        }
    }

    #[test]
    fn a_lane_has_exactly_one_current_success_and_the_target_mix() {
        let mut rng = fastrand::Rng::with_seed(7);
        let now = Utc::now();
        let times: Vec<_> = (0..10_000).map(|i| now - Duration::minutes(10_000 - i)).collect();
        let out = generate_lane(&lane(), &times, &mut rng);
        let current = out.iter().filter(|(b, _)| b.record.outcome == Some(DeploymentOutcome::Succeeded)).count();
        assert_eq!(current, 1);
        let share = |pred: &dyn Fn(&DeploymentRecord) -> bool| {
            out.iter().filter(|(b, _)| pred(&b.record)).count() as f64 / out.len() as f64
        };
        let failed = share(&|r| r.state == DeploymentState::Failed);
        let rollbacks = share(&|r| r.kind == DeploymentKind::Rollback);
        assert!((0.06..0.10).contains(&failed), "failed {failed}");
        assert!((0.03..0.07).contains(&rollbacks), "rollbacks {rollbacks}");
        assert!(out
            .iter()
            .filter(|(b, _)| b.record.state == DeploymentState::Failed)
            .all(|(b, _)| b.failures.len() == 1));
        for (bundle, _) in out.iter().filter(|(b, _)| b.record.kind == DeploymentKind::Rollback) {
            let target = bundle.record.rollback_of.expect("target");
            let target = out.iter().find(|(b, _)| b.record.id == target).expect("target exists");
            assert_eq!(target.0.record.state, DeploymentState::RolledBack);
        }
    }
}
