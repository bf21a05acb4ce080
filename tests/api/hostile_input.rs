//! Hostile input (issue 11): documents built to crash the server or burn
//! its CPU are refused with a coded error before parsing recursion or
//! validation can hurt, over HTTP and over `/graphql/ws`; and every control
//! of the HTTP edge holds on the WebSocket too (caps, rate limit,
//! introspection setting, deadline, operator hints, request ids,
//! connection and message limits).

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{
    fake_gate::{FakeGate, Fault, Route},
    graphql::{deployed, id_of, intent, key, running_behind_a_slow_engine, DEPLOY},
    ws::{codes, Event, WsClient},
    TestApp, ADMIN, OBSERVER, OWNER,
};

const VIEWER: &str = "{ viewer { actorId } }";
const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// `f(a: [[[…"x"…]]])` nested `levels` deep: the document that aborted the process.
fn deeply_nested_list(levels: usize) -> String {
    format!("{{ service(name: {}\"x\"{}) {{ name }} }}", "[".repeat(levels), "]".repeat(levels))
}

/// Fragments that each spread the next `fan` times, `levels` deep: a few
/// hundred bytes that describe `fan^levels` fields.
fn fragment_bomb(levels: usize, fan: usize) -> String {
    let mut document = String::from("query { ...F0 }");
    for level in 0..levels {
        let spreads = format!("...F{} ", level + 1).repeat(fan);
        document.push_str(&format!(" fragment F{level} on Query {{ {spreads}}}"));
    }
    document.push_str(&format!(" fragment F{levels} on Query {{ viewer {{ actorId role }} }}"));
    document
}

/// POSTs `body` as the observer under `application/graphql-response+json`.
async fn post_as_observer(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(app.graphql_url())
        .bearer_auth(OBSERVER)
        .header("accept", GRAPHQL_RESPONSE_JSON)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn first_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// The server still answers an ordinary query.
async fn assert_alive(app: &TestApp) {
    app.observer(VIEWER, json!({})).await.ok();
}

#[tokio::test]
async fn a_list_argument_nested_5000_deep_is_refused_with_400_and_the_server_lives() {
    let app = TestApp::spawn().await;

    let (status, body) = post_as_observer(&app, json!({ "query": deeply_nested_list(5_000) })).await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body), Some("INVALID_REQUEST"), "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("nested too deep"), "{body}");
    assert!(body.get("data").is_none(), "nothing executed: {body}");
    assert_alive(&app).await;
}

#[tokio::test]
async fn nested_selections_and_object_values_are_bounded_before_parsing_too() {
    let app = TestApp::spawn().await;
    let selections = format!("{}x{}", "{ a ".repeat(3_000), " }".repeat(3_000));
    let objects = format!("{{ service(name: {}1{}) {{ name }} }}", "{a: ".repeat(3_000), "}".repeat(3_000));

    for query in [selections, objects] {
        let (status, body) = post_as_observer(&app, json!({ "query": query })).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(first_code(&body), Some("INVALID_REQUEST"), "{body}");
    }
    assert_alive(&app).await;
}

#[tokio::test]
async fn variables_nested_deeper_than_the_limit_are_refused_before_they_are_read() {
    let app = TestApp::spawn().await;
    // Sent as text, so the test's own JSON library does not refuse it first.
    let body = format!(
        "{{\"query\": \"query($v: [String]) {{ viewer {{ actorId }} }}\", \"variables\": {{\"v\": {}\"x\"{}}}}}",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let response = app
        .client
        .post(app.graphql_url())
        .bearer_auth(OBSERVER)
        .header("content-type", "application/json")
        .header("accept", GRAPHQL_RESPONSE_JSON)
        .body(body)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(first_code(&body), Some("INVALID_REQUEST"), "{body}");
    assert_alive(&app).await;
}

#[tokio::test]
async fn a_document_of_more_tokens_than_the_cap_is_refused_before_it_is_parsed() {
    let app = TestApp::spawn().await;
    let chain: String = (0..900).map(|i| format!(" fragment F{i} on Query {{ ...F{} }}", i + 1)).collect();
    let query = format!("{{ ...F0 }}{chain} fragment F900 on Query {{ __typename }}");

    let (status, body) = post_as_observer(&app, json!({ "query": query })).await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body), Some("INVALID_REQUEST"), "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("tokens"), "{body}");
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_by_the_field_cap_with_fragments_expanded() {
    let app = TestApp::spawn().await;
    let bomb = fragment_bomb(4, 12);
    assert!(bomb.len() < 2_000, "a small document: {} bytes", bomb.len());

    let (status, body) = post_as_observer(&app, json!({ "query": bomb })).await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body), Some("INVALID_REQUEST"), "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap_or_default().contains("fragments expanded"), "{body}");

    // Within the caps, fragments still work.
    let (status, body) = post_as_observer(&app, json!({ "query": fragment_bomb(2, 2) })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["viewer"]["actorId"], "observer", "{body}");
}

#[tokio::test]
async fn aliases_hidden_in_fragments_count_against_the_alias_cap() {
    let app = TestApp::spawn().await;
    let aliases: String = (0..10).map(|i| format!("a{i}: __typename ")).collect();
    let query = format!(
        "{{ ...A ...B ...C ...D }} fragment A on Query {{ {aliases} }} fragment B on Query {{ ...A }} \
                         fragment C on Query {{ ...A }} fragment D on Query {{ ...A }}"
    );

    let (status, body) = post_as_observer(&app, json!({ "query": query })).await;

    assert_eq!(status, 400, "40 aliases once expanded: {body}");
    assert_eq!(first_code(&body), Some("INVALID_REQUEST"), "{body}");
}

#[tokio::test]
async fn fragments_that_spread_each_other_in_a_cycle_are_refused() {
    let app = TestApp::spawn().await;
    let query = "{ ...A } fragment A on Query { viewer { actorId } ...B } fragment B on Query { ...A }";

    let (status, body) = post_as_observer(&app, json!({ "query": query })).await;

    assert_eq!(status, 400, "{body}");
    assert_eq!(first_code(&body), Some("INVALID_REQUEST"), "{body}");
}

/// graphql-js `getIntrospectionQuery()`, verbatim, as GraphiQL, code
/// generators, Postman and schemathesis send it.
const INTROSPECTION_QUERY: &str = include_str!("fixtures/introspection-query.graphql");

#[tokio::test]
async fn the_standard_introspection_query_is_answered_where_introspection_is_allowed() {
    let app = TestApp::spawn().await;

    let (status, body) =
        post_as_observer(&app, json!({ "query": INTROSPECTION_QUERY, "operationName": "IntrospectionQuery" })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    let types = body["data"]["__schema"]["types"].as_array().expect("types");
    assert!(types.iter().any(|t| t["name"] == "Deployment"), "the schema's types are listed");

    let mut ws = WsClient::session(&app, OBSERVER).await;
    let result = ws.execute("1", INTROSPECTION_QUERY, json!({})).await;
    assert!(result["errors"].is_null(), "{result}");
    assert!(result["data"]["__schema"]["queryType"]["name"].is_string(), "{result}");
}

#[tokio::test]
async fn a_malformed_get_request_is_refused_without_echoing_the_clients_text() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}?query=%7Bviewer%7BactorId%7D%7D&variables=%7BCANARY-not-json", app.graphql_url()))
        .bearer_auth(OBSERVER)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 400);
    let text = response.text().await.expect("a body");
    assert!(text.contains("INVALID_REQUEST"), "{text}");
    assert!(!text.contains("CANARY"), "the message does not echo the request: {text}");
}

// --- the same bounds over the WebSocket ---------------------------------------

#[tokio::test]
async fn hostile_documents_over_the_websocket_get_coded_errors_and_the_connection_lives() {
    let app = TestApp::spawn().await;
    let mut ws = WsClient::session(&app, OBSERVER).await;
    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let fields = format!("{{ {} }}", "__typename ".repeat(301));

    for (id, query) in [
        ("nested", deeply_nested_list(5_000)),
        ("bomb", fragment_bomb(4, 12)),
        ("aliases", format!("{{ {aliases} }}")),
        ("fields", fields),
        ("circular", "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }".to_owned()),
    ] {
        let result = ws.execute(id, &query, json!({})).await;
        assert_eq!(codes(&result), ["INVALID_REQUEST"], "{id}: {result}");
    }

    let result = ws.execute("after", VIEWER, json!({})).await;
    assert_eq!(result["data"]["viewer"]["actorId"], "observer", "the connection still serves: {result}");
}

#[tokio::test]
async fn the_read_rate_limit_holds_over_the_websocket() {
    let app = TestApp::builder().env("DXCP_READ_RPM", "3").spawn().await;
    let mut ws = WsClient::session(&app, OBSERVER).await;

    for id in ["1", "2", "3"] {
        let result = ws.execute(id, VIEWER, json!({})).await;
        assert!(result["errors"].is_null(), "within the limit: {result}");
    }
    let limited = ws.execute("4", VIEWER, json!({})).await;
    assert_eq!(codes(&limited), ["RATE_LIMITED"], "{limited}");
    assert!(limited["errors"][0]["extensions"]["retryAfterSeconds"].is_u64(), "{limited}");

    // The same bucket as HTTP: the HTTP side is empty too.
    let over_http = app.observer(VIEWER, json!({})).await;
    assert_eq!(over_http.first_code().as_deref(), Some("RATE_LIMITED"), "{}", over_http.body);
}

#[tokio::test]
async fn a_batch_draws_one_read_token_per_operation() {
    let app = TestApp::builder().env("DXCP_READ_RPM", "5").spawn().await;
    let batch: Vec<Value> = (0..5).map(|_| json!({ "query": VIEWER })).collect();

    let first = app.client.post(app.graphql_url()).bearer_auth(OBSERVER).json(&batch).send().await.expect("sent");
    assert_eq!(first.status().as_u16(), 200);

    let after = app.observer(VIEWER, json!({})).await;
    assert_eq!(after.first_code().as_deref(), Some("RATE_LIMITED"), "five operations used five tokens: {}", after.body);
}

#[tokio::test]
async fn the_introspection_setting_holds_over_the_websocket() {
    let app = TestApp::builder().env("DXCP_INTROSPECTION", "admin").spawn().await;

    let mut observer = WsClient::session(&app, OBSERVER).await;
    let refused = observer.execute("1", "{ __schema { queryType { name } } }", json!({})).await;
    assert!(refused["data"]["__schema"].is_null(), "introspection is refused for the observer: {refused}");

    let mut admin = WsClient::session(&app, ADMIN).await;
    let answered = admin.execute("1", "{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(answered["data"]["__schema"]["queryType"]["name"], "Query", "{answered}");
}

#[tokio::test]
async fn the_request_deadline_holds_over_the_websocket() {
    let gate = FakeGate::start().await;
    let (app, id) = running_behind_a_slow_engine(&gate).await;
    gate.inject(Route::GetExecution, Fault::Delay(Duration::from_secs(10)));

    let mut ws = WsClient::session(&app, OBSERVER).await;
    let result = ws.execute("1", "query($id: ID!) { deployment(id: $id) { id state } }", json!({ "id": id })).await;

    assert_eq!(codes(&result), ["TIMEOUT"], "{result}");
}

#[tokio::test]
async fn operator_hints_reach_only_admins_and_each_operation_has_its_own_request_id_over_the_websocket() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    gate.inject(Route::Trigger, Fault::Status(503));

    let mut owner = WsClient::session(&app, OWNER).await;
    let first =
        owner.execute("1", DEPLOY, json!({ "intent": intent("payments-api", "1.1.0", "sandbox"), "key": key() })).await;
    let second =
        owner.execute("2", DEPLOY, json!({ "intent": intent("payments-api", "1.2.0", "sandbox"), "key": key() })).await;
    for result in [&first, &second] {
        assert_eq!(codes(result), ["ENGINE_UNAVAILABLE"], "{result}");
        assert!(result["errors"][0]["extensions"].get("operatorHint").is_none(), "no hint for an owner: {result}");
    }
    let ids: Vec<&str> =
        [&first, &second].iter().map(|r| r["errors"][0]["extensions"]["requestId"].as_str().unwrap_or("")).collect();
    assert!(!ids[0].is_empty() && ids[0] != ids[1], "one request id per operation: {ids:?}");

    let mut admin = WsClient::session(&app, ADMIN).await;
    let as_admin =
        admin.execute("1", DEPLOY, json!({ "intent": intent("payments-api", "1.1.0", "sandbox"), "key": key() })).await;
    assert_eq!(codes(&as_admin), ["ENGINE_UNAVAILABLE"], "{as_admin}");
    assert!(as_admin["errors"][0]["extensions"]["operatorHint"].is_string(), "an admin sees the hint: {as_admin}");
}

// --- the protocol and connection limits -----------------------------------------

#[tokio::test]
async fn protocol_violations_close_the_connection_with_their_codes() {
    let app = TestApp::spawn().await;
    let within = Duration::from_secs(5);

    let mut early = WsClient::connect(&app).await;
    early.subscribe("1", VIEWER, json!({})).await;
    assert_eq!(early.closed_code(within).await, Some(4401), "subscribe before connection_ack");

    let mut twice = WsClient::session(&app, OBSERVER).await;
    twice.init(Some(json!({ "authorization": format!("Bearer {OBSERVER}") }))).await;
    assert_eq!(twice.closed_code(within).await, Some(4429), "a second connection_init");

    let mut garbage = WsClient::session(&app, OBSERVER).await;
    garbage.send_text("not json".to_owned()).await;
    assert_eq!(garbage.closed_code(within).await, Some(4400), "an invalid message");

    let gate = FakeGate::start().await;
    let gated = TestApp::builder().gate(&gate).spawn().await;
    let id = id_of(&deployed(&gated, "payments-api", "1.0.0", "sandbox").await);
    let mut duplicate = WsClient::session(&gated, OWNER).await;
    let watch = "subscription($id: ID!) { deploymentUpdated(id: $id) { state } }";
    duplicate.subscribe("same", watch, json!({ "id": id })).await;
    assert_eq!(duplicate.next_message().await["type"], "next");
    duplicate.subscribe("same", watch, json!({ "id": id })).await;
    match duplicate.next_event(within).await {
        Event::Closed { code, why } => assert_eq!(code, Some(4409), "a duplicate id: {why}"),
        Event::Message(message) => panic!("closed for a duplicate id, got {message}"),
    }
}

#[tokio::test]
async fn subscriptions_per_connection_are_capped_with_limit_exceeded() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let id = id_of(&deployed(&app, "payments-api", "1.0.0", "sandbox").await);
    let watch = "subscription($id: ID!) { deploymentUpdated(id: $id) { state } }";
    let cap = dxcp::http::ws::caps::MAX_OPERATIONS_PER_CONNECTION;

    let mut ws = WsClient::session(&app, OWNER).await;
    for n in 0..cap {
        ws.subscribe(&n.to_string(), watch, json!({ "id": id })).await;
        assert_eq!(ws.next_message().await["type"], "next", "subscription {n} is served");
    }
    ws.subscribe("one-too-many", watch, json!({ "id": id })).await;
    let refused = ws.next_message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "one-too-many", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{refused}");

    // Completing one frees its place.
    ws.send(json!({ "type": "complete", "id": "0" })).await;
    ws.subscribe("in-its-place", watch, json!({ "id": id })).await;
    let served = ws.next_message().await;
    assert_eq!((served["type"].as_str(), served["id"].as_str()), (Some("next"), Some("in-its-place")), "{served}");
}

#[tokio::test]
async fn connections_per_actor_are_capped_and_the_one_over_is_closed_with_4403() {
    let app = TestApp::spawn().await;
    let cap = dxcp::http::ws::caps::MAX_CONNECTIONS_PER_ACTOR;
    let mut open = Vec::new();
    for _ in 0..cap {
        open.push(WsClient::session(&app, OBSERVER).await);
    }

    let mut over = WsClient::connect(&app).await;
    over.init(Some(json!({ "authorization": format!("Bearer {OBSERVER}") }))).await;
    assert_eq!(over.closed_code(Duration::from_secs(5)).await, Some(4403));

    // Another actor is not affected, and a closed connection frees a place.
    WsClient::session(&app, OWNER).await;
    drop(open.pop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    WsClient::session(&app, OBSERVER).await;
}

#[tokio::test]
async fn connections_per_address_are_capped_before_authentication() {
    let app = TestApp::spawn().await;
    let cap = dxcp::http::ws::caps::MAX_CONNECTIONS_PER_ADDRESS;
    let mut open = Vec::new();
    for _ in 0..cap {
        open.push(WsClient::connect(&app).await);
    }

    assert_eq!(WsClient::try_connect(&app).await.err(), Some(429), "the address is full");
    drop(open);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(WsClient::try_connect(&app).await.is_ok(), "closed connections free their places");
}

#[tokio::test]
async fn a_message_over_the_body_limit_closes_an_unauthenticated_connection() {
    let app = TestApp::spawn().await;
    let mut ws = WsClient::connect(&app).await;

    ws.send_text("x".repeat(dxcp::http::MAX_BODY_BYTES + 1)).await;

    match ws.next_event(Duration::from_secs(5)).await {
        Event::Closed { .. } => {}
        Event::Message(message) => panic!("closed, got {message}"),
    }
    assert_alive(&app).await;
}
