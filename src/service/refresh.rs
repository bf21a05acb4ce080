//! Refreshing in-flight records from the engine (DESIGN §5 refresh, §10).
//!
//! Only `deployment(id)`, a subscription to it, and admission (before
//! counting concurrency) refresh; lists never call the engine and terminal
//! records are never asked again. A refresh writes only when something
//! changed; an engine read that fails changes nothing unless the record has
//! gone stale.

use chrono::Duration;
use uuid::Uuid;

use super::Services;
use crate::{
    domain::{
        deployment::{DeploymentKind, DeploymentRecord, DeploymentState, TimelineEvent},
        failure::{normalize, stale_failure},
        state_machine::{next_state, timeline_entry},
        DomainError,
    },
    engine::{ExecutionSnapshot, ExecutionStatus},
    store::lifecycle::Transition,
};

/// Grace on top of the engine timeout before a PENDING record with no
/// execution reference is taken for a crash between commit and trigger.
const PENDING_GRACE_SECONDS: i64 = 5;
/// A usable answer that changes nothing is written at most this often per
/// record (as a fraction of the stale window), so polling stays read-only.
const CONTACT_WRITE_DIVISOR: i32 = 10;

fn observed_state(status: &ExecutionStatus) -> Option<DeploymentState> {
    match status {
        ExecutionStatus::Active => Some(DeploymentState::Active),
        ExecutionStatus::InProgress => Some(DeploymentState::InProgress),
        ExecutionStatus::Succeeded => Some(DeploymentState::Succeeded),
        ExecutionStatus::Failed => Some(DeploymentState::Failed),
        ExecutionStatus::Canceled => Some(DeploymentState::Canceled),
        ExecutionStatus::Unknown(_) => None,
    }
}

impl Services {
    /// Brings an in-flight record up to date with the engine and returns it
    /// as stored afterwards. Terminal records are returned untouched.
    pub(crate) async fn refresh(&self, record: DeploymentRecord) -> Result<DeploymentRecord, DomainError> {
        if record.state.is_terminal() {
            return Ok(record);
        }
        let Some(execution_id) = record.engine_execution_id.clone() else {
            return self.fail_if_abandoned(record).await;
        };
        let snapshot = match self.engine.execution(&execution_id, &record.created_by).await {
            Ok(snapshot) => snapshot,
            Err(err) => {
                tracing::info!(deployment.id = %record.id, error = %err, "engine read failed; record unchanged");
                return self.fail_if_stale(record).await;
            }
        };
        let Some(to) = next_state(record.state, observed_state(&snapshot.status)) else {
            if matches!(snapshot.status, ExecutionStatus::Unknown(_)) {
                return self.fail_if_stale(record).await;
            }
            self.note_engine_contact(&record).await?;
            return Ok(record);
        };
        let transition = self.transition_from_snapshot(&record, to, &snapshot);
        self.store.apply_transition(&transition, None).await?;
        self.reload(record.id).await
    }

    /// Refreshes every in-flight record of a (group, environment), so a
    /// deployment the engine already finished frees its slot.
    pub(crate) async fn refresh_in_flight(&self, group_id: &str, environment: &str) -> Result<(), DomainError> {
        for id in self.store.in_flight_ids(group_id, environment).await? {
            if let Some(record) = self.store.deployment(id).await? {
                self.refresh(record).await?;
            }
        }
        Ok(())
    }

    /// The startup pass: fails records abandoned by a crash or silent for
    /// longer than the stale window, without asking the engine.
    pub async fn sweep_stale(&self) -> Result<usize, DomainError> {
        let mut failed = 0;
        for record in self.store.in_flight_records().await? {
            let before = record.state;
            let after = match record.engine_execution_id {
                None => self.fail_if_abandoned(record).await?,
                Some(_) => self.fail_if_stale(record).await?,
            };
            if after.state != before {
                failed += 1;
            }
        }
        Ok(failed)
    }

    pub(crate) async fn reload(&self, id: Uuid) -> Result<DeploymentRecord, DomainError> {
        self.store.deployment(id).await?.ok_or_else(|| DomainError::not_found("deployment", &id.to_string()))
    }

    fn transition_from_snapshot(
        &self,
        record: &DeploymentRecord,
        to: DeploymentState,
        snapshot: &ExecutionSnapshot,
    ) -> Transition {
        let now = self.now();
        let failure = (to == DeploymentState::Failed).then(|| {
            normalize(
                &snapshot.failure_messages,
                snapshot.failed_stage.as_deref(),
                record.kind == DeploymentKind::Rollback,
                now,
            )
        });
        let (key, label) = timeline_entry(to);
        Transition {
            id: record.id,
            from: record.state,
            to,
            at: now,
            execution: None,
            failure,
            timeline: vec![TimelineEvent { key: key.into(), label: label.into(), occurred_at: now, detail: None }],
            engine_contact: true,
        }
    }

    /// A usable answer that changed nothing: remember it (throttled).
    async fn note_engine_contact(&self, record: &DeploymentRecord) -> Result<(), DomainError> {
        let now = self.now();
        let throttle =
            Duration::from_std(self.policy.stale_after).unwrap_or(Duration::minutes(15)) / CONTACT_WRITE_DIVISOR;
        let last = record.last_engine_contact_at.unwrap_or(record.created_at);
        if now - last >= throttle {
            self.store.touch_engine_contact(record.id, now).await?;
        }
        Ok(())
    }

    /// In flight with no usable engine answer for the stale window: FAILED.
    async fn fail_if_stale(&self, record: DeploymentRecord) -> Result<DeploymentRecord, DomainError> {
        let now = self.now();
        let window = Duration::from_std(self.policy.stale_after).unwrap_or(Duration::minutes(15));
        let last = record.last_engine_contact_at.unwrap_or(record.created_at);
        if now - last <= window {
            return Ok(record);
        }
        self.fail_as_stale(record).await
    }

    /// PENDING with no execution reference for longer than an engine call
    /// can take: the process died between commit and trigger.
    async fn fail_if_abandoned(&self, record: DeploymentRecord) -> Result<DeploymentRecord, DomainError> {
        let now = self.now();
        let window = Duration::from_std(self.policy.engine_timeout).unwrap_or(Duration::seconds(10))
            + Duration::seconds(PENDING_GRACE_SECONDS);
        if record.state != DeploymentState::Pending || now - record.created_at <= window {
            return Ok(record);
        }
        self.fail_as_stale(record).await
    }

    async fn fail_as_stale(&self, record: DeploymentRecord) -> Result<DeploymentRecord, DomainError> {
        let now = self.now();
        tracing::warn!(deployment.id = %record.id, state = %record.state, "no terminal status observed; failing stale record");
        let transition = Transition {
            id: record.id,
            from: record.state,
            to: DeploymentState::Failed,
            at: now,
            execution: None,
            failure: Some(stale_failure(now)),
            timeline: vec![TimelineEvent {
                key: "STALE".into(),
                label: "No terminal status observed".into(),
                occurred_at: now,
                detail: None,
            }],
            engine_contact: false,
        };
        self.store.apply_transition(&transition, None).await?;
        self.reload(record.id).await
    }
}
