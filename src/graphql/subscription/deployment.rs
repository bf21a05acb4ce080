use async_graphql::{Context, Subscription, ID};
use futures::{Stream, StreamExt};

use crate::domain::ids::DeploymentRef;
use crate::graphql::{context::ContextExt, types::deployment::Deployment};

#[derive(Default)]
pub struct DeploymentSubscription;

#[Subscription]
impl DeploymentSubscription {
    /// The deployment now and after each state change, refreshed from the
    /// engine while in flight; completes after a terminal state.
    async fn deployment_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Deployment>>> {
        let updates = ctx.services()?.watch_deployment(ctx.caller()?, &DeploymentRef::parse(&id)).await?;
        Ok(updates.map(|update| update.map(Deployment).map_err(Into::into)))
    }
}
