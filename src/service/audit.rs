//! Writing audit events for use cases: one place that stamps actor, role
//! and request id, so no path can forget them, and where refusals pass
//! through burst aggregation (`audit_burst`). Caller text is bounded where
//! the row is built (`store::audit`, `AuditEvent::bounded`).

use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{audit_burst::Verdict, Caller, Services};
use crate::domain::{
    audit::{AuditEvent, AuditOutcome},
    DomainError,
};

/// Bounds of the burst flush timer's period (a quarter of the window).
const MIN_FLUSH_TICK: Duration = Duration::from_millis(10);
const MAX_FLUSH_TICK: Duration = Duration::from_secs(1);

/// What an audit event is about.
#[derive(Debug, Clone, Default)]
pub struct AuditSubject {
    pub event_type: &'static str,
    pub target_type: &'static str,
    pub target_id: String,
    pub delivery_group_id: Option<String>,
    pub service_name: Option<String>,
    pub environment: Option<String>,
}

impl Services {
    pub(crate) fn audit_event(
        &self,
        caller: &Caller,
        subject: &AuditSubject,
        outcome: AuditOutcome,
        summary: String,
    ) -> AuditEvent {
        AuditEvent {
            id: Uuid::now_v7(),
            event_type: subject.event_type.to_owned(),
            actor_id: caller.principal.actor_id.clone(),
            actor_role: caller.principal.role,
            target_type: subject.target_type.to_owned(),
            target_id: subject.target_id.clone(),
            timestamp: self.now(),
            outcome,
            summary,
            delivery_group_id: subject.delivery_group_id.clone(),
            service_name: subject.service_name.clone(),
            environment: subject.environment.clone(),
            request_id: Some(caller.request_id.clone()),
            changes: Vec::new(),
            repeat_count: 1,
        }
    }

    /// Writes one audit event. A refusal must never go unrecorded, so a
    /// failed write is logged loudly with everything needed to rebuild it.
    pub(crate) async fn record_audit(&self, event: AuditEvent) {
        if let Err(err) = self.store.append_audit(&event).await {
            tracing::error!(
                error = %err,
                event_type = %event.event_type,
                actor = %event.actor_id,
                outcome = %event.outcome,
                summary = %event.summary,
                "audit event could not be written"
            );
        }
    }

    /// Audits a refusal as DENIED with its code in the summary; within a
    /// burst of identical refusals, only counts it (`audit_burst`).
    pub(crate) async fn audit_denial(&self, caller: &Caller, subject: &AuditSubject, err: &DomainError) {
        self.metrics.refusal(err.code.as_str());
        let summary = format!("{} denied: {} ({})", subject.event_type, err.code, err.message);
        let event = self.audit_event(caller, subject, AuditOutcome::Denied, summary);
        let verdict = match self.bursts.lock() {
            Ok(mut bursts) => bursts.observe(&event, err.code, &err.message, Instant::now()),
            Err(_) => Verdict { write: true, closed: None },
        };
        if let Some(aggregate) = verdict.closed {
            self.record_audit(aggregate).await;
        }
        if verdict.write {
            self.record_audit(event).await;
        } else {
            tracing::info!(actor = %event.actor_id, code = %err.code, event_type = %event.event_type, "refusal counted in an audit burst");
        }
    }

    /// Writes the aggregates of the bursts whose window has closed, or of
    /// every open burst when `all` (graceful shutdown). Returns how many
    /// aggregates were written.
    pub async fn flush_audit_bursts(&self, all: bool) -> usize {
        let aggregates = match self.bursts.lock() {
            Ok(mut bursts) if all => bursts.close_all(),
            Ok(mut bursts) => bursts.close_due(Instant::now()),
            Err(_) => Vec::new(),
        };
        let written = aggregates.len();
        for aggregate in aggregates {
            self.record_audit(aggregate).await;
        }
        written
    }

    /// Starts the timer that writes closed bursts, a few times per window.
    /// The task runs until the handle is aborted (`Application` does, at
    /// shutdown, before it flushes what is still open).
    pub fn spawn_audit_burst_flusher(&self) -> tokio::task::JoinHandle<()> {
        let services = self.clone();
        let tick = (self.policy.audit_burst_window / 4).clamp(MIN_FLUSH_TICK, MAX_FLUSH_TICK);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                services.flush_audit_bursts(false).await;
            }
        })
    }
}
