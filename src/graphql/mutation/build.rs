//! `registerBuild`: CI publishers register deployable builds.

use async_graphql::{Context, Object};

use crate::{
    domain::ids::KeyInput,
    graphql::{context::ContextExt, inputs::catalog::BuildInput, types::catalog::Build},
};

#[derive(Default)]
pub struct BuildMutation;

#[Object]
impl BuildMutation {
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
}
