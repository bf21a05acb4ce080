use async_graphql::{Context, Object, ID};

use crate::domain::ids::{DeploymentRef, KeyInput};
use crate::graphql::{
    context::ContextExt,
    inputs::deployment::{DeploymentIntentInput, PromotionIntentInput},
    types::deployment::Deployment,
};

#[derive(Default)]
pub struct DeploymentMutation;

#[Object]
impl DeploymentMutation {
    /// Deploys by intent after every guardrail; answers with the record as
    /// PENDING or ACTIVE. A replay with the same key returns the same record.
    async fn deploy(
        &self,
        ctx: &Context<'_>,
        intent: DeploymentIntentInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Deployment> {
        let record = ctx.services()?.deploy(ctx.caller()?, intent.into(), &KeyInput::parse(&idempotency_key)).await?;
        Ok(Deployment(record))
    }

    /// Promotes a version that succeeded in one environment into the next
    /// one on the path: a deploy into the target with three more checks.
    async fn promote(
        &self,
        ctx: &Context<'_>,
        intent: PromotionIntentInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Deployment> {
        let record = ctx.services()?.promote(ctx.caller()?, intent.into(), &KeyInput::parse(&idempotency_key)).await?;
        Ok(Deployment(record))
    }

    /// Rolls back the running deployment (or a failed one newer than it)
    /// to the previous successful version.
    async fn rollback(
        &self,
        ctx: &Context<'_>,
        deployment_id: ID,
        change_summary: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Deployment> {
        let record = ctx
            .services()?
            .rollback(
                ctx.caller()?,
                &DeploymentRef::parse(&deployment_id),
                change_summary,
                &KeyInput::parse(&idempotency_key),
            )
            .await?;
        Ok(Deployment(record))
    }

    /// Asks the engine to cancel an in-flight deployment; the record turns
    /// CANCELED when the engine confirms.
    async fn cancel_deployment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: String,
    ) -> async_graphql::Result<Deployment> {
        let record = ctx
            .services()?
            .cancel_deployment(ctx.caller()?, &DeploymentRef::parse(&id), &KeyInput::parse(&idempotency_key))
            .await?;
        Ok(Deployment(record))
    }
}
