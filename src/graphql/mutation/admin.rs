use async_graphql::{Context, Object, ID};

use crate::{
    domain::ids::KeyInput,
    graphql::{
        context::ContextExt,
        inputs::catalog::{DeliveryGroupInput, EnvironmentInput, RecipeInput, ServiceInput, SystemSettingsInput},
        types::catalog::{DeliveryGroup, Environment, Recipe, Service, SystemSettings},
    },
    service::admin::{self, AdminEntity, AdminOp, RecipeChange},
};

#[derive(Default)]
pub struct AdminMutation;

/// Catalogue and settings. Every change is audited with its changed fields;
/// `changeReason` becomes the entity's `lastChangeReason`.
#[Object]
impl AdminMutation {
    async fn create_delivery_group(
        &self,
        ctx: &Context<'_>,
        input: DeliveryGroupInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<DeliveryGroup> {
        save(ctx, admin::CREATE_DELIVERY_GROUP, input.into(), change_reason, &idempotency_key).await.map(Into::into)
    }

    async fn update_delivery_group(
        &self,
        ctx: &Context<'_>,
        input: DeliveryGroupInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<DeliveryGroup> {
        save(ctx, admin::UPDATE_DELIVERY_GROUP, input.into(), change_reason, &idempotency_key).await.map(Into::into)
    }

    async fn create_recipe(
        &self,
        ctx: &Context<'_>,
        input: RecipeInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Recipe> {
        save(ctx, admin::CREATE_RECIPE, RecipeChange::Edit(input.into()), change_reason, &idempotency_key)
            .await
            .map(Recipe)
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
        save(ctx, admin::UPDATE_RECIPE, RecipeChange::Edit(input.into()), change_reason, &idempotency_key)
            .await
            .map(Recipe)
    }

    async fn deprecate_recipe(
        &self,
        ctx: &Context<'_>,
        id: ID,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Recipe> {
        save(
            ctx,
            admin::DEPRECATE_RECIPE,
            RecipeChange::Deprecate { id: id.to_string() },
            change_reason,
            &idempotency_key,
        )
        .await
        .map(Recipe)
    }

    async fn upsert_service(
        &self,
        ctx: &Context<'_>,
        input: ServiceInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Service> {
        save(ctx, admin::UPSERT_SERVICE, input.into(), change_reason, &idempotency_key).await.map(Into::into)
    }

    async fn upsert_environment(
        &self,
        ctx: &Context<'_>,
        input: EnvironmentInput,
        change_reason: Option<String>,
        idempotency_key: String,
    ) -> async_graphql::Result<Environment> {
        save(ctx, admin::UPSERT_ENVIRONMENT, input.into(), change_reason, &idempotency_key).await.map(Into::into)
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
        save(ctx, admin::UPDATE_SYSTEM_SETTINGS, input.into(), change_reason, &idempotency_key).await.map(Into::into)
    }
}

/// Runs one admin mutation (`service::admin`) for a resolver.
async fn save<E: AdminEntity>(
    ctx: &Context<'_>,
    op: AdminOp<E>,
    input: E::Input,
    change_reason: Option<String>,
    idempotency_key: &str,
) -> async_graphql::Result<E> {
    let key = KeyInput::parse(idempotency_key);
    Ok(ctx.services()?.save_admin(ctx.caller()?, op, input, change_reason, &key).await?)
}
