//! Pure domain rules and types: no IO, no async, no database or HTTP types.
//! Time is always passed in as an argument so every rule is testable.

pub mod admin;
pub mod audit;
pub mod bounded;
pub mod build;
pub mod catalog;
pub mod deployment;
pub mod error;
pub mod failure;
pub mod guardrails;
pub mod ids;
pub mod page;
pub mod principal;
pub mod promotion;
pub mod rollback;
pub mod settings;
pub mod state_machine;

pub use error::{DomainError, ErrorCode, FieldError};
pub use principal::{Principal, Role};
