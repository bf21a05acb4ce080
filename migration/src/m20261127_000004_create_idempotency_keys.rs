//! Idempotency keys, scoped to (actor, mutation, key) and kept 24 h.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .if_not_exists()
                    .col(string("actor_id"))
                    .col(string("mutation"))
                    .col(string("key"))
                    .col(string("request_hash"))
                    .col(string("status"))
                    .col(string_null("result_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .primary_key(Index::create().col("actor_id").col("mutation").col("key"))
                    .to_owned(),
            )
            .await?;
        // Expiry sweep: DELETE WHERE expires_at < now.
        manager.create_index(index("idx_idempotency_expires", "idempotency_keys", &["expires_at"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("idempotency_keys").if_exists().to_owned()).await
    }
}
