//! Inputs of the administrative and build mutations.

use async_graphql::{InputObject, ID};

use crate::{
    domain::admin::{
        EnvironmentInput as DomainEnvironment, GroupInput, RecipeInput as DomainRecipe, ServiceInput as DomainService,
        SettingsInput,
    },
    domain::build::BuildRegistration,
    graphql::{scalars::DateTime, types::catalog::EnvironmentType},
};

/// A build as CI describes it.
#[derive(InputObject)]
pub struct BuildInput {
    pub service: String,
    /// MAJOR.MINOR.PATCH with an optional -tag.
    pub version: String,
    /// `s3://bucket/key`
    pub artifact_ref: String,
    /// 64 hexadecimal characters.
    pub sha256: String,
    /// 1 to 209715200 (200 MiB).
    pub size_bytes: i64,
    /// `application/zip`, or `application/gzip` / `application/x-gzip` for tar.gz.
    pub content_type: String,
    pub git_sha: String,
    pub git_branch: String,
    pub ci_provider: String,
    pub ci_run_id: String,
    pub built_at: DateTime,
    pub repo: Option<String>,
}

impl From<BuildInput> for BuildRegistration {
    fn from(b: BuildInput) -> Self {
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
            built_at: b.built_at.0,
            repo: b.repo,
        }
    }
}

/// Per-(group, environment) limits; omitted ones take the defaults (1, 25, 10).
#[derive(InputObject, Default)]
pub struct GuardrailsInput {
    pub max_concurrent_deployments: Option<i32>,
    pub daily_deploy_quota: Option<i32>,
    pub daily_rollback_quota: Option<i32>,
}

/// A whole delivery group (create) or its replacement (update).
#[derive(InputObject)]
pub struct DeliveryGroupInput {
    pub id: ID,
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    /// Actor ids allowed to deploy; omitted on update keeps the current members.
    pub members: Option<Vec<String>>,
    pub services: Vec<String>,
    pub allowed_recipes: Vec<ID>,
    pub allowed_environments: Vec<String>,
    pub default_recipe_id: Option<ID>,
    pub guardrails: Option<GuardrailsInput>,
}

impl From<DeliveryGroupInput> for GroupInput {
    fn from(g: DeliveryGroupInput) -> Self {
        let guardrails = g.guardrails.unwrap_or_default();
        Self {
            id: g.id.0,
            name: g.name,
            description: g.description,
            owner: g.owner,
            members: g.members,
            services: g.services,
            allowed_recipes: g.allowed_recipes.into_iter().map(|id| id.0).collect(),
            allowed_environments: g.allowed_environments,
            default_recipe_id: g.default_recipe_id.map(|id| id.0),
            max_concurrent_deployments: guardrails.max_concurrent_deployments,
            daily_deploy_quota: guardrails.daily_deploy_quota,
            daily_rollback_quota: guardrails.daily_rollback_quota,
        }
    }
}

#[derive(InputObject)]
pub struct RecipeInput {
    pub id: ID,
    pub name: String,
    pub description: Option<String>,
    pub effective_behavior_summary: String,
    pub spinnaker_application: String,
    pub deploy_pipeline: String,
    pub rollback_pipeline: String,
}

impl From<RecipeInput> for DomainRecipe {
    fn from(r: RecipeInput) -> Self {
        Self {
            id: r.id.0,
            name: r.name,
            description: r.description,
            effective_behavior_summary: r.effective_behavior_summary,
            spinnaker_application: r.spinnaker_application,
            deploy_pipeline: r.deploy_pipeline,
            rollback_pipeline: r.rollback_pipeline,
        }
    }
}

#[derive(InputObject)]
pub struct ServiceInput {
    pub name: String,
    pub description: Option<String>,
    /// Empty means every recipe; omitted on update keeps the current list.
    pub compatible_recipes: Option<Vec<ID>>,
}

impl From<ServiceInput> for DomainService {
    fn from(s: ServiceInput) -> Self {
        Self {
            name: s.name,
            description: s.description,
            compatible_recipes: s.compatible_recipes.map(|ids| ids.into_iter().map(|id| id.0).collect()),
        }
    }
}

#[derive(InputObject)]
pub struct EnvironmentInput {
    pub name: String,
    /// Defaults to the name.
    pub display_name: Option<String>,
    #[graphql(name = "type")]
    pub env_type: EnvironmentType,
    pub promotion_order: Option<i32>,
    pub enabled: bool,
}

impl From<EnvironmentInput> for DomainEnvironment {
    fn from(e: EnvironmentInput) -> Self {
        Self {
            name: e.name,
            display_name: e.display_name,
            env_type: e.env_type.into(),
            promotion_order: e.promotion_order,
            enabled: e.enabled,
        }
    }
}

/// Omitted fields keep their current value.
#[derive(InputObject)]
pub struct SystemSettingsInput {
    /// The kill switch.
    pub mutations_disabled: Option<bool>,
    /// 1..=100000 reads per minute per caller.
    pub read_rpm: Option<i32>,
    /// 1..=100000 mutations per minute per caller.
    pub mutate_rpm: Option<i32>,
    pub daily_build_register_quota: Option<i32>,
    pub ci_publishers: Option<Vec<String>>,
    /// Whether a promotion may skip environments on the path.
    pub promotion_allow_jumps: Option<bool>,
}

impl From<SystemSettingsInput> for SettingsInput {
    fn from(s: SystemSettingsInput) -> Self {
        Self {
            mutations_disabled: s.mutations_disabled,
            read_rpm: s.read_rpm,
            mutate_rpm: s.mutate_rpm,
            daily_build_register_quota: s.daily_build_register_quota,
            ci_publishers: s.ci_publishers,
            promotion_allow_jumps: s.promotion_allow_jumps,
        }
    }
}
