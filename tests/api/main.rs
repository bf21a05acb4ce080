#![recursion_limit = "256"]

//! The one integration-test binary: every test drives the real server over
//! HTTP with its own database (SQLite by default, PostgreSQL when
//! `DXCP_TEST_DATABASE` is a postgres:// URL).

mod harness;

mod auth;
mod schema;
mod spinnaker_adapter;
