//! Writing audit events for use cases: one place that stamps actor, role
//! and request id, so no path can forget them.

use uuid::Uuid;

use super::{Caller, Services};
use crate::domain::{
    catalog::{AuditEvent, AuditOutcome},
    DomainError,
};

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

    /// Audits a refusal as DENIED with its code in the summary.
    pub(crate) async fn audit_denial(&self, caller: &Caller, subject: &AuditSubject, err: &DomainError) {
        self.metrics.refusal(err.code.as_str());
        let summary = format!("{} denied: {} ({})", subject.event_type, err.code, err.message);
        let event = self.audit_event(caller, subject, AuditOutcome::Denied, summary);
        self.record_audit(event).await;
    }
}
