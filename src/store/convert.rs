//! Stored rows ⇄ domain values. A row that does not parse is an error, not
//! a panic.

use chrono::{DateTime, Utc};
use entity::{
    audit_event, build, delivery_group, deployment, deployment_failure, environment, recipe, service, system_setting,
    timeline_event,
};
use uuid::Uuid;

use super::StoreError;
use crate::domain::{
    audit::{AuditEvent, AuditOutcome, FieldChange},
    build::{Build, BuildRegistration},
    catalog::{DeliveryGroup, Environment, EnvironmentType, Guardrails, Recipe, RecipeStatus, Service},
    deployment::{
        DeploymentKind, DeploymentOutcome, DeploymentRecord, DeploymentState, EngineType, Failure, FailureCategory,
        TimelineEvent,
    },
    settings::SystemSettings,
    Role,
};

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} '{value}'"))
}

pub(crate) fn parse_enum<T>(what: &str, value: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| corrupt(what, value))
}

pub(crate) fn parse_uuid(value: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(value).map_err(|_| corrupt("uuid", value))
}

pub(crate) fn json_list(value: &str) -> Result<Vec<String>, StoreError> {
    Ok(serde_json::from_str(value)?)
}

pub(crate) fn to_json_list(values: &[String]) -> String {
    serde_json::Value::from(values.to_vec()).to_string()
}

/// Timestamps are stored at microsecond precision so that what is written
/// compares equal to what is read back on both databases (cursors rely on it).
pub(crate) fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

impl TryFrom<deployment::Model> for DeploymentRecord {
    type Error = StoreError;
    fn try_from(m: deployment::Model) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse_uuid(&m.id)?,
            state: parse_enum("state", &m.state, DeploymentState::parse)?,
            kind: parse_enum("kind", &m.kind, DeploymentKind::parse)?,
            outcome: m.outcome.as_deref().map(|o| parse_enum("outcome", o, DeploymentOutcome::parse)).transpose()?,
            engine_type: parse_enum("engine type", &m.engine_type, EngineType::parse)?,
            rollback_of: m.rollback_of.as_deref().map(parse_uuid).transpose()?,
            superseded_by: m.superseded_by.as_deref().map(parse_uuid).transpose()?,
            service: m.service,
            environment: m.environment,
            version: m.version,
            recipe_id: m.recipe_id,
            recipe_revision: m.recipe_revision,
            effective_behavior_summary: m.effective_behavior_summary,
            change_summary: m.change_summary,
            created_at: m.created_at,
            updated_at: m.updated_at,
            delivery_group_id: m.delivery_group_id,
            created_by: m.created_by,
            engine_execution_id: m.engine_execution_id,
            engine_execution_url: m.engine_execution_url,
            spinnaker_application: m.spinnaker_application,
            deploy_pipeline: m.deploy_pipeline,
            rollback_pipeline: m.rollback_pipeline,
            artifact_ref: m.artifact_ref,
            last_engine_contact_at: m.last_engine_contact_at,
            source_environment: m.source_environment,
        })
    }
}

impl TryFrom<deployment_failure::Model> for Failure {
    type Error = StoreError;
    fn try_from(m: deployment_failure::Model) -> Result<Self, StoreError> {
        Ok(Self {
            category: parse_enum("failure category", &m.category, FailureCategory::parse)?,
            summary: m.summary,
            detail: m.detail,
            action_hint: m.action_hint,
            observed_at: m.observed_at,
        })
    }
}

impl From<timeline_event::Model> for TimelineEvent {
    fn from(m: timeline_event::Model) -> Self {
        Self { key: m.key, label: m.label, occurred_at: m.occurred_at, detail: m.detail }
    }
}

impl TryFrom<service::Model> for Service {
    type Error = StoreError;
    fn try_from(m: service::Model) -> Result<Self, StoreError> {
        Ok(Self {
            compatible_recipes: json_list(&m.compatible_recipes)?,
            name: m.name,
            description: m.description,
            delivery_group_id: m.delivery_group_id,
        })
    }
}

impl TryFrom<environment::Model> for Environment {
    type Error = StoreError;
    fn try_from(m: environment::Model) -> Result<Self, StoreError> {
        Ok(Self {
            env_type: parse_enum("environment type", &m.env_type, EnvironmentType::parse)?,
            name: m.name,
            display_name: m.display_name,
            promotion_order: m.promotion_order,
            enabled: m.enabled,
        })
    }
}

impl TryFrom<recipe::Model> for Recipe {
    type Error = StoreError;
    fn try_from(m: recipe::Model) -> Result<Self, StoreError> {
        Ok(Self {
            status: parse_enum("recipe status", &m.status, RecipeStatus::parse)?,
            id: m.id,
            name: m.name,
            description: m.description,
            revision: m.revision,
            effective_behavior_summary: m.effective_behavior_summary,
            spinnaker_application: m.spinnaker_application,
            deploy_pipeline: m.deploy_pipeline,
            rollback_pipeline: m.rollback_pipeline,
            created_at: m.created_at,
            created_by: m.created_by,
            updated_at: m.updated_at,
            updated_by: m.updated_by,
            last_change_reason: m.last_change_reason,
        })
    }
}

/// A group's services are not stored on the group row: they are the
/// services whose `delivery_group_id` points at it, passed in by the caller.
pub(crate) fn delivery_group_from_row(
    m: delivery_group::Model,
    services: Vec<String>,
) -> Result<DeliveryGroup, StoreError> {
    Ok(DeliveryGroup {
        members: json_list(&m.members)?,
        allowed_recipes: json_list(&m.allowed_recipes)?,
        allowed_environments: json_list(&m.allowed_environments)?,
        guardrails: Guardrails {
            max_concurrent_deployments: m.max_concurrent_deployments,
            daily_deploy_quota: m.daily_deploy_quota,
            daily_rollback_quota: m.daily_rollback_quota,
        },
        services,
        id: m.id,
        name: m.name,
        description: m.description,
        owner: m.owner,
        default_recipe_id: m.default_recipe_id,
        created_at: m.created_at,
        created_by: m.created_by,
        updated_at: m.updated_at,
        updated_by: m.updated_by,
        last_change_reason: m.last_change_reason,
    })
}

impl From<build::Model> for Build {
    fn from(m: build::Model) -> Self {
        Self {
            registration: BuildRegistration {
                service: m.service,
                version: m.version,
                artifact_ref: m.artifact_ref,
                sha256: m.sha256,
                size_bytes: m.size_bytes,
                content_type: m.content_type,
                git_sha: m.git_sha,
                git_branch: m.git_branch,
                ci_provider: m.ci_provider,
                ci_run_id: m.ci_run_id,
                built_at: m.built_at,
                repo: m.repo,
            },
            registered_at: m.registered_at,
            registered_by: m.registered_by,
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredFieldChange {
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

impl TryFrom<audit_event::Model> for AuditEvent {
    type Error = StoreError;
    fn try_from(m: audit_event::Model) -> Result<Self, StoreError> {
        let changes: Vec<StoredFieldChange> = serde_json::from_str(&m.changes)?;
        Ok(Self {
            id: parse_uuid(&m.id)?,
            actor_role: m.actor_role.parse::<Role>().map_err(|_| corrupt("role", &m.actor_role))?,
            outcome: parse_enum("audit outcome", &m.outcome, AuditOutcome::parse)?,
            changes: changes
                .into_iter()
                .map(|c| FieldChange { field: c.field, old_value: c.old_value, new_value: c.new_value })
                .collect(),
            event_type: m.event_type,
            actor_id: m.actor_id,
            target_type: m.target_type,
            target_id: m.target_id,
            timestamp: m.timestamp,
            summary: m.summary,
            delivery_group_id: m.delivery_group_id,
            service_name: m.service_name,
            environment: m.environment,
            request_id: m.request_id,
            repeat_count: m.repeat_count,
        })
    }
}

impl TryFrom<system_setting::Model> for SystemSettings {
    type Error = StoreError;
    fn try_from(m: system_setting::Model) -> Result<Self, StoreError> {
        Ok(Self {
            ci_publishers: json_list(&m.ci_publishers)?,
            mutations_disabled: m.mutations_disabled,
            read_rpm: m.read_rpm,
            mutate_rpm: m.mutate_rpm,
            daily_build_register_quota: m.daily_build_register_quota,
            promotion_allow_jumps: m.promotion_allow_jumps,
        })
    }
}
