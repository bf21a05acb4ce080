//! Output types, built from domain values (never from database rows), so a
//! new column never changes the public schema by accident.

pub mod actions;
pub mod audit;
pub mod catalog;
pub mod deployment;
pub mod preflight;
pub mod preview;

use async_graphql::{Context, Guard};

use super::guard::AdminGuard;

/// Resolves a PLATFORM_ADMIN-only field: `value` for an admin, otherwise
/// null with one coded `ROLE_FORBIDDEN` error at the field's path.
///
/// Not `#[graphql(guard = ...)]`: async-graphql 7 leaves a field whose guard
/// fails out of the response object instead of setting it to null, while
/// DESIGN §7 (and the GraphQL spec on field errors) want the key present
/// and null, with the rest of the data returned.
pub(crate) async fn admin_only<T>(ctx: &Context<'_>, value: Option<T>) -> Option<T> {
    match AdminGuard.check(ctx).await {
        Ok(()) => value,
        Err(err) => {
            ctx.add_error(ctx.set_error_path(err.into_server_error(ctx.item.pos)));
            None
        }
    }
}
