//! `Deployment`, `RunningState`, `RollbackTarget`, `Failure`, `TimelineEvent`
//! and their enums.

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject, ID};

use super::admin_only;
use crate::{
    domain::deployment as domain,
    graphql::{error::coded, loaders::Loaders, scalars::DateTime},
};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::deployment::DeploymentState")]
pub enum DeploymentState {
    Pending,
    Active,
    InProgress,
    Succeeded,
    Failed,
    Canceled,
    RolledBack,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::deployment::DeploymentKind")]
pub enum DeploymentKind {
    RollForward,
    Rollback,
    Promotion,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::deployment::DeploymentOutcome")]
pub enum DeploymentOutcome {
    Succeeded,
    Failed,
    RolledBack,
    Canceled,
    Superseded,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::deployment::FailureCategory")]
pub enum FailureCategory {
    Validation,
    Policy,
    Artifact,
    Infrastructure,
    Config,
    App,
    Timeout,
    Rollback,
    Unknown,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::deployment::EngineType")]
pub enum EngineType {
    Spinnaker,
    Simulated,
}

/// A normalized failure: never raw engine output.
#[derive(SimpleObject, Clone)]
pub struct Failure {
    pub category: FailureCategory,
    /// One line.
    pub summary: String,
    pub detail: Option<String>,
    pub action_hint: Option<String>,
    pub observed_at: DateTime,
}

impl From<domain::Failure> for Failure {
    fn from(f: domain::Failure) -> Self {
        Self {
            category: f.category.into(),
            summary: f.summary,
            detail: f.detail,
            action_hint: f.action_hint,
            observed_at: f.observed_at.into(),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct TimelineEvent {
    pub key: String,
    pub label: String,
    pub occurred_at: DateTime,
    pub detail: Option<String>,
}

impl From<domain::TimelineEvent> for TimelineEvent {
    fn from(e: domain::TimelineEvent) -> Self {
        Self { key: e.key, label: e.label, occurred_at: e.occurred_at.into(), detail: e.detail }
    }
}

/// The authoritative record of one deployment.
#[derive(Clone)]
pub struct Deployment(pub domain::DeploymentRecord);

#[Object]
impl Deployment {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn service(&self) -> &str {
        &self.0.service
    }
    async fn environment(&self) -> &str {
        &self.0.environment
    }
    async fn version(&self) -> &str {
        &self.0.version
    }
    async fn recipe_id(&self) -> ID {
        ID(self.0.recipe_id.clone())
    }
    /// The recipe revision frozen at submit.
    async fn recipe_revision(&self) -> i32 {
        self.0.recipe_revision
    }
    /// The recipe's behaviour summary, frozen at submit.
    async fn effective_behavior_summary(&self) -> &str {
        &self.0.effective_behavior_summary
    }
    async fn state(&self) -> DeploymentState {
        self.0.state.into()
    }
    async fn deployment_kind(&self) -> DeploymentKind {
        self.0.kind.into()
    }
    /// For a PROMOTION: the environment the version succeeded in.
    async fn source_environment(&self) -> Option<&str> {
        self.0.source_environment.as_deref()
    }
    /// Null while the deployment is in flight.
    async fn outcome(&self) -> Option<DeploymentOutcome> {
        self.0.outcome.map(Into::into)
    }
    async fn change_summary(&self) -> &str {
        &self.0.change_summary
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
    async fn delivery_group_id(&self) -> ID {
        ID(self.0.delivery_group_id.clone())
    }
    /// Actor id of the caller who submitted it.
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }
    /// The deployment this one rolls back, for rollbacks.
    async fn rollback_of(&self) -> Option<ID> {
        self.0.rollback_of.map(|id| ID(id.to_string()))
    }
    /// The later success that superseded this one.
    async fn superseded_by(&self) -> Option<ID> {
        self.0.superseded_by.map(|id| ID(id.to_string()))
    }
    async fn failures(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Failure>> {
        let failures = loaders(ctx)?.failures(self.0.id).await?;
        Ok(failures.into_iter().map(Failure::from).collect())
    }
    async fn timeline(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TimelineEvent>> {
        let events = loaders(ctx)?.timeline(self.0.id).await?;
        Ok(events.into_iter().map(TimelineEvent::from).collect())
    }
    async fn engine_type(&self) -> EngineType {
        self.0.engine_type.into()
    }
    /// The engine's execution id. PLATFORM_ADMIN only.
    async fn engine_execution_id(&self, ctx: &Context<'_>) -> Option<&str> {
        admin_only(ctx, self.0.engine_execution_id.as_deref()).await
    }
    /// Link to the execution in the engine's UI. PLATFORM_ADMIN only.
    async fn engine_execution_url(&self, ctx: &Context<'_>) -> Option<&str> {
        admin_only(ctx, self.0.engine_execution_url.as_deref()).await
    }
}

fn loaders<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Loaders> {
    ctx.data_opt::<Loaders>().ok_or_else(|| coded(crate::domain::ErrorCode::Internal, "loaders missing"))
}

/// What runs now in a service + environment, derived from records.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct RunningState {
    pub service: String,
    pub environment: String,
    pub version: String,
    pub deployment_id: ID,
    pub deployment_kind: DeploymentKind,
    pub derived_at: DateTime,
}

#[ComplexObject]
impl RunningState {
    /// Always "service": running state is tracked per service.
    async fn scope(&self) -> &str {
        "service"
    }
}

impl From<domain::RunningState> for RunningState {
    fn from(s: domain::RunningState) -> Self {
        Self {
            service: s.service,
            environment: s.environment,
            version: s.version,
            deployment_id: ID(s.deployment_id.to_string()),
            deployment_kind: s.kind.into(),
            derived_at: s.derived_at.into(),
        }
    }
}

/// A version this service+environment can be rolled back to: it reached
/// SUCCEEDED here and is not the version running now.
#[derive(SimpleObject, Clone)]
pub struct RollbackTarget {
    pub version: String,
    /// The newest deployment that ran this version successfully here.
    pub deployment_id: ID,
    /// When that deployment succeeded (its SUCCEEDED timeline entry).
    pub succeeded_at: DateTime,
}

impl From<domain::RollbackTarget> for RollbackTarget {
    fn from(t: domain::RollbackTarget) -> Self {
        Self { version: t.version, deployment_id: ID(t.deployment_id.to_string()), succeeded_at: t.succeeded_at.into() }
    }
}
