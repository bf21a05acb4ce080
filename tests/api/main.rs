#![recursion_limit = "256"]

//! The one integration-test binary: every test drives the real server over
//! HTTP with its own database (SQLite by default, PostgreSQL when
//! `DXCP_TEST_DATABASE` is a postgres:// URL).

mod harness;

mod admin;
mod allowed_actions;
mod audit;
mod audit_flooding;
mod auth;
mod builds;
mod cancel;
mod catalog;
mod cors;
mod deploy_e2e;
mod edge;
mod engine_faults;
mod group_scope;
mod guardrails;
mod history;
mod hostile_input;
mod idempotency;
mod kill_switch;
mod metrics;
mod oidc;
mod previews;
mod promotion;
mod query_cost;
mod races;
mod rate_limits;
mod replicas;
mod role_gating;
mod rollback_targets;
mod schema;
mod spinnaker_adapter;
mod startup;
mod subscriptions;
mod trace_export;
