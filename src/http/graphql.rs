//! `/graphql`: our own GraphQL-over-HTTP handler (GRAPHQL-PRACTICE §3).
//!
//! Order of work, cheapest refusal first: authenticate from the header (401
//! before anything is parsed), negotiate the response type (406), check the
//! method and content type (415), read the body under a limit (413), parse,
//! refuse mutations over GET (405) and oversized batches (400), then
//! execute under a deadline (504 `TIMEOUT`). Every error leaves with
//! `extensions.code` and `extensions.requestId`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Instant,
};

use async_graphql::{
    http::{parse_query_string, GraphiQLSource},
    parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet},
    BatchRequest, BatchResponse, ErrorExtensionValues, Name, PathSegment, Request, Response as GqlResponse,
    ServerError, Value,
};
use axum::{
    body::{to_bytes, Body},
    extract::State,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{Html, IntoResponse, Response},
    Extension,
};

use super::{request_id::RequestId, AppState, MAX_BODY_BYTES};
use crate::{
    auth::{bearer_token, AuthError},
    config::Introspection,
    domain::{ErrorCode, Principal},
    graphql::loaders::Loaders,
    service::{limits::RequestClass, Caller},
};

/// Most operations one batched POST may carry.
pub const MAX_BATCH: usize = 5;
/// Most aliased fields one document may hold (alias overloading).
pub const MAX_ALIASES: usize = 30;
/// Most field selections one document may hold, counted as written (field
/// duplication); connection costs are priced by complexity instead.
pub const MAX_FIELDS: usize = 300;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Media {
    GraphQLResponseJson,
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::GraphQLResponseJson => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response type from `Accept`; `None` when nothing we speak is acceptable.
fn negotiate(headers: &HeaderMap) -> Option<Media> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    if accept.is_empty() {
        return Some(Media::Json);
    }
    let mut best: Option<(Media, f32)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';');
        let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality =
            pieces.filter_map(|p| p.trim().strip_prefix("q=")).find_map(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
        let candidate = match media.as_str() {
            "application/graphql-response+json" => Media::GraphQLResponseJson,
            "application/json" | "application/*" | "*/*" => Media::Json,
            _ => continue,
        };
        if quality <= 0.0 {
            continue;
        }
        // Ties go to the first listed type, as clients list their preference first.
        if best.is_none_or(|(_, q)| quality > q) {
            best = Some((candidate, quality));
        }
    }
    best.map(|(m, _)| m)
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

fn error_body(code: ErrorCode, message: &str, request_id: &str) -> serde_json::Value {
    serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str(), "requestId": request_id } }]
    })
}

fn reply(media: Media, status: StatusCode, body: &impl serde::Serialize) -> Response {
    let text = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(media.content_type()));
    response
}

fn refuse(media: Media, status: StatusCode, code: ErrorCode, message: &str, request_id: &str) -> Response {
    reply(media, status, &error_body(code, message, request_id))
}

/// The operation name a response answered, for metrics.
#[derive(Clone)]
struct OperationLabel(Option<String>);

/// Marks a 200 response whose body carries errors.
#[derive(Clone, Copy)]
struct HadErrors;

pub async fn handle(
    State(state): State<AppState>,
    request_id: Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let metrics = state.services.clone();
    let response = serve(State(state), request_id, method, uri, headers, body).await;
    let operation = response.extensions().get::<OperationLabel>().and_then(|l| l.0.clone());
    let outcome = match response.status() {
        StatusCode::OK if response.extensions().get::<HadErrors>().is_some() => "error",
        StatusCode::OK => "ok",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::GATEWAY_TIMEOUT => "timeout",
        _ => "rejected",
    };
    metrics.metrics().request(operation.as_deref(), outcome, started.elapsed());
    response
}

async fn serve(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    if method == Method::GET && state.edge.graphiql && wants_html(&headers) && uri.query().is_none_or(str::is_empty) {
        return Html(GraphiQLSource::build().endpoint("/graphql").title("DXCP").finish()).into_response();
    }
    let media_for_refusals = negotiate(&headers).unwrap_or(Media::Json);

    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match authenticate(&state, authorization).await {
        Ok(p) => p,
        Err(err) => {
            tracing::info!(request_id, reason = %err, "request refused: unauthenticated");
            let mut response = refuse(
                media_for_refusals,
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "a valid bearer token is required",
                &request_id,
            );
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    };
    let Some(media) = negotiate(&headers) else {
        return refuse(
            Media::Json,
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::InvalidRequest,
            "Accept must allow application/graphql-response+json or application/json",
            &request_id,
        );
    };

    let batch = match read_request(&method, &uri, &headers, body).await {
        Ok(batch) => batch,
        Err((status, message)) => return refuse(media, status, ErrorCode::InvalidRequest, &message, &request_id),
    };
    let mut batch = match batch {
        BatchRequest::Batch(requests) if requests.len() > MAX_BATCH => {
            return refuse(
                media,
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                &format!("a batch may hold at most {MAX_BATCH} operations"),
                &request_id,
            )
        }
        BatchRequest::Batch(requests) if requests.is_empty() => {
            return refuse(media, StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, "empty batch", &request_id)
        }
        other => other,
    };

    let mut reads = false;
    for request in batch.iter_mut() {
        match check_document(request, &method) {
            Ok(kind) => reads |= kind == OperationType::Query,
            Err(DocumentProblem::RequestError(message)) => {
                return refuse(media, request_error_status(media), ErrorCode::InvalidRequest, &message, &request_id)
            }
            Err(DocumentProblem::MutationOverGet) => {
                let mut response = refuse(
                    media,
                    StatusCode::METHOD_NOT_ALLOWED,
                    ErrorCode::InvalidRequest,
                    "only queries may be sent with GET; use POST",
                    &request_id,
                );
                response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                return response;
            }
        }
    }
    // Reads are limited here; mutations inside their use case (guardrail step 3).
    if reads {
        if let Err(err) = state.services.check_rate(&principal, RequestClass::Read).await {
            return rate_limited(media, &err, &request_id);
        }
    }

    let operation = match &batch {
        BatchRequest::Single(r) => r.operation_name.clone(),
        BatchRequest::Batch(_) => Some("batch".to_owned()),
    };
    let is_admin = principal.is_admin();
    let caller = Caller { principal: principal.clone(), request_id: request_id.clone() };
    let batch = prepare(batch, &state, caller);
    let executed = tokio::time::timeout(state.edge.request_timeout, state.schema.execute_batch(batch)).await;
    let response = match executed {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(request_id, "request deadline exceeded");
            let status = if media == Media::GraphQLResponseJson { StatusCode::GATEWAY_TIMEOUT } else { StatusCode::OK };
            return refuse(
                media,
                status,
                ErrorCode::Timeout,
                "the request did not finish within its deadline",
                &request_id,
            );
        }
    };
    let (status, response) = finish(response, media, &request_id, is_admin);
    tracing::info!(
        request_id,
        actor = %principal.actor_id,
        status = status.as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "graphql request"
    );
    let had_errors = response.has_errors();
    let mut response = reply(media, status, &response);
    response.extensions_mut().insert(OperationLabel(operation));
    if had_errors {
        response.extensions_mut().insert(HadErrors);
    }
    response
}

async fn authenticate(state: &AppState, authorization: Option<&str>) -> Result<Principal, AuthError> {
    let token = bearer_token(authorization)?;
    state.auth.authenticate(token).await
}

/// Parses the GET query string or the POST JSON body.
async fn read_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<BatchRequest, (StatusCode, String)> {
    let batch = if *method == Method::GET {
        let request = parse_query_string(uri.query().unwrap_or_default())
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid query string: {e}")))?;
        BatchRequest::Single(request)
    } else {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" {
            return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json".to_owned()));
        }
        let bytes = to_bytes(body, MAX_BODY_BYTES)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, format!("the body exceeds {MAX_BODY_BYTES} bytes")))?;
        serde_json::from_slice::<BatchRequest>(&bytes)
            .map_err(|_| (StatusCode::BAD_REQUEST, "the body is not a GraphQL request in JSON".to_owned()))?
    };
    // async-graphql defaults a missing `query` to "", but the parameter is
    // required (we have no persisted documents): a request without one is
    // not a well-formed GraphQL-over-HTTP request, so 400 whatever the
    // Accept, rather than a 200 parse error (graphql-http 8764, 3E3A).
    if batch.iter().any(|request| request.query.trim().is_empty()) {
        return Err((StatusCode::BAD_REQUEST, "the request has no GraphQL document in `query`".to_owned()));
    }
    Ok(batch)
}

enum DocumentProblem {
    /// The document cannot run at all (syntax, alias or field limits): a
    /// GraphQL request error, answered like a validation error.
    RequestError(String),
    /// A mutation (or subscription) sent with GET: 405 + `Allow: POST`.
    MutationOverGet,
}

/// The status of a GraphQL request error (nothing executed: parse,
/// validation, limits). GraphQL-over-HTTP wants 4xx under
/// `application/graphql-response+json`, but 200 under `application/json`,
/// which legacy clients read as "look at `errors`" (graphql-http audits
/// 572B and FDE2 warn when a parse or validation failure gets 400 there).
fn request_error_status(media: Media) -> StatusCode {
    match media {
        Media::GraphQLResponseJson => StatusCode::BAD_REQUEST,
        Media::Json => StatusCode::OK,
    }
}

/// A parsed document with its selection counts.
struct Parsed {
    document: ExecutableDocument,
    fields: usize,
    aliases: usize,
}

/// Documents are cached only up to this size (bytes of query text) ...
const CACHED_DOCUMENT_MAX_BYTES: usize = 4 * 1024;
/// ... and this many at once; a full cache starts over.
const CACHED_DOCUMENTS: usize = 256;

/// Parsed documents by query text, shared by the whole process (parsing
/// is a pure function of the text). Clients send the same few documents
/// again and again, and parsing one took as much CPU as the database read
/// behind `runningState`; cloning the parsed tree is several times cheaper.
fn parse_cached(query: &str) -> Result<Arc<Parsed>, ServerError> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Parsed>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(parsed) = cache.lock().ok().and_then(|c| c.get(query).cloned()) {
        return Ok(parsed);
    }
    let document = async_graphql::parser::parse_query(query)?;
    let (fields, aliases) = count_selections(&document);
    let parsed = Arc::new(Parsed { document, fields, aliases });
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

/// Parses the document once (async-graphql reuses it), tells which kind
/// of operation will run, and refuses mutations over GET.
fn check_document(request: &mut Request, method: &Method) -> Result<OperationType, DocumentProblem> {
    let operation_name = request.operation_name.clone();
    let parsed = parse_cached(&request.query).map_err(|e| DocumentProblem::RequestError(e.message))?;
    request.set_parsed_query(parsed.document.clone());
    let document = &parsed.document;
    let kind = match &document.operations {
        DocumentOperations::Single(op) => op.node.ty,
        DocumentOperations::Multiple(ops) => match operation_name.as_deref() {
            Some(name) => ops.get(name).map(|op| op.node.ty).unwrap_or(OperationType::Query),
            // Without a name only a single operation validates; be strict and
            // take the document as a mutation if any operation is one.
            None => {
                ops.values().map(|op| op.node.ty).find(|t| *t != OperationType::Query).unwrap_or(OperationType::Query)
            }
        },
    };
    let (fields, aliases) = (parsed.fields, parsed.aliases);
    if aliases > MAX_ALIASES || fields > MAX_FIELDS {
        return Err(DocumentProblem::RequestError(format!(
            "the document has {fields} fields and {aliases} aliases; the limits are {MAX_FIELDS} and {MAX_ALIASES}"
        )));
    }
    if *method == Method::GET && kind != OperationType::Query {
        return Err(DocumentProblem::MutationOverGet);
    }
    Ok(kind)
}

/// Counts field selections and aliases in every operation and fragment.
fn count_selections(document: &ExecutableDocument) -> (usize, usize) {
    fn walk(set: &SelectionSet, fields: &mut usize, aliases: &mut usize) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    *fields += 1;
                    *aliases += usize::from(field.node.alias.is_some());
                    walk(&field.node.selection_set.node, fields, aliases);
                }
                Selection::InlineFragment(fragment) => walk(&fragment.node.selection_set.node, fields, aliases),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let (mut fields, mut aliases) = (0, 0);
    for (_, operation) in document.operations.iter() {
        walk(&operation.node.selection_set.node, &mut fields, &mut aliases);
    }
    for fragment in document.fragments.values() {
        walk(&fragment.node.selection_set.node, &mut fields, &mut aliases);
    }
    (fields, aliases)
}

/// 429 with `RATE_LIMITED`, `retryAfterSeconds` and `Retry-After`.
fn rate_limited(media: Media, err: &crate::domain::DomainError, request_id: &str) -> Response {
    let seconds = err.retry_after_seconds.unwrap_or(1);
    let body = serde_json::json!({
        "errors": [{ "message": err.message, "extensions": {
            "code": err.code.as_str(), "requestId": request_id, "retryAfterSeconds": seconds } }]
    });
    let mut response = reply(media, StatusCode::TOO_MANY_REQUESTS, &body);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Attaches per-request data and the introspection policy to each operation.
fn prepare(batch: BatchRequest, state: &AppState, caller: Caller) -> BatchRequest {
    let introspection_allowed = match state.edge.introspection {
        Introspection::On => true,
        Introspection::Admin => caller.principal.is_admin(),
        Introspection::Off => false,
    };
    let attach = |request: Request| {
        let request = request.data(caller.clone()).data(Loaders::new(&state.services));
        if introspection_allowed {
            request
        } else {
            request.disable_introspection()
        }
    };
    match batch {
        BatchRequest::Single(r) => BatchRequest::Single(attach(r)),
        BatchRequest::Batch(rs) => BatchRequest::Batch(rs.into_iter().map(attach).collect()),
    }
}

/// One operation's answer as written out. Serialized straight to text,
/// without an intermediate `serde_json::Value` tree.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Answer {
    /// A request error: nothing executed, so only `errors`.
    RequestFailed {
        errors: Vec<ServerError>,
    },
    Executed(GqlResponse),
}

impl Answer {
    fn has_errors(&self) -> bool {
        match self {
            Answer::RequestFailed { .. } => true,
            Answer::Executed(r) => !r.errors.is_empty(),
        }
    }
}

/// The body of a `/graphql` answer: one answer, or one per batched operation.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Answers {
    Single(Answer),
    Batch(Vec<Answer>),
}

impl Answers {
    fn has_errors(&self) -> bool {
        match self {
            Answers::Single(answer) => answer.has_errors(),
            Answers::Batch(answers) => answers.iter().any(Answer::has_errors),
        }
    }
}

/// Stamps codes and the request id on every error, strips operator hints
/// for non-admins, and picks the status code.
fn finish(response: BatchResponse, media: Media, request_id: &str, is_admin: bool) -> (StatusCode, Answers) {
    let mut status = StatusCode::OK;
    let mut finish_one = |mut r: GqlResponse| {
        for error in &mut r.errors {
            stamp(error, request_id, is_admin);
        }
        null_failed_fields(&mut r.data, &r.errors);
        // A request error: nothing executed (parse, validation, limits).
        // Its answer has no `data` entry under either media type (GraphQL
        // spec: an error raised before execution leaves `data` out).
        let request_failed =
            r.data == Value::Null && !r.errors.is_empty() && r.errors.iter().all(|e| e.path.is_empty());
        if request_failed {
            if request_error_status(media) != StatusCode::OK {
                status = request_error_status(media);
            }
            return Answer::RequestFailed { errors: r.errors };
        }
        Answer::Executed(r)
    };
    let body = match response {
        BatchResponse::Single(r) => Answers::Single(finish_one(r)),
        BatchResponse::Batch(rs) => Answers::Batch(rs.into_iter().map(&mut finish_one).collect()),
    };
    (status, body)
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

fn stamp(error: &mut ServerError, request_id: &str, is_admin: bool) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Media> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).expect("header"));
        negotiate(&headers)
    }

    #[test]
    fn accept_negotiation_follows_the_graphql_over_http_spec() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Media::Json));
        assert_eq!(accept("application/graphql-response+json"), Some(Media::GraphQLResponseJson));
        assert_eq!(accept("application/json"), Some(Media::Json));
        assert_eq!(accept("*/*"), Some(Media::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(Media::GraphQLResponseJson)
        );
        assert_eq!(
            accept("application/json;q=0.5, application/graphql-response+json"),
            Some(Media::GraphQLResponseJson)
        );
        assert_eq!(accept("text/html"), None);
    }
}
