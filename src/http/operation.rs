//! The one admission path of a GraphQL operation, whatever carried it.
//!
//! `POST /graphql`, `GET /graphql` and a `subscribe` message on
//! `/graphql/ws` all call [`admit`] before anything executes and
//! [`stamp_response`] on everything that leaves, so a control added here
//! holds on every transport: nesting and fragment bounds, field and alias
//! caps, the read rate limit (one token per operation), the introspection
//! setting, per-request loaders, and the removal of `operatorHint` for
//! everyone but a PLATFORM_ADMIN.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use async_graphql::{
    parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection},
    ErrorExtensionValues, Name, PathSegment, Request, Response as GqlResponse, ServerError, Value,
};

use super::{
    document::{self, Syntax},
    AppState,
};
use crate::{
    config::Introspection,
    domain::{DomainError, ErrorCode},
    graphql::loaders::Loaders,
    service::{limits::RequestClass, Caller},
};

/// How an operation arrived: what it may be depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `GET /graphql`: queries only (405 otherwise).
    HttpGet,
    /// `POST /graphql`.
    HttpPost,
    /// A `subscribe` message on `/graphql/ws`.
    WebSocket,
}

/// Why an operation was not admitted. Nothing of it ran.
#[derive(Debug)]
pub enum Refusal {
    /// The document cannot run (syntax, nesting, limits): a GraphQL request error.
    Document(String),
    /// A mutation or subscription sent with GET.
    MutationOverGet,
    /// The caller's read bucket is empty.
    RateLimited(DomainError),
}

/// An operation cleared to execute, with its per-request data attached.
pub struct Admitted {
    pub request: Request,
    pub kind: OperationType,
    /// The first root field it selects (a bounded metrics label).
    pub root_field: Option<String>,
}

/// Bounds, classifies and rate-limits `requests` (one HTTP batch or one
/// WebSocket operation) as one unit: if any is refused, none runs.
pub async fn admit(
    state: &AppState,
    caller: &Caller,
    requests: Vec<Request>,
    transport: Transport,
) -> Result<Vec<Admitted>, Refusal> {
    let mut checked = Vec::with_capacity(requests.len());
    for mut request in requests {
        let parsed = parse_bounded(&request.query).map_err(Refusal::Document)?;
        request.set_parsed_query(parsed.document.clone());
        let kind = operation_kind(&parsed.document, request.operation_name.as_deref());
        if transport == Transport::HttpGet && kind != OperationType::Query {
            return Err(Refusal::MutationOverGet);
        }
        let root_field = root_field(&parsed.document, request.operation_name.as_deref());
        checked.push((request, kind, root_field));
    }
    // Reads are limited here, one token per operation; mutations inside
    // their use case (guardrail step 3).
    let reads = checked.iter().filter(|(_, kind, _)| *kind != OperationType::Mutation).count();
    if reads > 0 {
        state
            .services
            .check_rate_n(&caller.principal, RequestClass::Read, u32::try_from(reads).unwrap_or(u32::MAX))
            .await
            .map_err(Refusal::RateLimited)?;
    }
    let introspection_allowed = match state.edge.introspection {
        Introspection::On => true,
        Introspection::Admin => caller.principal.is_admin(),
        Introspection::Off => false,
    };
    Ok(checked
        .into_iter()
        .map(|(request, kind, root_field)| {
            // A subscription lives for many events: each must read its
            // relations fresh, so its loaders never cache.
            let loaders = match kind {
                OperationType::Subscription => Loaders::uncached(&state.services),
                _ => Loaders::new(&state.services),
            };
            let request = request.data(caller.clone()).data(loaders);
            let request = if introspection_allowed { request } else { request.disable_introspection() };
            Admitted { request, kind, root_field }
        })
        .collect())
}

/// A parsed document that passed every bound.
struct Parsed {
    document: ExecutableDocument,
}

/// Documents are cached only up to this size (bytes of query text) ...
const CACHED_DOCUMENT_MAX_BYTES: usize = 4 * 1024;
/// ... and this many at once; a full cache starts over.
const CACHED_DOCUMENTS: usize = 256;

/// Pre-scans, parses and measures a document, through a process-wide cache
/// of documents that passed (parsing is a pure function of the text).
/// Clients send the same few documents again and again, and parsing one
/// took as much CPU as the database read behind `runningState`; cloning
/// the parsed tree is several times cheaper.
fn parse_bounded(query: &str) -> Result<Arc<Parsed>, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Parsed>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(parsed) = cache.lock().ok().and_then(|c| c.get(query).cloned()) {
        return Ok(parsed);
    }
    if query.trim().is_empty() {
        return Err("the request has no GraphQL document in `query`".to_owned());
    }
    document::prescan(query.as_bytes(), Syntax::GraphQL)?;
    let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
    document::measure(&document)?.check()?;
    let parsed = Arc::new(Parsed { document });
    if query.len() <= CACHED_DOCUMENT_MAX_BYTES {
        if let Ok(mut cache) = cache.lock() {
            if cache.len() >= CACHED_DOCUMENTS {
                cache.clear();
            }
            cache.insert(query.to_owned(), parsed.clone());
        }
    }
    Ok(parsed)
}

/// Which kind of operation will run.
fn operation_kind(document: &ExecutableDocument, operation_name: Option<&str>) -> OperationType {
    match &document.operations {
        DocumentOperations::Single(op) => op.node.ty,
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops.get(name).map(|op| op.node.ty).unwrap_or(OperationType::Query),
            // Without a name only a single operation validates; be strict and
            // take the document as a mutation if any operation is one.
            None => {
                ops.values().map(|op| op.node.ty).find(|t| *t != OperationType::Query).unwrap_or(OperationType::Query)
            }
        },
    }
}

/// The first root field the operation selects, when it selects one directly.
fn root_field(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<String> {
    let operation = match &document.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(ops) => match operation_name {
            Some(name) => ops.get(name)?,
            None => ops.values().next()?,
        },
    };
    operation.node.selection_set.node.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => Some(field.node.name.node.to_string()),
        _ => None,
    })
}

/// Stamps codes and the request id on every error, strips operator hints
/// for non-admins, and puts `null` at the path of each failed field.
pub fn stamp_response(response: &mut GqlResponse, request_id: &str, is_admin: bool) {
    for error in &mut response.errors {
        stamp(error, request_id, is_admin);
    }
    null_failed_fields(&mut response.data, &response.errors);
}

pub fn stamp(error: &mut ServerError, request_id: &str, is_admin: bool) {
    let extensions = error.extensions.get_or_insert_with(ErrorExtensionValues::default);
    if extensions.get("code").is_none() {
        // Our resolvers always set a code; uncoded errors come from
        // async-graphql itself: validation, limits, or input coercion.
        extensions.set("code", ErrorCode::InvalidRequest.as_str());
    }
    extensions.set("requestId", request_id);
    if !is_admin {
        extensions.unset("operatorHint");
    }
}

/// A coded request error (nothing executed) for this request id.
pub fn request_error(code: ErrorCode, message: &str, request_id: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    extensions.set("requestId", request_id);
    error.extensions = Some(extensions);
    error
}

/// Puts `null` where a field failed. async-graphql 7 leaves a failed field
/// out of its parent object; clients (and DESIGN §10: "a refused mutation
/// returns null for its field") expect the key, null, next to the error.
fn null_failed_fields(data: &mut Value, errors: &[ServerError]) {
    fn fill(node: &mut Value, path: &[PathSegment]) {
        match (path, node) {
            ([PathSegment::Field(name)], Value::Object(map)) => {
                map.entry(Name::new(name)).or_insert(Value::Null);
            }
            ([PathSegment::Field(name), rest @ ..], Value::Object(map)) => {
                if let Some(child) = map.get_mut(name.as_str()) {
                    fill(child, rest);
                }
            }
            ([PathSegment::Index(index), rest @ ..], Value::List(items)) => {
                if let Some(child) = items.get_mut(*index) {
                    fill(child, rest);
                }
            }
            _ => {}
        }
    }
    for error in errors.iter().filter(|e| !e.path.is_empty()) {
        if *data == Value::Null {
            *data = Value::Object(Default::default());
        }
        fill(data, &error.path);
    }
}
