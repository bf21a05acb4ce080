//! DXCP, the Delivery Experience Control Plane: a GraphQL API that deploys
//! and rolls back services by intent, enforces guardrails, and keeps the
//! authoritative record of every deployment.
//!
//! Layering (DESIGN §1), enforced by review and by `use` lists:
//! 1. `domain` imports nothing from the crate but itself: pure rules, no IO.
//! 2. `store` imports `domain` and `entity`, and is the only user of SeaORM.
//! 3. `engine` imports `domain`.
//! 4. `service` imports `domain`, `store` and `engine`: one use case per
//!    function, one transaction per use case (opened in `store`).
//! 5. `graphql` imports `service` and `domain`, never `store` or `entity`.
//! 6. `http` imports `graphql`, `service` and `auth`.
//!
//! Per-request data (caller, loaders, request id) goes into the GraphQL
//! request; process-wide data (services) into the schema.

pub mod app;
pub mod auth;
pub mod catalog_file;
pub mod cli;
pub mod config;
pub mod domain;
pub mod engine;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod seed;
pub mod service;
pub mod store;
pub mod telemetry;
