//! `/graphql/ws`: GraphQL over graphql-transport-ws, with every control
//! the HTTP path has.
//!
//! We speak the protocol ourselves rather than through async-graphql's
//! WebSocket adapter, because each `subscribe` must pass through the same
//! admission as an HTTP request (`operation::admit`: document bounds, field
//! and alias caps, the read rate limit, the introspection setting), run
//! under the request deadline, get its own request id, and leave with the
//! same error stamping (codes, request id, no `operatorHint` for
//! non-admins).
//!
//! Browsers cannot set headers on a WebSocket, so the bearer token travels
//! in the `connection_init` payload (`{"authorization": "Bearer <token>"}`,
//! or `Authorization`, or `token`). It is checked like an HTTP token, again
//! before every operation, and the connection is closed (4403) the moment
//! it expires. Frames and messages are limited to the HTTP body limit;
//! connections are capped in total, per client address and per actor; an
//! unauthenticated connection is closed after [`INIT_TIMEOUT`] (4408).

pub mod caps;
mod protocol;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_graphql::{parser::types::OperationType, Request, Response as GqlResponse};
use axum::{
    extract::{
        ws::{Message, WebSocket},
        ConnectInfo, State, WebSocketUpgrade,
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use tokio::{sync::mpsc, task::AbortHandle};

use self::{
    caps::{Place, MAX_OPERATIONS_PER_CONNECTION},
    protocol::{ClientMessage, Close, PROTOCOL},
};
use super::{
    document::{prescan, Syntax},
    operation::{admit, request_error, stamp_response, Admitted, Refusal, Transport},
    request_id::RequestId,
    AppState, MAX_BODY_BYTES,
};
use crate::{
    auth::bearer_token,
    domain::{ErrorCode, Principal},
    service::Caller,
};

/// How long a client may take to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages queued for one slow client before its operations wait.
const OUTBOX: usize = 64;

pub async fn handle(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !offered {
        let message = "Sec-WebSocket-Protocol must offer graphql-transport-ws";
        return refusal(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, message, &request_id);
    }
    let Some(place) = state.ws_caps.admit_address(peer.ip()) else {
        tracing::warn!(peer = %peer.ip(), "websocket refused: connection cap reached");
        let message = "too many WebSocket connections";
        return refusal(StatusCode::TOO_MANY_REQUESTS, ErrorCode::LimitExceeded, message, &request_id);
    };
    upgrade
        .protocols([PROTOCOL])
        .max_message_size(MAX_BODY_BYTES)
        .max_frame_size(MAX_BODY_BYTES)
        .on_upgrade(move |socket| Connection::new(state).run(socket, place))
}

/// A refusal before the upgrade, as a GraphQL error body.
fn refusal(status: StatusCode, code: ErrorCode, message: &str, request_id: &str) -> Response {
    let errors = [request_error(code, message, request_id)];
    (status, Json(serde_json::json!({ "errors": errors }))).into_response()
}

/// The authenticated side of a connection.
struct Session {
    /// The token as sent, checked again before every operation.
    token: String,
    principal: Principal,
    _actor_place: Place<String>,
}

/// What the reader loop does after a message.
enum Next {
    Continue,
    Close(Close, &'static str),
}

struct Connection {
    state: AppState,
    session: Option<Session>,
    init_received: bool,
    /// Running operations by id; each removes itself before its `complete`.
    operations: Arc<Mutex<HashMap<String, AbortHandle>>>,
    outbox: Option<mpsc::Sender<Message>>,
}

impl Connection {
    fn new(state: AppState) -> Self {
        Self { state, session: None, init_received: false, operations: Arc::default(), outbox: None }
    }

    async fn run(mut self, socket: WebSocket, _address_place: Place<std::net::IpAddr>) {
        let (mut sink, mut stream) = socket.split();
        let (outbox, mut outgoing) = mpsc::channel::<Message>(OUTBOX);
        self.outbox = Some(outbox.clone());
        let writer = tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
        });

        let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
        tokio::pin!(init_deadline);
        let stopping = until_stopping(self.state.stopping.clone());
        tokio::pin!(stopping);
        let close = loop {
            let expiry = self.session.as_ref().and_then(|s| s.principal.expires_at);
            tokio::select! {
                () = &mut init_deadline, if self.session.is_none() => {
                    break Some((Close::InitTimeout, "Connection initialisation timeout"));
                }
                () = sleep_until(expiry), if expiry.is_some() => {
                    break Some((Close::Forbidden, "Forbidden: the token has expired"));
                }
                () = &mut stopping => {
                    break Some((Close::GoingAway, "the server is shutting down"));
                }
                message = stream.next() => {
                    let next = match message {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
                        Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
                        Some(Ok(Message::Binary(_))) => Next::Close(Close::BadMessage, "binary messages are not allowed"),
                        // Pings are answered by the WebSocket layer itself.
                        Some(Ok(_)) => Next::Continue,
                    };
                    if let Next::Close(code, reason) = next {
                        break Some((code, reason));
                    }
                }
            }
        };
        if let Some((code, reason)) = close {
            tracing::info!(code = code.code(), reason, "websocket closed by the server");
            let _ = outbox.send(code.frame(reason)).await;
        }
        if let Ok(operations) = self.operations.lock() {
            operations.values().for_each(AbortHandle::abort);
        }
        self.outbox = None;
        drop(outbox);
        let _ = writer.await;
    }

    async fn on_text(&mut self, text: &str) -> Next {
        // Variables are values too: bound their nesting before serde recurses.
        if prescan(text.as_bytes(), Syntax::Json).is_err() {
            return Next::Close(Close::BadMessage, "Invalid message received");
        }
        let Some(message) = ClientMessage::parse(text) else {
            return Next::Close(Close::BadMessage, "Invalid message received");
        };
        match message {
            ClientMessage::ConnectionInit { payload } => self.on_init(payload).await,
            ClientMessage::Ping { .. } => {
                self.send(protocol::pong()).await;
                Next::Continue
            }
            ClientMessage::Pong { .. } => Next::Continue,
            ClientMessage::Subscribe { id, payload } => self.on_subscribe(id, *payload).await,
            ClientMessage::Complete { id } => {
                if let Some(operation) = self.operations.lock().ok().and_then(|mut ops| ops.remove(&id)) {
                    operation.abort();
                }
                Next::Continue
            }
        }
    }

    async fn on_init(&mut self, payload: Option<serde_json::Value>) -> Next {
        if std::mem::replace(&mut self.init_received, true) {
            return Next::Close(Close::TooManyInits, "Too many initialisation requests");
        }
        let Some((token, principal)) = self.authenticate(payload.as_ref()).await else {
            return Next::Close(Close::Forbidden, "Forbidden: a valid bearer token is required");
        };
        let Some(actor_place) = self.state.ws_caps.admit_actor(&principal.actor_id) else {
            tracing::warn!(actor = %principal.actor_id, "websocket refused: per-actor connection cap reached");
            return Next::Close(Close::Forbidden, "LIMIT_EXCEEDED: too many connections for this actor");
        };
        self.session = Some(Session { token, principal, _actor_place: actor_place });
        self.send(protocol::connection_ack()).await;
        Next::Continue
    }

    /// The token of a `connection_init` payload and who it names.
    async fn authenticate(&self, payload: Option<&serde_json::Value>) -> Option<(String, Principal)> {
        let payload = payload?;
        let header = ["authorization", "Authorization"]
            .iter()
            .find_map(|key| payload.get(*key).and_then(|v| v.as_str()).map(str::to_owned))
            .or_else(|| payload.get("token").and_then(|v| v.as_str()).map(|t| format!("Bearer {t}")))?;
        let token = bearer_token(Some(&header)).ok()?.to_owned();
        let principal = self.state.auth.authenticate(&token).await.ok()?;
        Some((token, principal))
    }

    async fn on_subscribe(&mut self, id: String, request: Request) -> Next {
        let Some(session) = &self.session else {
            return Next::Close(Close::Unauthorized, "Unauthorized");
        };
        // The token is checked again for every operation: one that has
        // expired (or is no longer accepted) ends the connection.
        let Ok(principal) = self.state.auth.authenticate(&session.token).await else {
            return Next::Close(Close::Forbidden, "Forbidden: the token is no longer valid");
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let (duplicate, running) = match self.operations.lock() {
            Ok(operations) => (operations.contains_key(&id), operations.len()),
            Err(_) => return Next::Continue,
        };
        if duplicate {
            return Next::Close(Close::DuplicateId, "Subscriber for this id already exists");
        }
        if running >= MAX_OPERATIONS_PER_CONNECTION {
            let message = format!("at most {MAX_OPERATIONS_PER_CONNECTION} operations may run on one connection");
            let error = request_error(ErrorCode::LimitExceeded, &message, &request_id);
            self.send(protocol::error(&id, &[error])).await;
            return Next::Continue;
        }
        let caller = Caller { principal, request_id };
        let admitted = match admit(&self.state, &caller, vec![request], Transport::WebSocket).await {
            Ok(mut admitted) => admitted.pop(),
            Err(refusal) => {
                self.send(protocol::error(&id, &[refused(refusal, &caller.request_id)])).await;
                return Next::Continue;
            }
        };
        let Some(admitted) = admitted else { return Next::Continue };
        let Some(outbox) = self.outbox.clone() else { return Next::Continue };
        let run = Operation {
            id: id.clone(),
            state: self.state.clone(),
            caller,
            outbox,
            operations: self.operations.clone(),
        };
        // Registered before it can finish, so its own removal always finds it.
        if let Ok(mut operations) = self.operations.lock() {
            let task = tokio::spawn(run.execute(admitted));
            operations.insert(id, task.abort_handle());
        }
        Next::Continue
    }

    async fn send(&self, message: Message) {
        if let Some(outbox) = &self.outbox {
            let _ = outbox.send(message).await;
        }
    }
}

/// The error of an operation that was not admitted.
fn refused(refusal: Refusal, request_id: &str) -> async_graphql::ServerError {
    match refusal {
        Refusal::Document(message) => request_error(ErrorCode::InvalidRequest, &message, request_id),
        Refusal::MutationOverGet => request_error(ErrorCode::InvalidRequest, "not allowed here", request_id),
        Refusal::RateLimited(err) => {
            let mut error = request_error(err.code, &err.message, request_id);
            if let (Some(extensions), Some(seconds)) = (error.extensions.as_mut(), err.retry_after_seconds) {
                extensions.set("retryAfterSeconds", seconds);
            }
            error
        }
    }
}

/// One running operation of a connection.
struct Operation {
    id: String,
    state: AppState,
    caller: Caller,
    outbox: mpsc::Sender<Message>,
    operations: Arc<Mutex<HashMap<String, AbortHandle>>>,
}

impl Operation {
    async fn execute(self, admitted: Admitted) {
        let started = Instant::now();
        let is_admin = self.caller.principal.is_admin();
        if admitted.kind == OperationType::Subscription {
            let mut responses = self.state.schema.execute_stream(admitted.request);
            while let Some(mut response) = responses.next().await {
                stamp_response(&mut response, &self.caller.request_id, is_admin);
                if is_request_error(&response) {
                    self.finish(protocol::error(&self.id, &response.errors)).await;
                    return;
                }
                if self.outbox.send(protocol::next(&self.id, &response)).await.is_err() {
                    return;
                }
            }
        } else {
            let executed =
                tokio::time::timeout(self.state.edge.request_timeout, self.state.schema.execute(admitted.request))
                    .await;
            let mut response = executed.unwrap_or_else(|_| {
                let message = "the request did not finish within its deadline";
                GqlResponse::from_errors(vec![request_error(ErrorCode::Timeout, message, &self.caller.request_id)])
            });
            stamp_response(&mut response, &self.caller.request_id, is_admin);
            let outcome = if response.errors.is_empty() { "ok" } else { "error" };
            self.state.services.metrics().request(admitted.root_field.as_deref(), outcome, started.elapsed());
            tracing::info!(
                request_id = self.caller.request_id,
                actor = %self.caller.principal.actor_id,
                duration_ms = started.elapsed().as_millis() as u64,
                "graphql websocket operation"
            );
            if is_request_error(&response) {
                self.finish(protocol::error(&self.id, &response.errors)).await;
                return;
            }
            if self.outbox.send(protocol::next(&self.id, &response)).await.is_err() {
                return;
            }
        }
        self.finish(protocol::complete(&self.id)).await;
    }

    /// Frees the id, then sends the operation's last message, so a client
    /// may reuse the id as soon as it reads that message.
    async fn finish(&self, last: Message) {
        if let Ok(mut operations) = self.operations.lock() {
            operations.remove(&self.id);
        }
        let _ = self.outbox.send(last).await;
    }
}

/// Nothing executed: validation or limits refused the operation.
fn is_request_error(response: &GqlResponse) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Resolves once the server starts shutting down.
async fn until_stopping(mut stopping: tokio::sync::watch::Receiver<bool>) {
    // An error means the sender is gone: the server is stopping too.
    let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
}

/// Sleeps until `at`, or forever when there is no such instant.
async fn sleep_until(at: Option<chrono::DateTime<Utc>>) {
    match at {
        Some(at) => {
            let left = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::time::sleep(left).await;
        }
        None => std::future::pending().await,
    }
}
