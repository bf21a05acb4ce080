//! History filtered by service or by outcome, newest first. Without these,
//! `WHERE service = ? ORDER BY created_at DESC, id DESC LIMIT n` (and the
//! same by outcome) read every matching record and sorted them: a quarter
//! of a million rows for one service, most of the table for SUPERSEDED, at
//! a million records. With them the page is read in order and the scan
//! stops after `n` rows.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, [&str; 3]); 2] = [
    ("idx_deployments_service_created", ["service", "created_at", "id"]),
    ("idx_deployments_outcome_created", ["outcome", "created_at", "id"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns) in INDEXES {
            manager.create_index(index(name, "deployments", &columns)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager.drop_index(Index::drop().name(name).table("deployments").to_owned()).await?;
        }
        Ok(())
    }
}
