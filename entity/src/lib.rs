//! SeaORM entities for DXCP's tables: data mapping only, no business rules
//! and no GraphQL types. Indexes are documented where the migrations create
//! them (`migration/`).

pub mod admission_lock;
pub mod audit_event;
pub mod build;
pub mod delivery_group;
pub mod deployment;
pub mod deployment_failure;
pub mod environment;
pub mod idempotency_key;
pub mod recipe;
pub mod service;
pub mod system_setting;
pub mod timeline_event;
