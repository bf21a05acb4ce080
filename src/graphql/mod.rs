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

/// Every root field name of the schema (the fields of Query, Mutation and
/// Subscription, plus the introspection fields `__schema`, `__type` and
/// `__typename`): the fixed set of names an executed operation can be
/// labelled with in metrics. Read from the SDL, so it follows the schema.
pub fn root_field_names() -> Vec<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    let Ok(document) = async_graphql::parser::parse_schema(sdl()) else {
        return Vec::new();
    };
    let mut roots = vec!["Query".to_owned(), "Mutation".to_owned(), "Subscription".to_owned()];
    for definition in &document.definitions {
        if let TypeSystemDefinition::Schema(schema) = definition {
            let schema = &schema.node;
            roots = [&schema.query, &schema.mutation, &schema.subscription]
                .into_iter()
                .flatten()
                .map(|name| name.node.to_string())
                .collect();
        }
    }
    let mut names: Vec<String> = ["__schema", "__type", "__typename"].map(str::to_owned).to_vec();
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let TypeKind::Object(object) = &ty.node.kind else { continue };
        if roots.iter().any(|root| *root == ty.node.name.node.as_str()) {
            names.extend(object.fields.iter().map(|field| field.node.name.node.to_string()));
        }
    }
    names
}
