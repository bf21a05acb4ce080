//! Registered builds: registration (by CI, or from the catalogue file),
//! pages per service, single lookups and the daily count per publisher.

use chrono::{DateTime, Utc};
use entity::build;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use super::{
    admin::{finish, AdminWrite},
    convert::truncate_to_micros,
    first, limited, Store, StoreError,
};
use crate::domain::{
    build::Build,
    page::{Page, PageRequest},
};

impl Store {
    /// Registers a build with its audit event; a concurrent registration of
    /// the same (service, version) surfaces as `StoreError::Conflict`.
    pub async fn register_build(&self, build: &Build, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        insert_build(&tx, build).await?;
        finish(tx, write).await
    }

    /// Builds a publisher registered since `since` (daily quota).
    pub async fn builds_registered_since(&self, actor: &str, since: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(build::Entity::find()
            .filter(build::Column::RegisteredBy.eq(actor))
            .filter(build::Column::RegisteredAt.gte(truncate_to_micros(since)))
            .count(self.conn())
            .await?)
    }

    pub async fn build(&self, service: &str, version: &str) -> Result<Option<Build>, StoreError> {
        Ok(first(build::Entity::find_by_id((service.to_owned(), version.to_owned())), self.conn())
            .await?
            .map(Build::from))
    }

    /// Builds of a service, newest registration first (version breaks ties).
    pub async fn builds_page(&self, service: &str, page: &PageRequest) -> Result<Page<Build>, StoreError> {
        let mut query = build::Entity::find().filter(build::Column::Service.eq(service));
        if let Some(after) = &page.after {
            let at = truncate_to_micros(after.at);
            query = query.filter(
                Condition::any().add(build::Column::RegisteredAt.lt(at)).add(
                    Condition::all()
                        .add(build::Column::RegisteredAt.eq(at))
                        .add(build::Column::Version.lt(after.id.clone())),
                ),
            );
        }
        let query = query.order_by_desc(build::Column::RegisteredAt).order_by_desc(build::Column::Version);
        let rows = limited(query, self.backend(), page.first + 1).all(self.conn()).await?;
        Ok(Page::from_overfetch(rows.into_iter().map(Build::from).collect(), page.first))
    }
}

pub(crate) async fn insert_build(conn: &impl ConnectionTrait, build: &Build) -> Result<(), StoreError> {
    let b = &build.registration;
    build::Entity::insert(build::ActiveModel {
        service: Set(b.service.clone()),
        version: Set(b.version.clone()),
        artifact_ref: Set(b.artifact_ref.clone()),
        sha256: Set(b.sha256.clone()),
        size_bytes: Set(b.size_bytes),
        content_type: Set(b.content_type.clone()),
        git_sha: Set(b.git_sha.clone()),
        git_branch: Set(b.git_branch.clone()),
        ci_provider: Set(b.ci_provider.clone()),
        ci_run_id: Set(b.ci_run_id.clone()),
        built_at: Set(truncate_to_micros(b.built_at)),
        repo: Set(b.repo.clone()),
        registered_at: Set(truncate_to_micros(build.registered_at)),
        registered_by: Set(build.registered_by.clone()),
    })
    .exec(conn)
    .await?;
    Ok(())
}
