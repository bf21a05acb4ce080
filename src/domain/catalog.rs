//! The catalogue: services, environments, recipes and delivery groups
//! (DESIGN §2). Builds, audit events and settings have their own modules.

use chrono::{DateTime, Utc};

use super::deployment::string_enum;

string_enum!(
    /// Whether an environment is production.
    EnvironmentType { NonProd => "NON_PROD", Prod => "PROD" }
);

string_enum!(
    /// Whether a recipe may be used for new deployments.
    RecipeStatus { Active => "ACTIVE", Deprecated => "DEPRECATED" }
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
