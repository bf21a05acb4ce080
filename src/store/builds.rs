//! Registered builds: pages per service and single lookups.

use entity::build;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::{convert::truncate_to_micros, first, limited, Store, StoreError};
use crate::domain::{
    catalog::Build,
    page::{Page, PageRequest},
};

impl Store {
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
