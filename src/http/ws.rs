//! `/graphql/ws`: subscriptions over graphql-transport-ws.
//!
//! Browsers cannot set headers on a WebSocket, so the bearer token travels
//! in the `connection_init` payload (`{"authorization": "Bearer <token>"}`,
//! or `Authorization`, or `token`). It is checked with the same
//! authenticator as HTTP; a refused token closes the socket (1002). A client
//! that does not initialise within [`INIT_TIMEOUT`] is disconnected.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use async_graphql::{http::ALL_WEBSOCKET_PROTOCOLS, Data};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{State, WebSocketUpgrade},
    response::Response,
    Extension,
};

use super::{request_id::RequestId, AppState};
use crate::{
    auth::bearer_token,
    domain::ErrorCode,
    graphql::{error::coded, loaders::Loaders},
    service::Caller,
};

/// How long a client may take to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn handle(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        let initialised = Arc::new(AtomicBool::new(false));
        let init_flag = initialised.clone();
        let init_state = state.clone();
        let serve = GraphQLWebSocket::new(socket, state.schema.clone(), protocol)
            .on_connection_init(move |payload| async move {
                let data = authenticate(&init_state, &payload, request_id).await?;
                init_flag.store(true, Ordering::SeqCst);
                Ok(data)
            })
            .serve();
        tokio::pin!(serve);
        tokio::select! {
            _ = &mut serve => {}
            _ = tokio::time::sleep(INIT_TIMEOUT) => {
                if initialised.load(Ordering::SeqCst) {
                    serve.await;
                } else {
                    tracing::info!("websocket closed: no connection_init in time");
                }
            }
        }
    })
}

/// Turns the `connection_init` payload into the per-connection data.
async fn authenticate(
    state: &AppState,
    payload: &serde_json::Value,
    request_id: String,
) -> async_graphql::Result<Data> {
    let header = ["authorization", "Authorization"]
        .iter()
        .find_map(|key| payload.get(*key).and_then(|v| v.as_str()).map(str::to_owned))
        .or_else(|| payload.get("token").and_then(|v| v.as_str()).map(|t| format!("Bearer {t}")));
    let refused = || coded(ErrorCode::Unauthorized, "a valid bearer token is required");
    let token = bearer_token(header.as_deref()).map_err(|_| refused())?;
    let principal = state.auth.authenticate(token).await.map_err(|_| refused())?;
    let mut data = Data::default();
    data.insert(Caller { principal, request_id });
    data.insert(Loaders::uncached(&state.services));
    Ok(data)
}
