use async_graphql::{Context, Object, ID};

use crate::{
    domain::rollback::MAX_ROLLBACK_TARGETS,
    graphql::{
        context::ContextExt,
        types::deployment::{RollbackTarget, RunningState},
    },
};

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

    /// Versions that SUCCEEDED in a service + environment other than the one
    /// running now, newest first, each with the newest deployment that ran
    /// it. `first` must be at least 1 and is capped at 50. Delivery owners
    /// may ask about their groups' services only.
    #[graphql(complexity = "rollback_targets_complexity(first.unwrap_or(10), child_complexity)")]
    async fn rollback_targets(
        &self,
        ctx: &Context<'_>,
        service: String,
        environment: String,
        #[graphql(default = 10)] first: Option<i32>,
    ) -> async_graphql::Result<Vec<RollbackTarget>> {
        // An explicit null means the default, as for `deployments(first:)`.
        let first = first.unwrap_or(10);
        let targets = ctx.services()?.rollback_targets(ctx.caller()?, &service, &environment, first).await?;
        Ok(targets.into_iter().map(RollbackTarget::from).collect())
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

/// The selection costs once per target asked for, capped like the answer.
fn rollback_targets_complexity(first: i32, child_complexity: usize) -> usize {
    (first.clamp(1, MAX_ROLLBACK_TARGETS as i32) as usize).saturating_mul(child_complexity)
}
