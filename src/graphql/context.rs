//! Typed access to what a resolver may use: the caller (per request) and
//! the services (per schema). Missing data is an `INTERNAL` error, never a
//! panic.

use async_graphql::Context;

use super::error::coded;
use crate::{
    domain::ErrorCode,
    service::{Caller, Services},
};

pub trait ContextExt {
    fn caller(&self) -> async_graphql::Result<&Caller>;
    fn services(&self) -> async_graphql::Result<&Services>;
}

impl ContextExt for Context<'_> {
    fn caller(&self) -> async_graphql::Result<&Caller> {
        self.data_opt::<Caller>().ok_or_else(|| coded(ErrorCode::Unauthorized, "authentication required"))
    }

    fn services(&self) -> async_graphql::Result<&Services> {
        self.data_opt::<Services>().ok_or_else(|| coded(ErrorCode::Internal, "services are not configured"))
    }
}
