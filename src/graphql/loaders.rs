//! DataLoaders, one per access path, built per request so a cache never
//! outlives the caller it was filled for. Each batch is one `IN (...)` query.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
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

impl Loader<Uuid> for FailuresLoader {
    type Value = Vec<Failure>;
    type Error = DomainError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Failure>>, DomainError> {
        self.0.failures_for(keys).await
    }
}

impl Loader<Uuid> for TimelineLoader {
    type Value = Vec<TimelineEvent>;
    type Error = DomainError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<TimelineEvent>>, DomainError> {
        self.0.timelines_for(keys).await
    }
}

/// The loaders of one request.
pub struct Loaders {
    pub failures: DataLoader<FailuresLoader>,
    pub timeline: DataLoader<TimelineLoader>,
}

impl Loaders {
    pub fn new(services: &Services) -> Self {
        Self {
            failures: DataLoader::new(FailuresLoader(services.clone()), tokio::spawn),
            timeline: DataLoader::new(TimelineLoader(services.clone()), tokio::spawn),
        }
    }
}
