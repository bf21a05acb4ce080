//! Database schema history for DXCP. Append-only: an applied migration is
//! never edited; a change is a new migration. Migrations use string
//! identifiers, never the `entity` crate, so old migrations keep compiling
//! when entities change.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_catalog;
mod m20261127_000002_create_deployments;
mod m20261127_000003_create_audit_events;
mod m20261127_000004_create_idempotency_keys;
mod m20261127_000005_create_system_settings;
mod m20261127_000006_history_filter_indexes;
mod m20261204_000007_audit_repeat_count;
mod m20261204_000008_promotion;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_catalog::Migration),
            Box::new(m20261127_000002_create_deployments::Migration),
            Box::new(m20261127_000003_create_audit_events::Migration),
            Box::new(m20261127_000004_create_idempotency_keys::Migration),
            Box::new(m20261127_000005_create_system_settings::Migration),
            Box::new(m20261127_000006_history_filter_indexes::Migration),
            Box::new(m20261204_000007_audit_repeat_count::Migration),
            Box::new(m20261204_000008_promotion::Migration),
        ]
    }
}

/// Creates a (possibly unique) index named `name` on `table(columns)`.
pub(crate) fn index(name: &'static str, table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table).if_not_exists();
    for column in columns {
        stmt.col(*column);
    }
    stmt.to_owned()
}
