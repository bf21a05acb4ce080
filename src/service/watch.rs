//! Following one deployment as it changes (the `deploymentUpdated`
//! subscription): the record is refreshed from the engine like
//! `deployment(id)` does, each new state is emitted once, in order, and the
//! stream ends after a terminal state.

use std::time::Duration;

use futures::{stream, Stream};

use super::{Caller, Services};
use crate::domain::{
    deployment::{DeploymentRecord, DeploymentState},
    ids::{DeploymentId, DeploymentRef},
    DomainError,
};

/// How often an in-flight record is re-read while someone watches it.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(250);

struct Watch {
    services: Services,
    caller: Caller,
    id: DeploymentId,
    last: Option<DeploymentState>,
    done: bool,
}

impl Services {
    /// Checks access now (unknown -> NOT_FOUND, another group's deployment ->
    /// DELIVERY_GROUP_SCOPE_REQUIRED) and returns the stream of updates.
    pub async fn watch_deployment(
        &self,
        caller: &Caller,
        id: &DeploymentRef,
    ) -> Result<impl Stream<Item = Result<DeploymentRecord, DomainError>> + use<>, DomainError> {
        let not_found = || DomainError::not_found("deployment", id.as_str());
        let uuid = id.id().ok_or_else(not_found)?;
        if self.visible_deployment(caller, uuid.uuid()).await?.is_none() {
            return Err(not_found());
        }
        let watch = Watch { services: self.clone(), caller: caller.clone(), id: uuid, last: None, done: false };
        Ok(stream::unfold(watch, |mut watch| async move {
            if watch.done {
                return None;
            }
            loop {
                let record = match watch.services.deployment(&watch.caller, watch.id).await {
                    Ok(Some(record)) => record,
                    Ok(None) => return None,
                    Err(err) => {
                        watch.done = true;
                        return Some((Err(err), watch));
                    }
                };
                if watch.last != Some(record.state) {
                    watch.last = Some(record.state);
                    watch.done = record.state.is_terminal();
                    return Some((Ok(record), watch));
                }
                tokio::time::sleep(WATCH_INTERVAL).await;
            }
        }))
    }
}
