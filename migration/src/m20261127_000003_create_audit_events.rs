//! The append-only audit log.

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
                    .table("audit_events")
                    .if_not_exists()
                    .col(string("id").primary_key())
                    .col(string("event_type"))
                    .col(string("actor_id"))
                    .col(string("actor_role"))
                    .col(string("target_type"))
                    .col(string("target_id"))
                    .col(timestamp_with_time_zone("timestamp"))
                    .col(string("outcome"))
                    .col(text("summary"))
                    .col(string_null("delivery_group_id"))
                    .col(string_null("service_name"))
                    .col(string_null("environment"))
                    .col(string_null("request_id"))
                    .col(text("changes"))
                    .to_owned(),
            )
            .await?;
        // Audit log keyset: ORDER BY timestamp DESC, id DESC.
        manager.create_index(index("idx_audit_timestamp", "audit_events", &["timestamp", "id"])).await?;
        // Filtered by event type, by target, by actor.
        manager.create_index(index("idx_audit_type_timestamp", "audit_events", &["event_type", "timestamp"])).await?;
        manager
            .create_index(index("idx_audit_target", "audit_events", &["target_type", "target_id", "timestamp"]))
            .await?;
        manager.create_index(index("idx_audit_actor_timestamp", "audit_events", &["actor_id", "timestamp"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("audit_events").if_exists().to_owned()).await
    }
}
