//! The audit log's entries and filters (DESIGN §2 AuditEvent).

use chrono::{DateTime, Utc};

use super::{deployment::string_enum, Role};

string_enum!(
    /// How an audited attempt ended.
    AuditOutcome { Success => "SUCCESS", Denied => "DENIED", Failed => "FAILED" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// An append-only audit entry (DESIGN §2 AuditEvent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: uuid::Uuid,
    pub event_type: String,
    pub actor_id: String,
    pub actor_role: Role,
    pub target_type: String,
    pub target_id: String,
    pub timestamp: DateTime<Utc>,
    pub outcome: AuditOutcome,
    pub summary: String,
    pub delivery_group_id: Option<String>,
    pub service_name: Option<String>,
    pub environment: Option<String>,
    pub request_id: Option<String>,
    pub changes: Vec<FieldChange>,
    /// How many identical events this one stands for: 1, or the size of an
    /// aggregated burst of refusals (`service::audit_burst`).
    pub repeat_count: i32,
}

/// Filters of the audit log (GraphQL `AuditEventFilter`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub event_type: Option<String>,
    pub actor_id: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub delivery_group_id: Option<String>,
    pub service_name: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}
