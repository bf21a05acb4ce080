//! Promotion (DESIGN §11.1): a PROMOTION record names the environment the
//! version proved itself in (`deployments.source_environment`, null for
//! every other kind), and `system_settings.promotion_allow_jumps` lets an
//! admin allow promotions that skip environments on the path.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("deployments").add_column(string_null("source_environment")).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("system_settings")
                    .add_column(boolean("promotion_allow_jumps").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("system_settings").drop_column("promotion_allow_jumps").to_owned())
            .await?;
        manager.alter_table(Table::alter().table("deployments").drop_column("source_environment").to_owned()).await
    }
}
