//! System settings: one row (id = 1), read by every replica on each use so a
//! change takes effect everywhere at once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("system_settings")
                    .if_not_exists()
                    .col(integer("id").primary_key())
                    .col(boolean("mutations_disabled"))
                    .col(integer("read_rpm"))
                    .col(integer("mutate_rpm"))
                    .col(integer("daily_build_register_quota"))
                    .col(text("ci_publishers"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(string("updated_by"))
                    .col(text_null("last_change_reason"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("system_settings").if_exists().to_owned()).await
    }
}
