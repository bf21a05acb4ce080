//! `/graphql`: our own GraphQL-over-HTTP handler (GRAPHQL-PRACTICE §3).
//!
//! Order of work, cheapest refusal first: authenticate from the header (401
//! before anything is parsed), negotiate the response type (406), check the
//! method and content type (415), read the body under a limit (413), bound
//! its nesting, refuse oversized batches (400), then admit every operation
//! through the transport-neutral path shared with `/graphql/ws`
//! (`operation.rs`: document bounds, 405 for mutations over GET, the read
//! rate limit), and execute under a deadline (504 `TIMEOUT`). Every error
//! leaves with `extensions.code` and `extensions.requestId`.

use std::time::Instant;

use async_graphql::{
    http::{parse_query_string, GraphiQLSource},
    BatchRequest, BatchResponse, Request, Response as GqlResponse, ServerError, Value,
};
use axum::{
    body::{to_bytes, Body},
    extract::State,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{Html, IntoResponse, Response},
    Extension,
};

use super::{
    document::{prescan, Syntax},
    operation::{admit, stamp_response, Refusal, Transport},
    request_id::RequestId,
    AppState, MAX_BODY_BYTES,
};
use crate::{
    auth::{bearer_token, AuthError},
    domain::{ErrorCode, Principal},
    service::Caller,
};

/// Most operations one batched POST may carry.
pub const MAX_BATCH: usize = 5;

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

/// Serves one `/graphql` request and counts it in the request metrics.
pub async fn handle(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    request: axum::extract::Request,
) -> Response {
    let started = Instant::now();
    let metrics = state.services.clone();
    let response = serve(state, request_id, request).await;
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

async fn serve(state: AppState, request_id: String, request: axum::extract::Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    if method == Method::GET && state.edge.graphiql && wants_html(&headers) && uri.query().is_none_or(str::is_empty) {
        return Html(GraphiQLSource::build().endpoint("/graphql").title("DXCP").finish()).into_response();
    }
    let principal = match authenticate(&state, &headers, &request_id).await {
        Ok(principal) => principal,
        Err(refused) => return refused,
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
    let batch = match read_batch(&method, &uri, &headers, body).await {
        Ok(batch) => batch,
        Err((status, message)) => return refuse(media, status, ErrorCode::InvalidRequest, &message, &request_id),
    };

    let caller = Caller { principal, request_id };
    let transport = if method == Method::GET { Transport::HttpGet } else { Transport::HttpPost };
    let (is_batch, requests) = match batch {
        BatchRequest::Single(request) => (false, vec![request]),
        BatchRequest::Batch(requests) => (true, requests),
    };
    let admitted = match admit(&state, &caller, requests, transport).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refused(media, refusal, &caller.request_id),
    };
    let operation = if is_batch { Some("batch".to_owned()) } else { admitted[0].root_field.clone() };
    let requests = admitted.into_iter().map(|a| a.request).collect();
    let batch = if is_batch { BatchRequest::Batch(requests) } else { BatchRequest::Single(single(requests)) };

    let Ok(executed) = tokio::time::timeout(state.edge.request_timeout, state.schema.execute_batch(batch)).await else {
        tracing::warn!(request_id = caller.request_id, "request deadline exceeded");
        let status = if media == Media::GraphQLResponseJson { StatusCode::GATEWAY_TIMEOUT } else { StatusCode::OK };
        let message = "the request did not finish within its deadline";
        return refuse(media, status, ErrorCode::Timeout, message, &caller.request_id);
    };
    let (status, answers) = finish(executed, media, &caller.request_id, caller.principal.is_admin());
    tracing::info!(
        request_id = caller.request_id,
        actor = %caller.principal.actor_id,
        status = status.as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "graphql request"
    );
    let had_errors = answers.has_errors();
    let mut response = reply(media, status, &answers);
    response.extensions_mut().insert(OperationLabel(operation));
    if had_errors {
        response.extensions_mut().insert(HadErrors);
    }
    response
}

/// The one request of a non-batch body.
fn single(mut requests: Vec<Request>) -> Request {
    requests.pop().unwrap_or_else(|| Request::new(""))
}

/// Authenticates from the `Authorization` header, before anything is
/// parsed; a refusal is the finished 401.
async fn authenticate(state: &AppState, headers: &HeaderMap, request_id: &str) -> Result<Principal, Response> {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let verified = match bearer_token(authorization) {
        Ok(token) => state.auth.authenticate(token).await,
        Err(err) => Err(err),
    };
    verified.map_err(|err: AuthError| {
        tracing::info!(request_id, reason = %err, "request refused: unauthenticated");
        let media = negotiate(headers).unwrap_or(Media::Json);
        let message = "a valid bearer token is required";
        let mut response = refuse(media, StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message, request_id);
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    })
}

/// Reads the GET query string or the POST JSON body into requests, and
/// refuses empty or oversized batches before any document is parsed.
async fn read_batch(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<BatchRequest, (StatusCode, String)> {
    let bad = |message: &str| (StatusCode::BAD_REQUEST, message.to_owned());
    let batch = if *method == Method::GET {
        // The parser's message would echo the client's text: say what is wrong instead.
        let request = parse_query_string(uri.query().unwrap_or_default())
            .map_err(|_| bad("the query string is not a GraphQL request (query, operationName, variables)"))?;
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
        // Variables are values too: bound their nesting before serde recurses.
        prescan(&bytes, Syntax::Json).map_err(|message| bad(&message))?;
        serde_json::from_slice::<BatchRequest>(&bytes).map_err(|_| bad("the body is not a GraphQL request in JSON"))?
    };
    // async-graphql defaults a missing `query` to "", but the parameter is
    // required (we have no persisted documents): a request without one is
    // not a well-formed GraphQL-over-HTTP request, so 400 whatever the
    // Accept, rather than a 200 parse error (graphql-http 8764, 3E3A).
    if batch.iter().any(|request| request.query.trim().is_empty()) {
        return Err(bad("the request has no GraphQL document in `query`"));
    }
    match &batch {
        BatchRequest::Batch(requests) if requests.len() > MAX_BATCH => {
            Err(bad(&format!("a batch may hold at most {MAX_BATCH} operations")))
        }
        BatchRequest::Batch(requests) if requests.is_empty() => Err(bad("empty batch")),
        _ => Ok(batch),
    }
}

/// The answer to an operation that was not admitted.
fn refused(media: Media, refusal: Refusal, request_id: &str) -> Response {
    match refusal {
        Refusal::Document(message) => {
            refuse(media, request_error_status(media), ErrorCode::InvalidRequest, &message, request_id)
        }
        Refusal::MutationOverGet => {
            let message = "only queries may be sent with GET; use POST";
            let mut response =
                refuse(media, StatusCode::METHOD_NOT_ALLOWED, ErrorCode::InvalidRequest, message, request_id);
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        Refusal::RateLimited(err) => rate_limited(media, &err, request_id),
    }
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

/// Stamps every answer (codes, request id, no operator hints for
/// non-admins) and picks the status code.
fn finish(response: BatchResponse, media: Media, request_id: &str, is_admin: bool) -> (StatusCode, Answers) {
    let mut status = StatusCode::OK;
    let mut finish_one = |mut r: GqlResponse| {
        stamp_response(&mut r, request_id, is_admin);
        // A request error: nothing executed (validation, limits). Its
        // answer has no `data` entry under either media type (GraphQL
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
