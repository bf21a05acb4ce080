use async_graphql::{Context, Object};

use crate::graphql::{
    context::ContextExt,
    types::actions::{AllowedActions, DeliveryStatus},
};

#[derive(Default)]
pub struct ActionsQuery;

/// What a UI asks before it shows a button. Read-only, never audited.
#[Object]
impl ActionsQuery {
    /// The newest record of a service in an environment, what runs there,
    /// and what could be promoted from there. Delivery owners: services of
    /// their groups only.
    async fn delivery_status(
        &self,
        ctx: &Context<'_>,
        service: String,
        environment: String,
    ) -> async_graphql::Result<DeliveryStatus> {
        Ok(ctx.services()?.delivery_status(ctx.caller()?, &service, &environment).await?.into())
    }

    /// For the caller: may they deploy, roll back, promote (to the next
    /// environment on the path) or cancel here now, and every reason not,
    /// computed by the mutations' own rules.
    async fn allowed_actions(
        &self,
        ctx: &Context<'_>,
        service: String,
        environment: String,
    ) -> async_graphql::Result<AllowedActions> {
        Ok(ctx.services()?.allowed_actions(ctx.caller()?, &service, &environment).await?.into())
    }
}
