//! History and audit filters.

use async_graphql::{InputObject, ID};

use crate::{
    domain::{audit::AuditFilter, deployment::DeploymentFilter as DomainFilter},
    graphql::{
        scalars::DateTime,
        types::{
            audit::AuditOutcome,
            deployment::{DeploymentKind, DeploymentOutcome, DeploymentState},
        },
    },
};

/// Narrows the deployment history; every given field must match.
#[derive(InputObject, Default)]
pub struct DeploymentFilter {
    pub service: Option<String>,
    pub environment: Option<String>,
    pub state: Option<DeploymentState>,
    /// `SUCCEEDED` matches only the current success of each service and environment.
    pub outcome: Option<DeploymentOutcome>,
    pub deployment_kind: Option<DeploymentKind>,
    pub delivery_group_id: Option<ID>,
    /// Created strictly after this instant.
    pub created_after: Option<DateTime>,
    /// Created strictly before this instant.
    pub created_before: Option<DateTime>,
}

impl From<DeploymentFilter> for DomainFilter {
    fn from(f: DeploymentFilter) -> Self {
        Self {
            service: f.service,
            environment: f.environment,
            state: f.state.map(Into::into),
            outcome: f.outcome.map(Into::into),
            kind: f.deployment_kind.map(Into::into),
            delivery_group_id: f.delivery_group_id.map(|id| id.0),
            created_after: f.created_after.map(|t| t.0),
            created_before: f.created_before.map(|t| t.0),
        }
    }
}

/// Narrows the audit log; every given field must match.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    pub event_type: Option<String>,
    pub actor_id: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub delivery_group_id: Option<ID>,
    pub service_name: Option<String>,
    /// At or after this instant.
    pub since: Option<DateTime>,
    /// Strictly before this instant.
    pub until: Option<DateTime>,
}

impl From<AuditEventFilter> for AuditFilter {
    fn from(f: AuditEventFilter) -> Self {
        Self {
            event_type: f.event_type,
            actor_id: f.actor_id,
            target_type: f.target_type,
            target_id: f.target_id,
            outcome: f.outcome.map(Into::into),
            delivery_group_id: f.delivery_group_id.map(|id| id.0),
            service_name: f.service_name,
            since: f.since.map(|t| t.0),
            until: f.until.map(|t| t.0),
        }
    }
}
