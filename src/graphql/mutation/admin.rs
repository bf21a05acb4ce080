use async_graphql::{Context, Object, ID};

use crate::domain::ids::KeyInput;
use crate::graphql::{
    context::ContextExt,
    inputs::catalog::{
        BuildInput, DeliveryGroupInput, EnvironmentInput, RecipeInput, ServiceInput, SystemSettingsInput,
    },
    types::catalog::{Build, DeliveryGroup, Environment, Recipe, Service, SystemSettings},
};

#[derive(Default)]
pub struct AdminMutation;

/// Catalogue, settings and build registration. Every change is audited with
/// its changed fields; `changeReason` becomes the entity's `lastChangeReason`.
#[Object]
impl AdminMutation {
    /// Registers a deployable build. Allowlisted CI publishers only.
    async fn register_build(
        &self,
        ctx: &Context<'_>,
        input: BuildInput,
        idempotency_key: String,
    ) -> async_graphql::Result<Build> {
        Ok(ctx
            .services()?
            .register_build(ctx.caller()?, input.into(), &KeyInput::parse(&idempotency_key))
            .await?
            .into())
    }

    async fn create_delivery_group(
        &self,
        ctx: &Context<'_>,
        input: DeliveryGroupInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<DeliveryGroup> {
        let group = ctx
            .services()?
            .create_delivery_group(ctx.caller()?, input.into(), change_reason, &KeyInput::parse(&idempotency_key))
            .await?;
        Ok(group.into())
    }

    async fn update_delivery_group(
        &self,
        ctx: &Context<'_>,
        input: DeliveryGroupInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<DeliveryGroup> {
        let group = ctx
            .services()?
            .update_delivery_group(ctx.caller()?, input.into(), change_reason, &KeyInput::parse(&idempotency_key))
            .await?;
        Ok(group.into())
    }

    async fn create_recipe(
        &self,
        ctx: &Context<'_>,
        input: RecipeInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Recipe> {
        Ok(Recipe(
            ctx.services()?
                .create_recipe(ctx.caller()?, input.into(), change_reason, &KeyInput::parse(&idempotency_key))
                .await?,
        ))
    }

    /// A new revision when something changed; the engine mapping cannot
    /// change while a delivery group uses the recipe.
    async fn update_recipe(
        &self,
        ctx: &Context<'_>,
        input: RecipeInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Recipe> {
        Ok(Recipe(
            ctx.services()?
                .update_recipe(ctx.caller()?, input.into(), change_reason, &KeyInput::parse(&idempotency_key))
                .await?,
        ))
    }

    async fn deprecate_recipe(
        &self,
        ctx: &Context<'_>,
        id: ID,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Recipe> {
        Ok(Recipe(
            ctx.services()?
                .deprecate_recipe(ctx.caller()?, &id, change_reason, &KeyInput::parse(&idempotency_key))
                .await?,
        ))
    }

    async fn upsert_service(
        &self,
        ctx: &Context<'_>,
        input: ServiceInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Service> {
        Ok(ctx
            .services()?
            .upsert_service(ctx.caller()?, input.into(), change_reason, &KeyInput::parse(&idempotency_key))
            .await?
            .into())
    }

    async fn upsert_environment(
        &self,
        ctx: &Context<'_>,
        input: EnvironmentInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Environment> {
        Ok(ctx
            .services()?
            .upsert_environment(ctx.caller()?, input.into(), change_reason, &KeyInput::parse(&idempotency_key))
            .await?
            .into())
    }

    /// Kill switch, rate limits, build quota and CI publishers. Allowed while
    /// the kill switch is on only when it turns it off.
    async fn update_system_settings(
        &self,
        ctx: &Context<'_>,
        input: SystemSettingsInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<SystemSettings> {
        let settings = ctx
            .services()?
            .update_system_settings(ctx.caller()?, input.into(), change_reason, &KeyInput::parse(&idempotency_key))
            .await?;
        Ok(settings.into())
    }
}
