use async_graphql::{Context, Object, ID};

use crate::graphql::{
    context::ContextExt,
    pagination::{connection_complexity, page_request, BuildConnection},
    types::catalog::{Build, DeliveryGroup, Environment, Recipe, Service},
};

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Every allowlisted service.
    async fn services(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Service>> {
        ctx.caller()?;
        Ok(ctx.services()?.services().await?.into_iter().map(Service::from).collect())
    }

    /// One service; null when unknown.
    async fn service(&self, ctx: &Context<'_>, name: String) -> async_graphql::Result<Option<Service>> {
        ctx.caller()?;
        Ok(ctx.services()?.service(&name).await?.map(Service::from))
    }

    async fn delivery_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DeliveryGroup>> {
        let groups = ctx.services()?.delivery_groups(ctx.caller()?).await?;
        Ok(groups.into_iter().map(DeliveryGroup::from).collect())
    }

    /// One delivery group; null when unknown.
    async fn delivery_group(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<DeliveryGroup>> {
        let group = ctx.services()?.delivery_group(ctx.caller()?, &id).await?;
        Ok(group.map(DeliveryGroup::from))
    }

    async fn recipes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Recipe>> {
        Ok(ctx.services()?.recipes(ctx.caller()?).await?.into_iter().map(Recipe).collect())
    }

    /// One recipe; null when unknown.
    async fn recipe(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Recipe>> {
        Ok(ctx.services()?.recipe(ctx.caller()?, &id).await?.map(Recipe))
    }

    async fn environments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Environment>> {
        let environments = ctx.services()?.environments(ctx.caller()?).await?;
        Ok(environments.into_iter().map(Environment::from).collect())
    }

    /// Registered builds of a service, newest first. `first` is capped at 100.
    #[graphql(complexity = "connection_complexity(first.unwrap_or(20), child_complexity)")]
    async fn builds(
        &self,
        ctx: &Context<'_>,
        service: String,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<BuildConnection> {
        ctx.caller()?;
        let page = page_request(first.unwrap_or(20), after.as_deref())?;
        let builds = ctx.services()?.builds(&service, &page).await?;
        Ok(BuildConnection::from_page(
            builds,
            |b| crate::domain::page::Keyset { at: b.registered_at, id: b.registration.version.clone() },
            Build::from,
        ))
    }
}
