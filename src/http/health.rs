//! Liveness and readiness probes, and the Prometheus scrape.

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde_json::{json, Value};

use super::{request_id::RequestId, AppState};
use crate::{auth::bearer_token, domain::ErrorCode, service::Services};

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and every migration is applied.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.services.store().is_ready().await {
        (StatusCode::OK, Json(json!({ "status": "ready" })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "reason": "database" })))
    }
}

/// `/metrics` on the main listener: the exposition names delivery groups
/// and environments, so it takes a PLATFORM_ADMIN bearer token (401
/// without a valid token, 403 for any other role), refused with the same
/// coded JSON body as the GraphQL edge's refusals.
pub async fn admin_metrics(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match bearer_token(authorization) {
        Ok(token) => state.auth.authenticate(token).await,
        Err(err) => Err(err),
    };
    match principal {
        Err(err) => {
            tracing::info!(request_id, reason = %err, "metrics scrape refused: unauthenticated");
            let mut response = refusal(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "a valid bearer token is required",
                &request_id,
            );
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Ok(principal) if !principal.is_admin() => {
            tracing::info!(request_id, actor = %principal.actor_id, "metrics scrape refused: not an admin");
            refusal(
                StatusCode::FORBIDDEN,
                ErrorCode::RoleForbidden,
                "metrics need the PLATFORM_ADMIN role",
                &request_id,
            )
        }
        Ok(_) => render(&state.services).await,
    }
}

/// `/metrics` on the `DXCP_METRICS_LISTEN` listener: no authentication,
/// that address is meant for a private scrape network.
pub async fn open_metrics(State(services): State<Services>) -> Response {
    render(&services).await
}

/// Prometheus text exposition.
async fn render(services: &Services) -> Response {
    match services.render_metrics().await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

fn refusal(status: StatusCode, code: ErrorCode, message: &str, request_id: &str) -> Response {
    let body = json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str(), "requestId": request_id } }]
    });
    (status, Json(body)).into_response()
}
