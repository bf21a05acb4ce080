//! The GraphQL edge: types, resolvers, guards and loaders. No SQL, no engine
//! calls and no policy here: resolvers call one service function each.

pub mod context;
pub mod error;
pub mod guard;
pub mod inputs;
pub mod loaders;
pub mod mutation;
pub mod pagination;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use async_graphql::{Schema, SchemaBuilder};

use crate::service::Services;

pub type DxcpSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// A backstop for callers that bypass the edge: the edge refuses anything
/// nested deeper than `http::document::MAX_DEPTH` (12) outside
/// introspection before this limit is reached, and bounds introspection
/// by its list nesting, so the standard introspection query (nested 13+
/// deep through `ofType`) is answered.
pub const BACKSTOP_DEPTH: usize = 40;
/// Highest query cost accepted; connection fields cost `first` x selection,
/// so a full page of 100 deployments with failures and timelines fits.
pub const MAX_COMPLEXITY: usize = 5_000;
/// Most directives on one field.
pub const MAX_DIRECTIVES: usize = 5;

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(query::Query::default(), mutation::Mutation::default(), subscription::Subscription::default())
        .limit_depth(BACKSTOP_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_directives(MAX_DIRECTIVES)
        .disable_suggestions()
}

/// The schema served by `dxcp serve`.
pub fn build_schema(services: Services) -> DxcpSchema {
    builder().data(services).finish()
}

/// The SDL of the schema, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().sorted_fields().sorted_arguments().sorted_enum_items())
}
