use async_graphql::{Context, Object};

use crate::graphql::{
    context::ContextExt,
    inputs::catalog::{DeliveryGroupInput, RecipeInput},
    types::preview::ConfigPreview,
};

#[derive(Default)]
pub struct PreviewQuery;

/// Dry runs of the catalogue mutations. PLATFORM_ADMIN only; nothing is
/// written or audited.
#[Object]
impl PreviewQuery {
    /// What `createDeliveryGroup` / `updateDeliveryGroup` would refuse in
    /// this input (ERROR), plus legal but risky choices (WARNING). Whether
    /// the id already exists is not reported. PLATFORM_ADMIN only.
    async fn preview_delivery_group(
        &self,
        ctx: &Context<'_>,
        input: DeliveryGroupInput,
    ) -> async_graphql::Result<ConfigPreview> {
        Ok(ctx.services()?.preview_delivery_group(ctx.caller()?, input.into()).await?.into())
    }

    /// What `createRecipe` / `updateRecipe` would refuse in this input,
    /// including a change of the engine mapping of a recipe that delivery
    /// groups use. Whether the id already exists is not reported.
    /// PLATFORM_ADMIN only.
    async fn preview_recipe(&self, ctx: &Context<'_>, input: RecipeInput) -> async_graphql::Result<ConfigPreview> {
        Ok(ctx.services()?.preview_recipe(ctx.caller()?, input.into()).await?.into())
    }
}
