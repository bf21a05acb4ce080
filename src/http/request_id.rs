//! `X-Request-Id`: echoed when the client sent a sane one, generated
//! otherwise, stored in the request extensions and set on every response
//! (401, 405, 413 and 415 included).

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest client-supplied request id we echo; longer ones are replaced.
const MAX_CLIENT_REQUEST_ID: usize = 128;

/// The request id of the request being served.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn layer(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= MAX_CLIENT_REQUEST_ID && v.bytes().all(|b| (0x21..0x7f).contains(&b)))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}
