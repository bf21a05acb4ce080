//! Field guards. Admin-only fields resolve to null with one coded
//! `ROLE_FORBIDDEN` error at their path for every other role; the rest of
//! the response is returned.

use async_graphql::{Context, Guard};

use super::{context::ContextExt, error::coded};
use crate::domain::ErrorCode;

/// Lets only PLATFORM_ADMIN callers resolve the field.
pub struct AdminGuard;

impl Guard for AdminGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if ctx.caller()?.principal.is_admin() {
            Ok(())
        } else {
            Err(coded(ErrorCode::RoleForbidden, "this field is visible to PLATFORM_ADMIN only"))
        }
    }
}
