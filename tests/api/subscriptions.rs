//! `deploymentUpdated(id)` over graphql-transport-ws on `/graphql/ws`: the
//! token rides in the `connection_init` payload, each state is delivered
//! once and in order, the stream completes after a terminal state, and a
//! client that never initialises is disconnected.

use std::time::{Duration, Instant};

use dxcp::http::ws::INIT_TIMEOUT;
use serde_json::{json, Value};

use crate::harness::{
    fake_gate::FakeGate,
    graphql::{deployed, id_of},
    storage::execution_of,
    ws::{Event, WsClient},
    TestApp, OWNER,
};

const SUBSCRIPTION: &str = "subscription($id: ID!) { deploymentUpdated(id: $id) { id state } }";

async fn subscribe(socket: &mut WsClient, id: &str, deployment_id: &str) {
    socket.subscribe(id, SUBSCRIPTION, json!({ "id": deployment_id })).await;
}

/// A connection initialised with the owner's token and acknowledged.
async fn owner_session(app: &TestApp) -> WsClient {
    WsClient::session(app, OWNER).await
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

#[tokio::test]
async fn a_subscriber_receives_each_state_once_in_order_and_then_complete() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let id = id_of(&deployed(&app, "payments-api", "1.0.0", "sandbox").await);
    let execution = execution_of(&app, &id).await;

    let mut socket = owner_session(&app).await;
    subscribe(&mut socket, "1", &id).await;

    let first = socket.next_message().await;
    assert_eq!(first["payload"]["data"]["deploymentUpdated"]["id"], id.as_str(), "{first}");
    let mut states = vec![state_of(&first, "1")];
    gate.set_status(&execution, "RUNNING");
    states.push(state_of(&socket.next_message().await, "1"));
    gate.succeed(&execution);
    states.push(state_of(&socket.next_message().await, "1"));

    assert_eq!(states, ["ACTIVE", "IN_PROGRESS", "SUCCEEDED"]);
    let last = socket.next_message().await;
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
    socket.subscribe("1", query, json!({ "id": id })).await;

    let timeline_length = |message: &Value| {
        message["payload"]["data"]["deploymentUpdated"]["timeline"]
            .as_array()
            .unwrap_or_else(|| panic!("a timeline: {message}"))
            .len()
    };
    let first = socket.next_message().await;
    assert_eq!(state_of(&first, "1"), "ACTIVE");
    gate.succeed(&execution);
    let last = socket.next_message().await;
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

    let answer = socket.next_message().await;
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
        let mut socket = WsClient::connect(&app).await;
        socket.init(payload).await;
        // A client that subscribes anyway gets nothing.
        subscribe(&mut socket, "1", "00000000-0000-0000-0000-000000000000").await;
        assert_eq!(socket.closed_code(Duration::from_secs(15)).await, Some(4403), "{what}: closed with 4403");
    }
}

/// Takes INIT_TIMEOUT (10 s) by design: the server must wait that long.
#[tokio::test]
async fn a_client_that_never_sends_connection_init_is_disconnected() {
    let app = TestApp::spawn().await;
    let mut socket = WsClient::connect(&app).await;
    let started = Instant::now();

    match socket.next_event(INIT_TIMEOUT + Duration::from_secs(10)).await {
        Event::Closed { code, why } => assert_eq!(code, Some(4408), "closed with 4408: {why}"),
        Event::Message(message) => panic!("no message before connection_init: {message}"),
    }

    let waited = started.elapsed();
    assert!(waited >= INIT_TIMEOUT - Duration::from_secs(1), "disconnected after {waited:?}, before the init timeout");
}

#[tokio::test]
async fn a_subscriber_is_closed_with_1001_when_the_server_shuts_down() {
    let gate = FakeGate::start().await;
    let mut app = TestApp::builder().gate(&gate).spawn().await;
    let id = id_of(&deployed(&app, "payments-api", "1.0.0", "sandbox").await);
    let mut socket = owner_session(&app).await;
    subscribe(&mut socket, "1", &id).await;
    assert_eq!(state_of(&socket.next_message().await, "1"), "ACTIVE");

    app.begin_shutdown();

    match socket.next_event(Duration::from_secs(10)).await {
        Event::Closed { code, why } => assert_eq!(code, Some(1001), "closed as going away: {why}"),
        Event::Message(message) => panic!("closed, got {message}"),
    }
}
