//! `audit_events.repeat_count`: how many identical refusals one audit row
//! stands for. A burst of identical refusals is written as a few rows and
//! one aggregate whose count is the rest (security review, issue 11 item 5;
//! docs/decisions/0005). Every row written before this migration stands for
//! one event, hence the default.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("audit_events").add_column(integer("repeat_count").default(1)).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("audit_events").drop_column("repeat_count").to_owned()).await
    }
}
