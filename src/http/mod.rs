//! The HTTP edge: routes, middleware order, and shared state.
//!
//! Layer order (outermost first): request id (so every answer, refusals
//! included, carries `X-Request-Id`), tracing span, CORS, body limit, then
//! the handlers. `/graphql` is our own handler (see `graphql.rs`), not the
//! stock async-graphql-axum service.
//!
//! `/metrics` is on the main router behind a PLATFORM_ADMIN token, unless
//! `DXCP_METRICS_LISTEN` is set: then it is served, without a token, only
//! by [`metrics_router`] on that address, and the main router answers 404.

pub mod document;
pub mod graphql;
pub mod health;
pub mod operation;
pub mod request_id;
pub mod ws;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderName, HeaderValue, Method, Request},
    middleware,
    routing::get,
    Router,
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    trace::TraceLayer,
};

use crate::{auth::Authenticator, config::Introspection, graphql::DxcpSchema, service::Services};

/// Largest request body accepted on `/graphql` (DESIGN §10 allows up to 1 MiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Process-wide state of the HTTP edge; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub schema: DxcpSchema,
    pub services: Services,
    pub auth: Arc<dyn Authenticator>,
    pub edge: EdgeSettings,
    /// Open `/graphql/ws` connections, per address and per actor.
    pub ws_caps: Arc<ws::caps::ConnectionCaps>,
    /// Becomes `true` when the server starts shutting down.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// Edge behaviour chosen by configuration.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    pub introspection: Introspection,
    pub graphiql: bool,
    pub request_timeout: Duration,
    pub cors_origins: Vec<String>,
    /// `/metrics` has its own listener (`DXCP_METRICS_LISTEN`), so the main
    /// router does not serve it.
    pub metrics_listener: bool,
}

pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.edge.cors_origins);
    let mut routes = Router::new()
        .route("/graphql", get(graphql::handle).post(graphql::handle))
        .route("/graphql/ws", get(ws::handle))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if !state.edge.metrics_listener {
        routes = routes.route("/metrics", get(health::admin_metrics));
    }
    routes
        .layer(cors)
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id =
                request.extensions().get::<request_id::RequestId>().map(|r| r.0.clone()).unwrap_or_default();
            // Only method, path and request id: never headers (tokens) or query strings (variables).
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id)
        }))
        .layer(middleware::from_fn(request_id::layer))
        .with_state(state)
}

/// The router of the `DXCP_METRICS_LISTEN` listener: `/metrics` only,
/// without authentication; every answer carries `X-Request-Id`.
pub fn metrics_router(services: Services) -> Router {
    Router::new()
        .route("/metrics", get(health::open_metrics))
        .layer(middleware::from_fn(request_id::layer))
        .with_state(services)
}

/// CORS for the configured origins only. Credentials are never allowed:
/// DXCP authenticates with a bearer header, not cookies.
fn cors_layer(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600))
}
