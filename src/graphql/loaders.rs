//! DataLoaders, one per access path, built per request so a cache never
//! outlives the caller it was filled for. Each batch is one `IN (...)` query.
//!
//! async-graphql hands keys to a loader over several executor turns, so a
//! page could be split into several batches. Connection resolvers therefore
//! prefetch the whole page's keys in one `load_many` (see [`Loaders::prefetch`])
//! and the per-request cache answers every node from it: a page costs one
//! query per relation, whatever its size.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use uuid::Uuid;

use crate::{
    domain::{
        deployment::{Failure, TimelineEvent},
        DomainError,
    },
    service::Services,
};

pub struct FailuresLoader(Services);
pub struct TimelineLoader(Services);

/// Every key gets an entry (empty when the deployment has none), so the
/// cache also remembers "nothing" and never asks twice.
fn complete<V: Default>(keys: &[Uuid], mut found: HashMap<Uuid, V>) -> HashMap<Uuid, V> {
    for key in keys {
        found.entry(*key).or_default();
    }
    found
}

impl Loader<Uuid> for FailuresLoader {
    type Value = Vec<Failure>;
    type Error = DomainError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Failure>>, DomainError> {
        Ok(complete(keys, self.0.failures_for(keys).await?))
    }
}

impl Loader<Uuid> for TimelineLoader {
    type Value = Vec<TimelineEvent>;
    type Error = DomainError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<TimelineEvent>>, DomainError> {
        Ok(complete(keys, self.0.timelines_for(keys).await?))
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub failures: DataLoader<FailuresLoader, HashMapCache>,
    pub timeline: DataLoader<TimelineLoader, HashMapCache>,
}

/// Which relations a page's selection asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wanted {
    pub failures: bool,
    pub timeline: bool,
}

impl Loaders {
    pub fn new(services: &Services) -> Self {
        Self {
            failures: DataLoader::with_cache(FailuresLoader(services.clone()), tokio::spawn, HashMapCache::default()),
            timeline: DataLoader::with_cache(TimelineLoader(services.clone()), tokio::spawn, HashMapCache::default()),
        }
    }

    /// Loads the wanted relations of a whole page in one batch each.
    pub async fn prefetch(&self, ids: &[Uuid], wanted: Wanted) -> Result<(), DomainError> {
        if wanted.failures {
            self.failures.load_many(ids.iter().copied()).await?;
        }
        if wanted.timeline {
            self.timeline.load_many(ids.iter().copied()).await?;
        }
        Ok(())
    }
}
