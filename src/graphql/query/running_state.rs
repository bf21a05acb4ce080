use async_graphql::{Context, Object, ID};

use crate::graphql::{context::ContextExt, types::deployment::RunningState};

#[derive(Default)]
pub struct RunningStateQuery;

#[Object]
impl RunningStateQuery {
    /// What runs now in a service + environment; null when nothing has succeeded.
    async fn running_state(
        &self,
        ctx: &Context<'_>,
        service: String,
        environment: String,
    ) -> async_graphql::Result<Option<RunningState>> {
        let state = ctx.services()?.running_state(ctx.caller()?, &service, &environment).await?;
        Ok(state.map(RunningState::from))
    }

    /// Every running state, optionally narrowed to an environment or group.
    async fn running_states(
        &self,
        ctx: &Context<'_>,
        environment: Option<String>,
        delivery_group_id: Option<ID>,
    ) -> async_graphql::Result<Vec<RunningState>> {
        let states = ctx
            .services()?
            .running_states(ctx.caller()?, environment.as_deref(), delivery_group_id.as_ref().map(|id| id.as_str()))
            .await?;
        Ok(states.into_iter().map(RunningState::from).collect())
    }
}
