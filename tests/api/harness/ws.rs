//! A graphql-transport-ws client for `/graphql/ws`: what every test that
//! speaks to the WebSocket transport uses.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    connect_async,
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

use super::TestApp;

/// How long any one expected message may take.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// What the server did next.
#[derive(Debug)]
pub enum Event {
    /// A graphql-transport-ws message (pings answered and skipped).
    Message(Value),
    /// A close frame (with its code), the stream's end or a transport error.
    Closed { code: Option<u16>, why: String },
}

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl WsClient {
    /// Opens `/graphql/ws` offering graphql-transport-ws.
    pub async fn connect(app: &TestApp) -> WsClient {
        Self::try_connect(app).await.expect("websocket upgrade")
    }

    /// Opens `/graphql/ws`, or answers the HTTP status of a refused upgrade.
    pub async fn try_connect(app: &TestApp) -> Result<WsClient, u16> {
        let url = format!("{}/graphql/ws", app.address.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().expect("a websocket request");
        request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
        match connect_async(request).await {
            Ok((socket, response)) => {
                assert_eq!(
                    response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
                    Some("graphql-transport-ws"),
                    "the server speaks graphql-transport-ws"
                );
                Ok(WsClient { socket })
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(err) => panic!("websocket connect failed: {err}"),
        }
    }

    /// A connection initialised with `token` and acknowledged.
    pub async fn session(app: &TestApp, token: &str) -> WsClient {
        let mut client = Self::connect(app).await;
        client.init(Some(json!({ "authorization": format!("Bearer {token}") }))).await;
        assert_eq!(client.next_message().await["type"], "connection_ack");
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        // A refused send means the server already closed: the next read says how.
        let _ = self.socket.send(Message::Text(text.into())).await;
    }

    /// Sends `connection_init` with this payload.
    pub async fn init(&mut self, payload: Option<Value>) {
        let mut message = json!({ "type": "connection_init" });
        if let Some(payload) = payload {
            message["payload"] = payload;
        }
        self.send(message).await;
    }

    /// Sends `subscribe` for operation `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next event within `within`; panics when nothing happens.
    pub async fn next_event(&mut self, within: Duration) -> Event {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let item = tokio::time::timeout(left, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("nothing from the server within {within:?}"));
            match item {
                None => return Event::Closed { code: None, why: "stream ended".to_owned() },
                Some(Err(err)) => return Event::Closed { code: None, why: format!("transport: {err}") },
                Some(Ok(Message::Close(frame))) => {
                    return Event::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        why: format!("close frame {frame:?}"),
                    }
                }
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(text.as_str()).expect("a JSON message");
                    match message["type"].as_str() {
                        Some("ping") => self.send(json!({ "type": "pong" })).await,
                        Some("pong") => {}
                        _ => return Event::Message(message),
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn next_message(&mut self) -> Value {
        match self.next_event(PATIENCE).await {
            Event::Message(message) => message,
            Event::Closed { why, .. } => panic!("the server closed the connection: {why}"),
        }
    }

    /// Reads until the server closes; returns the close code. Panics on
    /// an acknowledgement or data first.
    pub async fn closed_code(&mut self, within: Duration) -> Option<u16> {
        loop {
            match self.next_event(within).await {
                Event::Closed { code, .. } => return code,
                Event::Message(message) => {
                    assert_ne!(message["type"], "connection_ack", "acknowledged: {message}");
                    assert_ne!(message["type"], "next", "got data: {message}");
                }
            }
        }
    }

    /// Runs one query or mutation as operation `id` and returns its
    /// single result: the `next` payload, or the errors of an `error` message
    /// as `{"errors": [...]}`.
    pub async fn execute(&mut self, id: &str, query: &str, variables: Value) -> Value {
        self.subscribe(id, query, variables).await;
        let first = self.next_message().await;
        assert_eq!(first["id"], id, "{first}");
        match first["type"].as_str() {
            Some("error") => json!({ "errors": first["payload"] }),
            Some("next") => {
                let last = self.next_message().await;
                assert_eq!(last, json!({ "type": "complete", "id": id }), "a single result completes");
                first["payload"].clone()
            }
            _ => panic!("a result for {id}: {first}"),
        }
    }
}

/// Codes of the errors of a result as [`WsClient::execute`] returns it.
pub fn codes(result: &Value) -> Vec<String> {
    result["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
