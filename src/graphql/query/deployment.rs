use async_graphql::{Context, Object, ID};
use uuid::Uuid;

use crate::graphql::{
    context::ContextExt,
    inputs::filters::DeploymentFilter,
    pagination::{connection_complexity, page_request, DeploymentConnection},
    types::deployment::Deployment,
};

#[derive(Default)]
pub struct DeploymentQuery;

#[Object]
impl DeploymentQuery {
    /// Deployment history, newest first (id breaks ties). `first` is capped
    /// at 100. Delivery owners see their groups' deployments only.
    #[graphql(complexity = "connection_complexity(first, child_complexity)")]
    async fn deployments(
        &self,
        ctx: &Context<'_>,
        filter: Option<DeploymentFilter>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<DeploymentConnection> {
        let page = page_request(first, after.as_deref())?;
        let filter = filter.unwrap_or_default().into();
        let records = ctx.services()?.deployments(ctx.caller()?, &filter, &page).await?;
        Ok(DeploymentConnection::from_page(
            records,
            |r| crate::domain::page::Keyset { at: r.created_at, id: r.id.to_string() },
            Deployment,
        ))
    }

    /// One deployment; null when unknown. An in-flight record is refreshed
    /// from the engine first.
    async fn deployment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Deployment>> {
        let Ok(id) = Uuid::parse_str(&id) else {
            return Ok(None);
        };
        let record = ctx.services()?.deployment(ctx.caller()?, id).await?;
        Ok(record.map(Deployment))
    }
}
