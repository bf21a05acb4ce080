//! `deploymentUpdated(id)` over graphql-transport-ws on `/graphql/ws`: the
//! token rides in the `connection_init` payload, each state is delivered
//! once and in order, the stream completes after a terminal state, and a
//! client that never initialises is disconnected.

use std::time::{Duration, Instant};

use dxcp::http::ws::INIT_TIMEOUT;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    connect_async,
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::harness::{
    deploy_helpers::{deployed, execution_of, id_of},
    fake_gate::FakeGate,
    TestApp, OWNER,
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SUBSCRIPTION: &str = "subscription($id: ID!) { deploymentUpdated(id: $id) { id state } }";
/// How long any one expected message may take.
const PATIENCE: Duration = Duration::from_secs(15);

/// What the server did next.
#[derive(Debug)]
enum Event {
    /// A graphql-transport-ws message (pings answered and skipped).
    Message(Value),
    /// A close frame, the stream's end or a transport error.
    Closed(String),
}

async fn connect(app: &TestApp) -> Socket {
    let url = format!("{}/graphql/ws", app.address.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("a websocket request");
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    let (socket, response) = connect_async(request).await.expect("websocket upgrade");
    assert_eq!(
        response.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
        Some("graphql-transport-ws"),
        "the server speaks graphql-transport-ws"
    );
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::Text(message.to_string().into())).await.expect("message sent");
}

/// The next event within `within`; panics when nothing happens.
async fn next_event(socket: &mut Socket, within: Duration) -> Event {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let item = tokio::time::timeout(left, socket.next())
            .await
            .unwrap_or_else(|_| panic!("nothing from the server within {within:?}"));
        match item {
            None => return Event::Closed("stream ended".to_owned()),
            Some(Err(err)) => return Event::Closed(format!("transport: {err}")),
            Some(Ok(Message::Close(frame))) => return Event::Closed(format!("close frame {frame:?}")),
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(text.as_str()).expect("a JSON message");
                match message["type"].as_str() {
                    Some("ping") => send(socket, json!({ "type": "pong" })).await,
                    Some("pong") => {}
                    _ => return Event::Message(message),
                }
            }
            Some(Ok(_)) => {}
        }
    }
}

async fn next_message(socket: &mut Socket) -> Value {
    match next_event(socket, PATIENCE).await {
        Event::Message(message) => message,
        Event::Closed(why) => panic!("the server closed the connection: {why}"),
    }
}

/// Sends `connection_init` with this payload.
async fn init(socket: &mut Socket, payload: Option<Value>) {
    let mut message = json!({ "type": "connection_init" });
    if let Some(payload) = payload {
        message["payload"] = payload;
    }
    send(socket, message).await;
}

async fn subscribe(socket: &mut Socket, id: &str, deployment_id: &str) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": SUBSCRIPTION, "variables": { "id": deployment_id } } }),
    )
    .await;
}

/// A connection initialised with the owner's token and acknowledged.
async fn owner_session(app: &TestApp) -> Socket {
    let mut socket = connect(app).await;
    init(&mut socket, Some(json!({ "authorization": format!("Bearer {OWNER}") }))).await;
    assert_eq!(next_message(&mut socket).await["type"], "connection_ack");
    socket
}

/// The state carried by a `next` message of subscription `id`.
fn state_of(message: &Value, id: &str) -> String {
    assert_eq!(message["type"], "next", "a next message: {message}");
    assert_eq!(message["id"], id, "{message}");
    assert!(message["payload"]["errors"].is_null(), "no errors: {message}");
    message["payload"]["data"]["deploymentUpdated"]["state"]
        .as_str()
        .unwrap_or_else(|| panic!("a state: {message}"))
        .to_owned()
}

/// Asserts the server refuses the connection: it closes it without ever
/// acknowledging, and sends no subscription data.
async fn assert_closed_without_ack(socket: &mut Socket, what: &str) {
    loop {
        match next_event(socket, PATIENCE).await {
            Event::Closed(_) => return,
            Event::Message(message) => {
                assert_ne!(message["type"], "connection_ack", "{what}: acknowledged: {message}");
                assert_ne!(message["type"], "next", "{what}: got data: {message}");
            }
        }
    }
}

#[tokio::test]
async fn a_subscriber_receives_each_state_once_in_order_and_then_complete() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let id = id_of(&deployed(&app, "payments-api", "1.0.0", "sandbox").await);
    let execution = execution_of(&app, &id).await;

    let mut socket = owner_session(&app).await;
    subscribe(&mut socket, "1", &id).await;

    let first = next_message(&mut socket).await;
    assert_eq!(first["payload"]["data"]["deploymentUpdated"]["id"], id.as_str(), "{first}");
    let mut states = vec![state_of(&first, "1")];
    gate.set_status(&execution, "RUNNING");
    states.push(state_of(&next_message(&mut socket).await, "1"));
    gate.succeed(&execution);
    states.push(state_of(&next_message(&mut socket).await, "1"));

    assert_eq!(states, ["ACTIVE", "IN_PROGRESS", "SUCCEEDED"]);
    let last = next_message(&mut socket).await;
    assert_eq!(last, json!({ "type": "complete", "id": "1" }), "the stream completes after SUCCEEDED");
}

/// One connection serves many events: each must read the record's
/// relations as they are then, not as the first event saw them.
#[tokio::test]
async fn each_event_carries_the_timeline_as_it_is_at_that_event() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let id = id_of(&deployed(&app, "payments-api", "1.0.0", "sandbox").await);
    let execution = execution_of(&app, &id).await;

    let mut socket = owner_session(&app).await;
    let query = "subscription($id: ID!) { deploymentUpdated(id: $id) { id state timeline { key } } }";
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": { "id": id } } }),
    )
    .await;

    let timeline_length = |message: &Value| {
        message["payload"]["data"]["deploymentUpdated"]["timeline"]
            .as_array()
            .unwrap_or_else(|| panic!("a timeline: {message}"))
            .len()
    };
    let first = next_message(&mut socket).await;
    assert_eq!(state_of(&first, "1"), "ACTIVE");
    gate.succeed(&execution);
    let last = next_message(&mut socket).await;
    assert_eq!(state_of(&last, "1"), "SUCCEEDED");
    assert!(
        timeline_length(&last) > timeline_length(&first),
        "the SUCCEEDED event shows the entries added since the first event: {first} then {last}"
    );
}

#[tokio::test]
async fn a_subscription_to_an_unknown_deployment_gets_not_found() {
    let app = TestApp::spawn().await;

    let mut socket = owner_session(&app).await;
    subscribe(&mut socket, "7", "00000000-0000-0000-0000-000000000000").await;

    let answer = next_message(&mut socket).await;
    let errors = match answer["type"].as_str() {
        Some("error") => answer["payload"].clone(),
        Some("next") => answer["payload"]["errors"].clone(),
        _ => panic!("an error for an unknown deployment: {answer}"),
    };
    assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{answer}");
}

#[tokio::test]
async fn an_unknown_or_missing_token_cannot_subscribe() {
    let app = TestApp::spawn().await;

    for (what, payload) in [
        ("an unknown token", Some(json!({ "authorization": "Bearer not-a-token" }))),
        ("a token without Bearer", Some(json!({ "authorization": OWNER }))),
        ("an empty payload", Some(json!({}))),
        ("no payload", None),
    ] {
        let mut socket = connect(&app).await;
        init(&mut socket, payload).await;
        // A client that subscribes anyway gets nothing.
        subscribe(&mut socket, "1", "00000000-0000-0000-0000-000000000000").await;
        assert_closed_without_ack(&mut socket, what).await;
    }
}

/// Takes INIT_TIMEOUT (10 s) by design: the server must wait that long.
#[tokio::test]
async fn a_client_that_never_sends_connection_init_is_disconnected() {
    let app = TestApp::spawn().await;
    let mut socket = connect(&app).await;
    let started = Instant::now();

    match next_event(&mut socket, INIT_TIMEOUT + Duration::from_secs(10)).await {
        Event::Closed(_) => {}
        Event::Message(message) => panic!("no message before connection_init: {message}"),
    }

    let waited = started.elapsed();
    assert!(waited >= INIT_TIMEOUT - Duration::from_secs(1), "disconnected after {waited:?}, before the init timeout");
}
