//! The HTTP edge of `/graphql` (DESIGN §7 conventions and §10 "HTTP edge",
//! GRAPHQL-PRACTICE §3): every refusal with its status and code, proof that
//! a refusal did no work (no SQL statement, no Gate request), content
//! negotiation, limits, introspection and GraphiQL switches, error hygiene
//! and the request deadline. Each graphql-cop check of GRAPHQL-PRACTICE
//! §14.2 has a test named `graphql_cop_<check>_...`.

use std::time::{Duration, Instant};

use dxcp::{http::MAX_BODY_BYTES, service::limits::SETTINGS_TTL};
use reqwest::{header::HeaderMap, RequestBuilder};
use serde_json::{json, Value};

use crate::harness::{
    fake_gate::{FakeGate, Fault, Route},
    graphql::{deployed, id_of, intent, key, running_behind_a_slow_engine, DEPLOY},
    storage::{self, records},
    TestApp, ADMIN, OBSERVER, OWNER,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const VIEWER: &str = "{ viewer { actorId role } }";
const INTROSPECTION: &str = "{ __schema { queryType { name } types { name } } }";

/// One HTTP answer of `/graphql`.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    fn codes(&self) -> Vec<String> {
        self.errors().iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("<none>").to_owned()).collect()
    }

    fn messages(&self) -> Vec<String> {
        self.errors().iter().map(|e| e["message"].as_str().unwrap_or("").to_owned()).collect()
    }

    fn has_data(&self) -> bool {
        self.body.get("data").is_some()
    }

    /// Asserts a refusal: this status, exactly one error with this code, and
    /// no `data` entry at all.
    fn assert_refused(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(self.codes(), vec![code.to_owned()], "codes of {}", self.text);
        assert!(!self.has_data(), "a refusal carries no data: {}", self.text);
    }
}

async fn send(request: RequestBuilder) -> Answer {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("response body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, headers, text, body }
}

/// A POST to `/graphql` with `token` (or none) and no body yet.
fn post(app: &TestApp, token: Option<&str>) -> RequestBuilder {
    let request = app.client.post(app.graphql_url());
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// A POST of a JSON GraphQL request as the admin.
fn post_json(app: &TestApp, body: Value) -> RequestBuilder {
    post(app, Some(ADMIN)).json(&body)
}

/// A GET of `/graphql` with these query parameters as `token`.
fn get(app: &TestApp, token: Option<&str>, params: &[(&str, &str)]) -> RequestBuilder {
    let request = app.client.get(app.graphql_url()).query(params);
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// A server whose deployments go through `gate`.
async fn gated_app(gate: &FakeGate) -> TestApp {
    TestApp::builder().gate(gate).spawn().await
}

/// Sends the request `build` makes and checks that answering it ran no SQL
/// statement and sent the Gate nothing.
///
/// The read rate limiter reads the settings row at most every
/// `SETTINGS_TTL`; a warm-up read just before the request (after the cache
/// has expired, so the warm-up re-reads it) leaves a fresh copy, so any
/// statement counted while the request is answered within the TTL is work
/// the request did. A request that came too late for that is retried.
async fn answered_without_work(app: &TestApp, gate: &FakeGate, build: impl Fn() -> RequestBuilder) -> Answer {
    for _ in 0..5 {
        tokio::time::sleep(SETTINGS_TTL + Duration::from_millis(50)).await;
        let warm = Instant::now();
        app.admin("{ __typename }", json!({})).await.ok();
        let statements = app.statements();
        let gate_requests = gate.requests().len();
        let answer = send(build()).await;
        let ran = app.statements() - statements;
        if warm.elapsed() < SETTINGS_TTL - Duration::from_millis(50) {
            assert_eq!(ran, 0, "the refused request ran {ran} SQL statements; it answered {}", answer.text);
            assert_eq!(gate.requests().len(), gate_requests, "the refused request reached the Gate: {}", answer.text);
            return answer;
        }
    }
    panic!("the machine was too slow to answer a request within the settings cache TTL five times");
}

fn deploy_body(version: &str) -> Value {
    json!({ "query": DEPLOY, "variables": { "intent": intent("payments-api", version, "sandbox"), "key": key() } })
}

/// `n` repetitions of `item`, separated by spaces.
fn repeated(item: impl Fn(usize) -> String, n: usize) -> String {
    (0..n).map(item).collect::<Vec<_>>().join(" ")
}

// --- authentication, methods, content types, body size -------------------

#[tokio::test]
async fn a_request_without_a_token_gets_401_before_its_body_is_read_even_when_malformed() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    let malformed = answered_without_work(&app, &gate, || {
        post(&app, None).header("content-type", "application/json").body("{ this is not json")
    })
    .await;
    malformed.assert_refused(401, "UNAUTHORIZED");
    assert_eq!(malformed.header("www-authenticate"), Some("Bearer"));

    // Not even the content type is looked at before the token.
    let plain_mutation = answered_without_work(&app, &gate, || {
        post(&app, None).header("content-type", "text/plain").body(deploy_body("1.0.0").to_string())
    })
    .await;
    plain_mutation.assert_refused(401, "UNAUTHORIZED");

    let unknown_token =
        answered_without_work(&app, &gate, || post(&app, Some("not-a-token")).json(&deploy_body("1.0.0"))).await;
    unknown_token.assert_refused(401, "UNAUTHORIZED");
    assert!(records(&app).await.is_empty(), "nothing was deployed");
}

#[tokio::test]
async fn a_mutation_in_a_text_plain_body_gets_415_and_does_not_run() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    let answer = answered_without_work(&app, &gate, || {
        post(&app, Some(ADMIN)).header("content-type", "text/plain").body(deploy_body("1.0.0").to_string())
    })
    .await;

    answer.assert_refused(415, "INVALID_REQUEST");
    assert!(records(&app).await.is_empty(), "the mutation did not run");
    assert!(gate.triggers().is_empty(), "no pipeline was triggered");
}

#[tokio::test]
async fn graphql_cop_post_url_encoded_csrf_form_bodies_get_415_and_run_nothing() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;
    let mutation = DEPLOY.replace('\n', " ");

    let urlencoded = answered_without_work(&app, &gate, || {
        let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("query", &mutation).finish();
        post(&app, Some(ADMIN)).header("content-type", "application/x-www-form-urlencoded").body(form)
    })
    .await;
    urlencoded.assert_refused(415, "INVALID_REQUEST");

    let multipart = answered_without_work(&app, &gate, || {
        let body = format!("--b\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n{mutation}\r\n--b--\r\n");
        post(&app, Some(ADMIN)).header("content-type", "multipart/form-data; boundary=b").body(body)
    })
    .await;
    multipart.assert_refused(415, "INVALID_REQUEST");

    let missing =
        answered_without_work(&app, &gate, || post(&app, Some(ADMIN)).body(deploy_body("1.0.0").to_string())).await;
    missing.assert_refused(415, "INVALID_REQUEST");
    assert!(records(&app).await.is_empty(), "nothing was deployed");
}

#[tokio::test]
async fn a_json_content_type_with_charset_utf_8_is_accepted() {
    let app = TestApp::spawn().await;

    for content_type in ["application/json; charset=utf-8", "application/json;charset=UTF-8", "Application/JSON"] {
        let answer = send(
            post(&app, Some(OWNER)).header("content-type", content_type).body(json!({ "query": VIEWER }).to_string()),
        )
        .await;
        assert_eq!(answer.status, 200, "{content_type}: {}", answer.text);
        assert_eq!(answer.body["data"]["viewer"]["actorId"], "owner", "{content_type}: {}", answer.text);
    }
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_runs_nothing() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    for size in [MAX_BODY_BYTES + 1024, 1024 * 1024 + 1] {
        let padding = "x".repeat(size);
        let answer = answered_without_work(&app, &gate, || {
            let mut body = deploy_body("1.0.0");
            body["extensions"] = json!({ "padding": padding });
            post_json(&app, body)
        })
        .await;
        answer.assert_refused(413, "INVALID_REQUEST");
    }
    assert!(records(&app).await.is_empty(), "nothing was deployed");

    // Just under the limit is read (and answered) as usual.
    let mut body = json!({ "query": VIEWER });
    body["extensions"] = json!({ "padding": "x".repeat(MAX_BODY_BYTES - 1024) });
    let answer = send(post_json(&app, body)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["data"]["viewer"]["actorId"], "admin");
}

#[tokio::test]
async fn graphql_cop_mutation_over_get_csrf_gets_405_with_allow_post_and_does_not_run() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;
    let variables = json!({ "intent": intent("payments-api", "1.0.0", "sandbox"), "key": key() }).to_string();

    let answer = answered_without_work(&app, &gate, || {
        get(&app, Some(ADMIN), &[("query", DEPLOY), ("variables", variables.as_str())])
    })
    .await;

    answer.assert_refused(405, "INVALID_REQUEST");
    assert_eq!(answer.header("allow"), Some("POST"));
    assert!(records(&app).await.is_empty(), "the mutation did not run");

    // Named among several operations: the one selected decides.
    let document = format!("query Read {{ __typename }} {}", DEPLOY.replacen("mutation", "mutation Write", 1));
    let selected = answered_without_work(&app, &gate, || {
        get(
            &app,
            Some(ADMIN),
            &[("query", document.as_str()), ("operationName", "Write"), ("variables", variables.as_str())],
        )
    })
    .await;
    selected.assert_refused(405, "INVALID_REQUEST");
    assert!(records(&app).await.is_empty(), "the mutation did not run");
}

#[tokio::test]
async fn graphql_cop_get_method_query_support_get_runs_queries_only_for_a_bearer_token() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    let answer = send(get(&app, Some(OWNER), &[("query", VIEWER)])).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["data"]["viewer"], json!({ "actorId": "owner", "role": "DELIVERY_OWNER" }));

    let with_variables = send(get(
        &app,
        Some(OWNER),
        &[("query", "query($name: String!) { service(name: $name) { name } }"), ("variables", r#"{"name":"ledger"}"#)],
    ))
    .await;
    assert_eq!(with_variables.body["data"]["service"]["name"], "ledger", "{}", with_variables.text);

    // A GET cannot ride on ambient credentials: without the header it is refused.
    let anonymous = answered_without_work(&app, &gate, || get(&app, None, &[("query", VIEWER)])).await;
    anonymous.assert_refused(401, "UNAUTHORIZED");
}

// --- batching ---------------------------------------------------------------

#[tokio::test]
async fn graphql_cop_array_based_query_batching_a_batch_of_6_gets_400_and_none_of_it_runs() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;
    let versions = ["1.0.0", "1.1.0", "1.2.0", "1.0.0", "1.1.0", "1.2.0"];

    let answer = answered_without_work(&app, &gate, || {
        post_json(&app, Value::Array(versions.iter().map(|v| deploy_body(v)).collect()))
    })
    .await;

    answer.assert_refused(400, "INVALID_REQUEST");
    assert!(records(&app).await.is_empty(), "no operation of the batch ran");
    assert!(gate.triggers().is_empty(), "no pipeline was triggered");
    assert!(storage::audit_events(&app).await.is_empty(), "nothing was audited");

    // Ten queries (graphql-cop sends 10+) are refused the same way.
    let queries = answered_without_work(&app, &gate, || {
        post_json(&app, Value::Array((0..10).map(|_| json!({ "query": VIEWER })).collect()))
    })
    .await;
    queries.assert_refused(400, "INVALID_REQUEST");
}

#[tokio::test]
async fn a_batch_within_the_cap_answers_every_operation_in_order() {
    let app = TestApp::spawn().await;
    let batch: Vec<Value> =
        (0..5).map(|i| json!({ "query": format!("query Q{i} {{ n{i}: __typename viewer {{ actorId }} }}") })).collect();

    let answer = send(post_json(&app, Value::Array(batch))).await;

    assert_eq!(answer.status, 200, "{}", answer.text);
    let results = answer.body.as_array().unwrap_or_else(|| panic!("an array of results: {}", answer.text));
    assert_eq!(results.len(), 5);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["data"][format!("n{i}")], "Query", "result {i}: {result}");
        assert_eq!(result["data"]["viewer"]["actorId"], "admin", "result {i}: {result}");
    }
}

// --- content negotiation ------------------------------------------------------

#[tokio::test]
async fn an_accept_header_without_a_json_type_gets_406_and_runs_nothing() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    for accept in ["text/csv", "text/html", "application/xml, text/plain;q=0.5"] {
        let answer =
            answered_without_work(&app, &gate, || post_json(&app, deploy_body("1.0.0")).header("accept", accept)).await;
        answer.assert_refused(406, "INVALID_REQUEST");
        assert!(answer.content_type().starts_with("application/json"), "{accept}: {}", answer.content_type());
    }
    assert!(records(&app).await.is_empty(), "nothing was deployed");

    // Without a token the 401 comes first.
    let anonymous = send(post(&app, None).json(&json!({ "query": VIEWER })).header("accept", "text/csv")).await;
    anonymous.assert_refused(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn request_errors_get_400_without_data_under_graphql_response_json() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    for (what, query) in [
        ("a parse error", "{ viewer { actorId "),
        ("a validation error", "{ viewer { noSuchField } }"),
        ("an undeclared variable", "query { service(name: $name) { name } }"),
    ] {
        let answer = answered_without_work(&app, &gate, || {
            post_json(&app, json!({ "query": query })).header("accept", GRAPHQL_RESPONSE_JSON)
        })
        .await;
        assert_eq!(answer.status, 400, "{what}: {}", answer.text);
        assert!(answer.content_type().starts_with(GRAPHQL_RESPONSE_JSON), "{what}: {}", answer.content_type());
        assert!(!answer.has_data(), "{what}: no data entry: {}", answer.text);
        assert_eq!(answer.codes(), vec!["INVALID_REQUEST"], "{what}: {}", answer.text);
    }

    // A variable of the wrong type is a request error too.
    let coercion = send(
        post_json(&app, json!({ "query": "query($first: Int) { deployments(first: $first) { nodes { id } } }", "variables": { "first": "ten" } }))
            .header("accept", GRAPHQL_RESPONSE_JSON),
    )
    .await;
    assert_eq!(coercion.status, 400, "{}", coercion.text);
    assert!(!coercion.has_data(), "{}", coercion.text);
}

#[tokio::test]
async fn request_errors_get_200_under_application_json() {
    let app = TestApp::spawn().await;

    for (what, query) in
        [("a parse error", "{ viewer { actorId "), ("a validation error", "{ viewer { noSuchField } }")]
    {
        for accept in [Some("application/json"), None] {
            let mut request = post_json(&app, json!({ "query": query }));
            if let Some(accept) = accept {
                request = request.header("accept", accept);
            }
            let answer = send(request).await;
            assert_eq!(answer.status, 200, "{what}, Accept {accept:?}: {}", answer.text);
            assert!(answer.content_type().starts_with("application/json"), "{what}: {}", answer.content_type());
            assert_eq!(answer.codes(), vec!["INVALID_REQUEST"], "{what}: {}", answer.text);
            assert!(!answer.has_data(), "{what}: nothing executed, so no data entry: {}", answer.text);
        }
    }
}

#[tokio::test]
async fn the_preferred_media_type_of_accept_picks_the_response_content_type() {
    let app = TestApp::spawn().await;

    for (accept, expected) in [
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        ("application/json", "application/json"),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json;q=0.5, application/json", "application/json"),
        ("*/*", "application/json"),
    ] {
        let answer = send(post_json(&app, json!({ "query": VIEWER })).header("accept", accept)).await;
        assert_eq!(answer.status, 200, "{accept}: {}", answer.text);
        assert!(answer.content_type().starts_with(expected), "{accept}: got {}", answer.content_type());
        assert_eq!(answer.body["data"]["viewer"]["actorId"], "admin", "{accept}");
    }
}

// --- query limits -------------------------------------------------------------

#[tokio::test]
async fn graphql_cop_introspection_based_circular_query_is_refused_by_the_depth_limit() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;
    // __schema > types > fields > type > ofType ... : 14 levels deep.
    let circular = "{ __schema { types { fields { type { fields { type { fields { type { fields { type { fields { type { name } } } } } } } } } } } } }";

    let answer = answered_without_work(&app, &gate, || {
        post_json(&app, json!({ "query": circular })).header("accept", GRAPHQL_RESPONSE_JSON)
    })
    .await;

    answer.assert_refused(400, "INVALID_REQUEST");
    assert!(answer.messages()[0].contains("nested too deep"), "{}", answer.text);

    // The same shape within the limit is answered.
    let shallow =
        send(post_json(&app, json!({ "query": "{ __schema { types { fields { type { name } } } } }" }))).await;
    assert_eq!(shallow.status, 200, "{}", shallow.text);
    assert!(shallow.body["data"]["__schema"]["types"].is_array(), "{}", shallow.text);
}

/// Every field of a deployment an owner may select, with its lists.
const DEPLOYMENT_SELECTION: &str = "id service environment version recipeId recipeRevision effectiveBehaviorSummary
    state outcome deploymentKind rollbackOf supersededBy engineType createdBy deliveryGroupId changeSummary
    createdAt updatedAt failures { category summary detail actionHint observedAt }
    timeline { key label occurredAt detail }";

fn history_page(first: u32) -> String {
    format!(
        "{{ deployments(first: {first}) {{ nodes {{ {DEPLOYMENT_SELECTION} }}
            edges {{ cursor node {{ {DEPLOYMENT_SELECTION} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )
}

#[tokio::test]
async fn a_connection_of_100_with_a_deep_selection_is_refused_by_the_complexity_limit_before_execution() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    // 100 x (65 fields per node) is over the limit of 5000.
    let answer = answered_without_work(&app, &gate, || {
        post(&app, Some(OWNER)).json(&json!({ "query": history_page(100) })).header("accept", GRAPHQL_RESPONSE_JSON)
    })
    .await;
    answer.assert_refused(400, "INVALID_REQUEST");
    assert!(answer.messages()[0].contains("too complex"), "{}", answer.text);

    // The same selection for a page of 10 costs a tenth and is answered.
    let page = send(post(&app, Some(OWNER)).json(&json!({ "query": history_page(10) }))).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.errors().is_empty(), "{}", page.text);
    assert!(page.body["data"]["deployments"]["nodes"].is_array(), "{}", page.text);

    // A full page of a modest selection fits too (DESIGN §10 leaves room for it).
    let ordinary = send(post(&app, Some(OWNER)).json(&json!({ "query": "{ deployments(first: 100) { nodes { id service environment version state createdAt failures { category summary } } pageInfo { hasNextPage endCursor } } }" }))).await;
    assert!(ordinary.errors().is_empty(), "{}", ordinary.text);
}

#[tokio::test]
async fn graphql_cop_alias_overloading_more_than_30_aliases_is_refused_before_execution() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    for n in [31, 100] {
        let query = format!("{{ {} }}", repeated(|i| format!("a{i}: deployments(first: 1) {{ nodes {{ id }} }}"), n));
        let answer = answered_without_work(&app, &gate, || {
            post_json(&app, json!({ "query": query })).header("accept", GRAPHQL_RESPONSE_JSON)
        })
        .await;
        answer.assert_refused(400, "INVALID_REQUEST");
        // 100 aliased connections are also over the token cap, which is checked first.
        let message = &answer.messages()[0];
        assert!(message.contains("aliases") || message.contains("tokens"), "{n} aliases: {}", answer.text);
    }

    let thirty = format!("{{ {} }}", repeated(|i| format!("a{i}: __typename"), 30));
    let answer = send(post_json(&app, json!({ "query": thirty }))).await;
    assert!(answer.errors().is_empty(), "30 aliases are allowed: {}", answer.text);
    assert_eq!(answer.body["data"]["a29"], "Query");
}

#[tokio::test]
async fn graphql_cop_field_duplication_500_repeated_fields_are_refused_before_execution() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    for query in [
        format!("{{ viewer {{ {} }} }}", repeated(|_| "actorId".to_owned(), 500)),
        format!("{{ deployments(first: 1) {{ nodes {{ {} }} }} }}", repeated(|_| "id".to_owned(), 500)),
        format!("{{ {} }}", repeated(|_| "__typename".to_owned(), 500)),
    ] {
        let answer = answered_without_work(&app, &gate, || {
            post_json(&app, json!({ "query": query })).header("accept", GRAPHQL_RESPONSE_JSON)
        })
        .await;
        answer.assert_refused(400, "INVALID_REQUEST");
    }
}

#[tokio::test]
async fn graphql_cop_directive_overloading_is_refused_before_execution() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;

    for query in [
        // graphql-cop repeats one directive many times on a field.
        format!("{{ viewer {{ actorId {} }} }}", repeated(|_| "@include(if: true)".to_owned(), 50)),
        // Six directives on one field: over the per-field limit of 5.
        format!(
            "{{ deployments(first: 1) {} {{ nodes {{ id }} }} }}",
            repeated(|i| if i % 2 == 0 { "@include(if: true)".to_owned() } else { "@skip(if: false)".to_owned() }, 6)
        ),
    ] {
        let answer = answered_without_work(&app, &gate, || {
            post_json(&app, json!({ "query": query })).header("accept", GRAPHQL_RESPONSE_JSON)
        })
        .await;
        answer.assert_refused(400, "INVALID_REQUEST");
    }
}

#[tokio::test]
async fn graphql_cop_field_suggestions_no_error_message_suggests_a_name() {
    let app = TestApp::spawn().await;

    for query in [
        "{ viewr { actorId } }",
        "{ viewer { actorid } }",
        "{ deployments(frist: 1) { nodes { id } } }",
        "{ deployments(filter: { state: SUCCEDED }) { nodes { id } } }",
        "{ deployments(filter: { servce: \"ledger\" }) { nodes { id } } }",
        "mutation { deplyo(intent: {}) { id } }",
        "{ deployments { nodes { ... on Deploymnt { id } } } }",
    ] {
        let answer = send(post(&app, Some(OWNER)).json(&json!({ "query": query }))).await;
        assert!(!answer.errors().is_empty(), "{query} is refused: {}", answer.text);
        for message in answer.messages() {
            assert!(!message.to_lowercase().contains("did you mean"), "{query}: {message}");
        }
    }
}

// --- introspection and GraphiQL -----------------------------------------------

/// Whether `token` got the schema through introspection.
async fn introspects(app: &TestApp, token: &str) -> bool {
    let answer = send(post(app, Some(token)).json(&json!({ "query": INTROSPECTION }))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let schema = &answer.body["data"]["__schema"];
    if schema.is_object() {
        assert_eq!(schema["queryType"]["name"], "Query", "{}", answer.text);
        assert!(answer.errors().is_empty(), "{}", answer.text);
        true
    } else {
        // async-graphql withholds the schema (`__schema: null`) rather than
        // failing the request; what matters is that nothing of it leaks.
        assert!(schema.is_null(), "{}", answer.text);
        assert!(!answer.text.contains("\"types\""), "no type list leaks: {}", answer.text);
        assert!(!answer.text.contains("Query"), "no type name leaks: {}", answer.text);
        false
    }
}

#[tokio::test]
async fn graphql_cop_introspection_works_for_everyone_when_dxcp_introspection_is_on() {
    let app = TestApp::builder().env("DXCP_INTROSPECTION", "on").spawn().await;

    assert!(introspects(&app, ADMIN).await, "the admin introspects");
    assert!(introspects(&app, OWNER).await, "an owner introspects");
    assert!(introspects(&app, OBSERVER).await, "an observer introspects");
}

#[tokio::test]
async fn graphql_cop_introspection_works_only_for_the_admin_when_dxcp_introspection_is_admin() {
    let app = TestApp::builder().env("DXCP_INTROSPECTION", "admin").spawn().await;

    assert!(introspects(&app, ADMIN).await, "the admin introspects");
    assert!(!introspects(&app, OWNER).await, "an owner is refused");
    assert!(!introspects(&app, OBSERVER).await, "an observer is refused");

    // `__type` is introspection too.
    let answer =
        send(post(&app, Some(OWNER)).json(&json!({ "query": "{ __type(name: \"Deployment\") { fields { name } } }" })))
            .await;
    assert!(!answer.body["data"]["__type"].is_object(), "{}", answer.text);
    assert!(!answer.text.contains("engineExecutionId"), "{}", answer.text);
}

#[tokio::test]
async fn graphql_cop_introspection_is_refused_for_everyone_when_dxcp_introspection_is_off() {
    let app = TestApp::builder().env("DXCP_INTROSPECTION", "off").spawn().await;

    assert!(!introspects(&app, ADMIN).await, "even the admin is refused");
    assert!(!introspects(&app, OWNER).await, "an owner is refused");

    // `__typename` is not introspection and keeps working.
    let answer = send(post(&app, Some(OWNER)).json(&json!({ "query": "{ __typename }" }))).await;
    assert_eq!(answer.body["data"]["__typename"], "Query", "{}", answer.text);
}

#[tokio::test]
async fn graphql_cop_graphql_ide_graphiql_is_served_to_browsers_only_when_dxcp_graphiql_is_on() {
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    let on = TestApp::builder().env("DXCP_GRAPHIQL", "on").spawn().await;
    let page = send(on.client.get(on.graphql_url()).header("accept", browser)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.content_type().starts_with("text/html"), "{}", page.content_type());
    assert!(
        page.text.to_lowercase().contains("graphiql"),
        "the GraphiQL page: {}",
        &page.text[..page.text.len().min(300)]
    );

    let off = TestApp::builder().env("DXCP_GRAPHIQL", "off").spawn().await;
    let anonymous = send(off.client.get(off.graphql_url()).header("accept", browser)).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    assert!(!anonymous.content_type().starts_with("text/html"), "{}", anonymous.content_type());
    assert!(!anonymous.text.to_lowercase().contains("graphiql"));
    let with_token = send(off.client.get(off.graphql_url()).bearer_auth(ADMIN).header("accept", "text/html")).await;
    assert_eq!(with_token.status, 406, "{}", with_token.text);
    assert!(!with_token.text.to_lowercase().contains("graphiql"), "{}", with_token.text);
}

// --- response hygiene -----------------------------------------------------------

#[tokio::test]
async fn graphql_cop_trace_mode_responses_carry_no_extensions_tracing() {
    let app = TestApp::spawn().await;

    for (token, query) in [
        (ADMIN, VIEWER),
        (OWNER, "{ deployments(first: 5) { nodes { id } } environments { name } }"),
        (OWNER, "{ viewer { nope } }"),
    ] {
        for accept in ["application/json", GRAPHQL_RESPONSE_JSON] {
            let answer = send(post(&app, Some(token)).json(&json!({ "query": query })).header("accept", accept)).await;
            assert!(answer.body.is_object(), "{}", answer.text);
            assert!(answer.body["extensions"]["tracing"].is_null(), "{query}: {}", answer.text);
            assert!(!answer.text.contains("\"tracing\""), "{query}: {}", answer.text);
            assert!(!answer.text.contains("\"analyzer\""), "{query}: {}", answer.text);
        }
    }
}

/// Text that must never reach a client: stack frames, exception class
/// names, SQL, library internals and source paths.
const LEAKS: &[&str] = &[
    "stack",
    "backtrace",
    "panicked",
    "exception",
    "\tat ",
    "at com.",
    "select ",
    "insert ",
    "update ",
    "delete from",
    "sqlx",
    "sea_orm",
    "sea-orm",
    "sqlite",
    "postgres",
    "src/",
    ".rs:",
    "traceback",
];

fn assert_no_leak(answer: &Answer, marker: &str) {
    let lower = answer.text.to_lowercase();
    assert!(!answer.text.contains(marker), "the engine body leaked: {}", answer.text);
    for leak in LEAKS {
        assert!(!lower.contains(leak), "{leak:?} leaked: {}", answer.text);
    }
}

#[tokio::test]
async fn graphql_cop_unhandled_errors_no_stack_trace_sql_or_engine_body_reaches_a_client() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;
    let marker = format!("ENGINE-BODY-{}", uuid::Uuid::new_v4().simple());
    let engine_body = format!(
        "{{\"error\":\"Internal Server Error\",\"message\":\"java.lang.IllegalStateException: {marker}\",\
         \"stackTrace\":\"java.lang.IllegalStateException: {marker}\\n\\tat com.netflix.spinnaker.orca.Foo(Foo.java:42)\"}}"
    );
    gate.inject(Route::Trigger, Fault::Raw { status: 500, body: engine_body });

    let failed = send(post(&app, Some(OWNER)).json(&deploy_body("1.0.0"))).await;
    assert_eq!(failed.codes(), vec!["ENGINE_UNAVAILABLE"], "{}", failed.text);
    assert_no_leak(&failed, &marker);
    assert!(failed.errors()[0]["extensions"].get("operatorHint").is_none(), "{}", failed.text);
    gate.clear_faults();

    // Reads with hostile input are refused without internals.
    for (query, variables) in [
        (
            "query($after: String) { deployments(first: 5, after: $after) { nodes { id } } }",
            json!({ "after": "'; DROP TABLE deployment; --" }),
        ),
        ("query($id: ID!) { deployment(id: $id) { id } }", json!({ "id": "not-a-uuid' OR 1=1 --" })),
        (
            "query($id: ID!) { validateRollback(deploymentId: $id) { allowed } }",
            json!({ "id": "00000000-0000-0000-0000-000000000000" }),
        ),
        ("{ deployments(first: 100000000000) { nodes { id } } }", json!({})),
    ] {
        let answer = send(post(&app, Some(OWNER)).json(&json!({ "query": query, "variables": variables }))).await;
        assert_no_leak(&answer, &marker);
    }
}

#[tokio::test]
async fn every_error_carries_a_code_and_the_request_id_of_its_response() {
    let gate = FakeGate::start().await;
    let app = gated_app(&gate).await;
    let running = id_of(&deployed(&app, "payments-api", "1.0.0", "sandbox").await);
    let owner_reads_admin_fields =
        format!("{{ deployment(id: \"{running}\") {{ id engineExecutionId engineExecutionUrl }} }}");

    let cases: Vec<(&str, RequestBuilder)> = vec![
        ("401", post(&app, None).json(&json!({ "query": VIEWER }))),
        ("415", post(&app, Some(ADMIN)).header("content-type", "text/plain").body("{}")),
        ("413", post_json(&app, json!({ "query": VIEWER, "extensions": { "p": "x".repeat(MAX_BODY_BYTES) } }))),
        ("405", get(&app, Some(ADMIN), &[("query", "mutation { __typename }")])),
        ("406", post_json(&app, json!({ "query": VIEWER })).header("accept", "text/csv")),
        ("batch", post_json(&app, Value::Array((0..6).map(|_| json!({ "query": VIEWER })).collect()))),
        ("parse", post_json(&app, json!({ "query": "{" }))),
        ("validation", post_json(&app, json!({ "query": "{ nope }" })).header("accept", GRAPHQL_RESPONSE_JSON)),
        ("complexity", post(&app, Some(OWNER)).json(&json!({ "query": history_page(100) }))),
        ("no query", post_json(&app, json!({ "qeury": VIEWER }))),
        ("guardrail", post(&app, Some(OWNER)).json(&deploy_body("9.9.9"))),
        ("role", post(&app, Some(OBSERVER)).json(&deploy_body("1.1.0"))),
        ("field guard", post(&app, Some(OWNER)).json(&json!({ "query": owner_reads_admin_fields }))),
        ("client id", post(&app, None).header("x-request-id", "client-chosen-42").json(&json!({ "query": VIEWER }))),
    ];
    for (what, request) in cases {
        let answer = send(request).await;
        let request_id = answer.header("x-request-id").unwrap_or_else(|| panic!("{what}: an X-Request-Id")).to_owned();
        assert!(!answer.errors().is_empty(), "{what}: an error: {}", answer.text);
        for error in answer.errors() {
            let code = error["extensions"]["code"].as_str().unwrap_or("");
            assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'), "{what}: {error}");
            assert_eq!(error["extensions"]["requestId"], request_id.as_str(), "{what}: {error}");
        }
        if what == "client id" {
            assert_eq!(request_id, "client-chosen-42");
        }
        if what == "field guard" {
            assert_eq!(answer.codes(), vec!["ROLE_FORBIDDEN", "ROLE_FORBIDDEN"], "{}", answer.text);
            assert_eq!(answer.body["data"]["deployment"]["id"], running.as_str(), "the rest is answered");
        }
    }
}

// --- the request deadline ---------------------------------------------------------

#[tokio::test]
async fn a_read_that_outlives_the_request_deadline_gets_timeout_and_504_under_graphql_response_json() {
    let gate = FakeGate::start().await;
    let (app, id) = running_behind_a_slow_engine(&gate).await;
    let read = json!({ "query": "query($id: ID!) { deployment(id: $id) { id state } }", "variables": { "id": id } });
    let answer = send(post_json(&app, read.clone())).await;
    assert_eq!(answer.body["data"]["deployment"]["state"], "IN_PROGRESS", "{}", answer.text);

    gate.inject(Route::GetExecution, Fault::Delay(Duration::from_secs(10)));
    let started = Instant::now();
    let timed_out = send(post_json(&app, read.clone()).header("accept", GRAPHQL_RESPONSE_JSON)).await;
    let took = started.elapsed();

    timed_out.assert_refused(504, "TIMEOUT");
    assert!(timed_out.content_type().starts_with(GRAPHQL_RESPONSE_JSON), "{}", timed_out.content_type());
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(8), "answered after {took:?}");
    assert!(!gate.requests_on(Route::GetExecution).is_empty(), "the engine was being asked");

    let legacy = send(post_json(&app, read).header("accept", "application/json")).await;
    assert_eq!(legacy.status, 200, "{}", legacy.text);
    assert_eq!(legacy.codes(), vec!["TIMEOUT"], "{}", legacy.text);
    assert!(!legacy.has_data(), "{}", legacy.text);
}
