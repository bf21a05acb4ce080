use async_graphql::{Context, Object, ID};
use uuid::Uuid;

use crate::{
    domain::{
        ids::{DeploymentId, DeploymentRef},
        ErrorCode,
    },
    graphql::{
        context::ContextExt,
        error::coded,
        inputs::{
            deployment::{DeploymentIntentInput, PromotionIntentInput},
            filters::DeploymentFilter,
        },
        loaders::{Loaders, Wanted},
        pagination::{connection_complexity, page_request, DeploymentConnection},
        types::{deployment::Deployment, preflight::DeploymentPreflight},
    },
};

#[derive(Default)]
pub struct DeploymentQuery;

#[Object]
impl DeploymentQuery {
    /// Deployment history, newest first (id breaks ties). `first` is capped
    /// at 100. Delivery owners see their groups' deployments only.
    #[graphql(complexity = "connection_complexity(first.unwrap_or(20), child_complexity)")]
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeploymentFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<DeploymentConnection> {
        let page = page_request(first.unwrap_or(20), after.as_deref())?;
        let filter = filter.unwrap_or_default().into();
        let records = ctx.services()?.deployments(ctx.caller()?, &filter, &page).await?;
        prefetch_relations(ctx, &records.items).await?;
        Ok(DeploymentConnection::from_page(
            records,
            |r| crate::domain::page::Keyset { at: r.created_at, id: r.id.to_string() },
            Deployment,
        ))
    }

    /// One deployment; null when unknown. An in-flight record is refreshed
    /// from the engine first.
    async fn deployment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Deployment>> {
        // A malformed id names no deployment: null, as for an unknown one.
        let Some(id) = DeploymentId::parse(&id) else {
            return Ok(None);
        };
        let record = ctx.services()?.deployment(ctx.caller()?, id).await?;
        Ok(record.map(Deployment))
    }

    /// Every guardrail verdict for an intent, in order, without side effects.
    async fn validate_deployment(
        &self,
        ctx: &Context<'_>,
        intent: DeploymentIntentInput,
    ) -> async_graphql::Result<DeploymentPreflight> {
        Ok(ctx.services()?.validate_deployment(ctx.caller()?, intent.into()).await?.into())
    }

    /// Every guardrail verdict for a promotion, in order, without side effects.
    async fn validate_promotion(
        &self,
        ctx: &Context<'_>,
        intent: PromotionIntentInput,
    ) -> async_graphql::Result<DeploymentPreflight> {
        Ok(ctx.services()?.validate_promotion(ctx.caller()?, intent.into()).await?.into())
    }

    /// Every guardrail verdict for rolling back a deployment, without side effects.
    async fn validate_rollback(
        &self,
        ctx: &Context<'_>,
        deployment_id: ID,
    ) -> async_graphql::Result<DeploymentPreflight> {
        Ok(ctx.services()?.validate_rollback(ctx.caller()?, &DeploymentRef::parse(&deployment_id)).await?.into())
    }
}

/// Loads the failures and timelines the selection asks for, for the whole
/// page at once (see `graphql::loaders`).
async fn prefetch_relations(
    ctx: &Context<'_>,
    records: &[crate::domain::deployment::DeploymentRecord],
) -> async_graphql::Result<()> {
    let selection = ctx.look_ahead();
    let asks = |relation: &str| {
        selection.field("nodes").field(relation).exists()
            || selection.field("edges").field("node").field(relation).exists()
    };
    let wanted = Wanted { failures: asks("failures"), timeline: asks("timeline") };
    if !(wanted.failures || wanted.timeline) {
        return Ok(());
    }
    let ids: Vec<Uuid> = records.iter().map(|r| r.id).collect();
    let loaders = ctx.data_opt::<Loaders>().ok_or_else(|| coded(ErrorCode::Internal, "loaders missing"))?;
    loaders.prefetch(&ids, wanted).await?;
    Ok(())
}
