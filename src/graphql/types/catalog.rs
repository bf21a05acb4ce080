//! Catalogue types: services, environments, recipes, delivery groups,
//! builds, the viewer and system settings.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};

use super::admin_only;
use crate::{
    domain::{catalog as domain, Principal},
    graphql::scalars::DateTime,
};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::Role")]
pub enum Role {
    PlatformAdmin,
    DeliveryOwner,
    Observer,
    CiPublisher,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::catalog::RecipeStatus")]
pub enum RecipeStatus {
    Active,
    Deprecated,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::catalog::EnvironmentType")]
pub enum EnvironmentType {
    NonProd,
    Prod,
}

/// The authenticated caller.
#[derive(SimpleObject)]
pub struct Viewer {
    pub actor_id: String,
    pub role: Role,
    /// The delivery groups whose members include this caller.
    pub delivery_groups: Vec<DeliveryGroup>,
}

impl Viewer {
    pub fn new(principal: &Principal, groups: Vec<domain::DeliveryGroup>) -> Self {
        Self {
            actor_id: principal.actor_id.clone(),
            role: principal.role.into(),
            delivery_groups: groups.into_iter().map(DeliveryGroup::from).collect(),
        }
    }
}

/// An allowlisted deployable unit.
#[derive(SimpleObject)]
pub struct Service {
    pub name: String,
    pub description: Option<String>,
    pub delivery_group_id: Option<ID>,
    /// Empty means every recipe is compatible.
    pub compatible_recipes: Vec<ID>,
}

impl From<domain::Service> for Service {
    fn from(s: domain::Service) -> Self {
        Self {
            name: s.name,
            description: s.description,
            delivery_group_id: s.delivery_group_id.map(ID),
            compatible_recipes: s.compatible_recipes.into_iter().map(ID).collect(),
        }
    }
}

#[derive(SimpleObject)]
pub struct Environment {
    /// Canonical name used in intents.
    pub name: String,
    pub display_name: String,
    #[graphql(name = "type")]
    pub env_type: EnvironmentType,
    pub promotion_order: Option<i32>,
    pub enabled: bool,
}

impl From<domain::Environment> for Environment {
    fn from(e: domain::Environment) -> Self {
        Self {
            name: e.name,
            display_name: e.display_name,
            env_type: e.env_type.into(),
            promotion_order: e.promotion_order,
            enabled: e.enabled,
        }
    }
}

/// An approved delivery pattern. Engine mapping fields are PLATFORM_ADMIN only.
pub struct Recipe(pub domain::Recipe);

#[Object]
impl Recipe {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn status(&self) -> RecipeStatus {
        self.0.status.into()
    }
    /// Starts at 1 and grows by one on every change.
    async fn revision(&self) -> i32 {
        self.0.revision
    }
    async fn effective_behavior_summary(&self) -> &str {
        &self.0.effective_behavior_summary
    }
    /// PLATFORM_ADMIN only.
    async fn spinnaker_application(&self, ctx: &Context<'_>) -> Option<&str> {
        admin_only(ctx, Some(self.0.spinnaker_application.as_str())).await
    }
    /// PLATFORM_ADMIN only.
    async fn deploy_pipeline(&self, ctx: &Context<'_>) -> Option<&str> {
        admin_only(ctx, Some(self.0.deploy_pipeline.as_str())).await
    }
    /// PLATFORM_ADMIN only.
    async fn rollback_pipeline(&self, ctx: &Context<'_>) -> Option<&str> {
        admin_only(ctx, Some(self.0.rollback_pipeline.as_str())).await
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
    async fn updated_by(&self) -> &str {
        &self.0.updated_by
    }
    async fn last_change_reason(&self) -> Option<&str> {
        self.0.last_change_reason.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct Guardrails {
    pub max_concurrent_deployments: i32,
    pub daily_deploy_quota: i32,
    pub daily_rollback_quota: i32,
}

/// The policy boundary: who may deploy which services where, and how much.
#[derive(SimpleObject)]
pub struct DeliveryGroup {
    pub id: ID,
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    /// Actor ids allowed to deploy this group's services.
    pub members: Vec<String>,
    pub services: Vec<String>,
    pub allowed_recipes: Vec<ID>,
    pub allowed_environments: Vec<String>,
    pub default_recipe_id: Option<ID>,
    pub guardrails: Guardrails,
    pub created_at: DateTime,
    pub created_by: String,
    pub updated_at: DateTime,
    pub updated_by: String,
    pub last_change_reason: Option<String>,
}

impl From<domain::DeliveryGroup> for DeliveryGroup {
    fn from(g: domain::DeliveryGroup) -> Self {
        Self {
            id: ID(g.id),
            name: g.name,
            description: g.description,
            owner: g.owner,
            members: g.members,
            services: g.services,
            allowed_recipes: g.allowed_recipes.into_iter().map(ID).collect(),
            allowed_environments: g.allowed_environments,
            default_recipe_id: g.default_recipe_id.map(ID),
            guardrails: Guardrails {
                max_concurrent_deployments: g.guardrails.max_concurrent_deployments,
                daily_deploy_quota: g.guardrails.daily_deploy_quota,
                daily_rollback_quota: g.guardrails.daily_rollback_quota,
            },
            created_at: g.created_at.into(),
            created_by: g.created_by,
            updated_at: g.updated_at.into(),
            updated_by: g.updated_by,
            last_change_reason: g.last_change_reason,
        }
    }
}

/// A registered, deployable version of a service.
#[derive(SimpleObject, Clone)]
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
    pub built_at: DateTime,
    pub repo: Option<String>,
    pub registered_at: DateTime,
    pub registered_by: String,
}

impl From<crate::domain::build::Build> for Build {
    fn from(build: crate::domain::build::Build) -> Self {
        let b = build.registration;
        Self {
            service: b.service,
            version: b.version,
            artifact_ref: b.artifact_ref,
            sha256: b.sha256,
            size_bytes: b.size_bytes,
            content_type: b.content_type,
            git_sha: b.git_sha,
            git_branch: b.git_branch,
            ci_provider: b.ci_provider,
            ci_run_id: b.ci_run_id,
            built_at: b.built_at.into(),
            repo: b.repo,
            registered_at: build.registered_at.into(),
            registered_by: build.registered_by,
        }
    }
}

#[derive(SimpleObject)]
pub struct SystemSettings {
    /// The kill switch: when true every mutation but the one turning it off is refused.
    pub mutations_disabled: bool,
    pub read_rpm: i32,
    pub mutate_rpm: i32,
    pub daily_build_register_quota: i32,
    pub ci_publishers: Vec<String>,
    /// Whether a promotion may skip environments on the promotion path.
    pub promotion_allow_jumps: bool,
}

impl From<crate::domain::settings::SystemSettings> for SystemSettings {
    fn from(s: crate::domain::settings::SystemSettings) -> Self {
        Self {
            mutations_disabled: s.mutations_disabled,
            read_rpm: s.read_rpm,
            mutate_rpm: s.mutate_rpm,
            daily_build_register_quota: s.daily_build_register_quota,
            promotion_allow_jumps: s.promotion_allow_jumps,
            ci_publishers: s.ci_publishers,
        }
    }
}
