//! Catalogue and administration types: services, builds, environments,
//! recipes, delivery groups, audit events and system settings (DESIGN §2).

use chrono::{DateTime, Utc};

use super::{deployment::string_enum, Role};

string_enum!(
    /// Whether an environment is production.
    EnvironmentType { NonProd => "NON_PROD", Prod => "PROD" }
);

string_enum!(
    /// Whether a recipe may be used for new deployments.
    RecipeStatus { Active => "ACTIVE", Deprecated => "DEPRECATED" }
);

string_enum!(
    /// How an audited attempt ended.
    AuditOutcome { Success => "SUCCESS", Denied => "DENIED", Failed => "FAILED" }
);

/// Default per-(group, environment) guardrails (DESIGN §2 DeliveryGroup).
pub const DEFAULT_MAX_CONCURRENT_DEPLOYMENTS: i32 = 1;
pub const DEFAULT_DAILY_DEPLOY_QUOTA: i32 = 25;
pub const DEFAULT_DAILY_ROLLBACK_QUOTA: i32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub description: Option<String>,
    pub delivery_group_id: Option<String>,
    /// Empty means every recipe is compatible.
    pub compatible_recipes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    pub display_name: String,
    pub env_type: EnvironmentType,
    pub promotion_order: Option<i32>,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: RecipeStatus,
    pub revision: i32,
    pub effective_behavior_summary: String,
    pub spinnaker_application: String,
    pub deploy_pipeline: String,
    pub rollback_pipeline: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub last_change_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guardrails {
    pub max_concurrent_deployments: i32,
    pub daily_deploy_quota: i32,
    pub daily_rollback_quota: i32,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            max_concurrent_deployments: DEFAULT_MAX_CONCURRENT_DEPLOYMENTS,
            daily_deploy_quota: DEFAULT_DAILY_DEPLOY_QUOTA,
            daily_rollback_quota: DEFAULT_DAILY_ROLLBACK_QUOTA,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub members: Vec<String>,
    pub services: Vec<String>,
    pub allowed_recipes: Vec<String>,
    pub allowed_environments: Vec<String>,
    pub default_recipe_id: Option<String>,
    pub guardrails: Guardrails,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub last_change_reason: Option<String>,
}

impl DeliveryGroup {
    pub fn has_member(&self, actor_id: &str) -> bool {
        self.members.iter().any(|m| m == actor_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub service: String,
    pub version: String,
    pub artifact_ref: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub git_sha: String,
    pub git_branch: String,
    pub ci_provider: String,
    pub ci_run_id: String,
    pub built_at: DateTime<Utc>,
    pub repo: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub registered_by: String,
}

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

/// Rate limits (requests per minute per caller) must stay within this range.
pub const RPM_RANGE: std::ops::RangeInclusive<i32> = 1..=100_000;

/// Process-independent settings kept in the database (DESIGN §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemSettings {
    pub mutations_disabled: bool,
    pub read_rpm: i32,
    pub mutate_rpm: i32,
    pub daily_build_register_quota: i32,
    pub ci_publishers: Vec<String>,
}
