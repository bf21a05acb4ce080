#![recursion_limit = "256"]

//! The one integration-test binary: every test drives the real server over
//! HTTP with its own database (SQLite by default, PostgreSQL when
//! `DXCP_TEST_DATABASE` is a postgres:// URL).

mod harness;

mod audit;
mod auth;
mod catalog;
mod history;
mod oidc;
mod query_cost;
mod role_gating;
mod replicas;
mod schema;
mod spinnaker_adapter;
mod startup;
mod races;
mod engine_faults;
mod deploy_e2e;
mod guardrails;
mod idempotency;
mod cancel;
mod builds;
mod admin;
mod kill_switch;
mod rate_limits;
mod edge;
mod cors;
mod metrics;
mod subscriptions;
mod trace_export;
