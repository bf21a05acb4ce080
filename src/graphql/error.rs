//! The one place where domain errors become GraphQL errors.
//!
//! `operatorHint` is attached here and stripped at the HTTP edge for every
//! caller who is not a PLATFORM_ADMIN, so resolvers never have to think
//! about it. `requestId` is stamped at the edge too, on every error.

use async_graphql::ErrorExtensions;

use crate::domain::{DomainError, ErrorCode};

impl From<DomainError> for async_graphql::Error {
    fn from(err: DomainError) -> Self {
        async_graphql::Error::new(err.message.clone()).extend_with(|_, ext| {
            ext.set("code", err.code.as_str());
            if let Some(hint) = &err.operator_hint {
                ext.set("operatorHint", hint.as_str());
            }
            if let Some(seconds) = err.retry_after_seconds {
                ext.set("retryAfterSeconds", seconds);
            }
        })
    }
}

/// A coded error for problems found at the GraphQL edge itself.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    DomainError::new(code, message).into()
}
