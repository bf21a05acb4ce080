//! `AuditEvent` and `FieldChange`.

use async_graphql::{Enum, SimpleObject, ID};

use super::catalog::Role;
use crate::{domain::audit as domain, graphql::scalars::DateTime};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::audit::AuditOutcome")]
pub enum AuditOutcome {
    Success,
    Denied,
    Failed,
}

/// One changed field of an administrative change; values as text.
#[derive(SimpleObject, Clone)]
pub struct FieldChange {
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// An append-only record of who did (or tried) what.
#[derive(SimpleObject, Clone)]
pub struct AuditEvent {
    pub id: ID,
    pub event_type: String,
    pub actor_id: String,
    pub actor_role: Role,
    pub target_type: String,
    pub target_id: String,
    pub timestamp: DateTime,
    pub outcome: AuditOutcome,
    pub summary: String,
    pub delivery_group_id: Option<ID>,
    pub service_name: Option<String>,
    pub environment: Option<String>,
    pub request_id: Option<String>,
    pub changes: Vec<FieldChange>,
    /// How many identical events this one stands for: 1, or, for the
    /// aggregate of a burst of identical refusals, how many refusals it
    /// counts that were not written one by one (its summary says so).
    pub repeat_count: i32,
}

impl From<domain::AuditEvent> for AuditEvent {
    fn from(e: domain::AuditEvent) -> Self {
        Self {
            id: ID(e.id.to_string()),
            event_type: e.event_type,
            actor_id: e.actor_id,
            actor_role: e.actor_role.into(),
            target_type: e.target_type,
            target_id: e.target_id,
            timestamp: e.timestamp.into(),
            outcome: e.outcome.into(),
            summary: e.summary,
            delivery_group_id: e.delivery_group_id.map(ID),
            service_name: e.service_name,
            environment: e.environment,
            request_id: e.request_id,
            changes: e
                .changes
                .into_iter()
                .map(|c| FieldChange { field: c.field, old_value: c.old_value, new_value: c.new_value })
                .collect(),
            repeat_count: e.repeat_count,
        }
    }
}
