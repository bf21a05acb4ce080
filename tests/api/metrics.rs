//! `GET /metrics`: Prometheus text with requests by operation and outcome,
//! guardrail refusals by code, engine calls by operation and error kind, and
//! in-flight deployments by group and environment. On the main listener it
//! takes a PLATFORM_ADMIN token; with `DXCP_METRICS_LISTEN` it is served
//! only on that address, without a token.

use std::time::Duration;

use serde_json::json;

use crate::harness::{
    fake_gate::{FakeGate, Fault, Route},
    graphql::{deploy, id_of, intent, key, wait_for_state},
    storage::execution_of,
    TestApp, ADMIN, CI, OBSERVER, OWNER,
};

/// The scraped exposition, as an admin on the main listener.
async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(format!("{}/metrics", app.address)).bearer_auth(ADMIN).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    response.text().await.expect("metrics text")
}

/// `GET /metrics` on the main listener with `token` (or none).
async fn get_metrics(app: &TestApp, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}/metrics", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("scrape sent")
}

/// The value of the sample `name{labels}` (labels in any order), if present.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, label_text) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        if series_name != name {
            return None;
        }
        let found: Vec<(&str, &str)> = label_text
            .split(',')
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k, v.trim_matches('"'))))
            .collect();
        let matches = found.len() == labels.len() && labels.iter().all(|label| found.contains(label));
        if matches {
            value.parse().ok()
        } else {
            None
        }
    })
}

async fn value(app: &TestApp, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(&scrape(app).await, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_are_prometheus_text_served_to_an_admin_token() {
    let app = TestApp::spawn().await;
    app.owner("{ viewer { actorId } }", json!({})).await.ok();

    let response = get_metrics(&app, Some(ADMIN)).await;

    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.expect("text");
    assert!(text.contains("# TYPE dxcp_graphql_requests_total counter"), "{text}");
    assert!(text.contains("# TYPE dxcp_graphql_request_duration_seconds histogram"), "{text}");
    // Every line is a comment or `series value` with a number.
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (_, number) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
        assert!(number.parse::<f64>().is_ok(), "a numeric value: {line}");
    }
    assert!(!text.contains(OWNER) && !text.contains(ADMIN), "no token in metrics");
}

#[tokio::test]
async fn a_query_counts_under_its_root_field_with_outcome_ok_whatever_the_client_names_it() {
    let app = TestApp::spawn().await;
    let labels = [("operation", "deployments"), ("outcome", "ok")];
    let before = value(&app, "dxcp_graphql_requests_total", &labels).await;

    // The client's operation name is not a label: the root field is.
    let response = app
        .client
        .post(app.graphql_url())
        .bearer_auth(OWNER)
        .json(&json!({
            "query": "query History { deployments(first: 5) { nodes { id } } }",
            "operationName": "History",
        }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);

    let text = scrape(&app).await;
    assert_eq!(sample(&text, "dxcp_graphql_requests_total", &labels), Some(before + 1.0), "{text}");
    let latency = sample(&text, "dxcp_graphql_request_duration_seconds_count", &[("operation", "deployments")]);
    assert_eq!(latency, Some(1.0), "{text}");

    // A request refused with 401 counts as unauthorized, not ok.
    app.gql_as(None, "query deployments { viewer { actorId } }", json!({})).await;
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "dxcp_graphql_requests_total", &labels), Some(before + 1.0), "{text}");
    let unauthorized =
        sample(&text, "dxcp_graphql_requests_total", &[("operation", "anonymous"), ("outcome", "unauthorized")]);
    assert_eq!(unauthorized, Some(1.0), "{text}");
}

#[tokio::test]
async fn client_operation_names_never_become_metric_labels() {
    // Arrange
    let app = TestApp::spawn().await;
    let other = [("operation", "other"), ("outcome", "ok")];
    let viewer = [("operation", "viewer"), ("outcome", "ok")];
    let before = scrape(&app).await;
    let counted = |text: &str| {
        sample(text, "dxcp_graphql_requests_total", &other).unwrap_or(0.0)
            + sample(text, "dxcp_graphql_requests_total", &viewer).unwrap_or(0.0)
    };

    // Act: 40 distinct client operation names.
    for n in 0..40 {
        let response = app
            .client
            .post(app.graphql_url())
            .bearer_auth(OWNER)
            .json(&json!({ "query": format!("query Probe{n} {{ viewer {{ actorId }} }}"), "operationName": format!("Probe{n}") }))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
    }

    // Assert: counted under a bounded label (the root field, or `other`),
    // never under a name the client chose.
    let after = scrape(&app).await;
    assert!(!after.contains("Probe"), "{after}");
    assert_eq!(counted(&after), counted(&before) + 40.0, "{after}");
    let families = |text: &str| text.lines().filter(|l| l.starts_with("dxcp_graphql_requests_total{")).count();
    assert!(families(&after) <= families(&before) + 1, "one new series at most: {after}");
}

#[tokio::test]
async fn metrics_on_the_main_listener_need_a_platform_admin_token() {
    let app = TestApp::spawn().await;

    for (token, status, code) in [
        (None, 401, "UNAUTHORIZED"),
        (Some("not-a-token"), 401, "UNAUTHORIZED"),
        (Some(OWNER), 403, "ROLE_FORBIDDEN"),
        (Some(OBSERVER), 403, "ROLE_FORBIDDEN"),
        (Some(CI), 403, "ROLE_FORBIDDEN"),
    ] {
        let response = get_metrics(&app, token).await;

        assert_eq!(response.status(), status, "{token:?}");
        assert!(response.headers().contains_key("x-request-id"), "{token:?}");
        if status == 401 {
            assert_eq!(response.headers()["www-authenticate"], "Bearer", "{token:?}");
        }
        let request_id = response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
        let body: serde_json::Value = response.json().await.expect("a JSON refusal");
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{token:?}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["requestId"], request_id.as_str(), "{token:?}: {body}");
        assert!(!body.to_string().contains("dxcp_"), "no metrics in a refusal: {body}");
    }
    assert_eq!(get_metrics(&app, Some(ADMIN)).await.status(), 200);
}

#[tokio::test]
async fn with_a_metrics_listener_metrics_are_served_there_without_a_token_and_not_on_the_main_listener() {
    // Arrange
    let app = TestApp::builder().env("DXCP_METRICS_LISTEN", "127.0.0.1:0").spawn().await;
    let metrics_address = app.metrics_address.clone().expect("a metrics listener");
    assert_ne!(metrics_address, app.address);
    let named = json!({ "query": "query viewer { viewer { actorId } }", "operationName": "viewer" });
    let answered = app.client.post(app.graphql_url()).bearer_auth(OWNER).json(&named).send().await.expect("sent");
    assert_eq!(answered.status(), 200);

    // Act
    let main_anonymous = get_metrics(&app, None).await;
    let main_admin = get_metrics(&app, Some(ADMIN)).await;
    let scraped = app.client.get(format!("{metrics_address}/metrics")).send().await.expect("scrape");
    let graphql_there = app.client.post(format!("{metrics_address}/graphql")).bearer_auth(OWNER).send().await;

    // Assert
    assert_eq!(main_anonymous.status(), 404);
    assert_eq!(main_admin.status(), 404);
    assert_eq!(scraped.status(), 200);
    assert!(scraped.headers().contains_key("x-request-id"));
    let text = scraped.text().await.expect("text");
    let ok = sample(&text, "dxcp_graphql_requests_total", &[("operation", "viewer"), ("outcome", "ok")]);
    assert_eq!(ok, Some(1.0), "{text}");
    assert_eq!(graphql_there.expect("answered").status(), 404, "the metrics listener serves nothing else");
}

#[tokio::test]
async fn the_metrics_listener_stops_with_the_server() {
    let app = TestApp::builder().env("DXCP_METRICS_LISTEN", "127.0.0.1:0").spawn().await;
    let metrics_url = format!("{}/metrics", app.metrics_address.clone().expect("a metrics listener"));
    assert_eq!(reqwest::get(&metrics_url).await.expect("scrape").status(), 200);

    drop(app);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        // A fresh client each time: no pooled connection to reuse.
        if reqwest::Client::new().get(&metrics_url).send().await.is_err() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the metrics listener outlived the server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_refused_deploy_counts_under_its_guardrail_code() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let missing = [("code", "VERSION_NOT_FOUND")];
    let busy = [("code", "CONCURRENCY_LIMIT_REACHED")];
    let before_missing = value(&app, "dxcp_guardrail_refusals_total", &missing).await;

    let refused = deploy(&app, OWNER, intent("payments-api", "9.9.9", "sandbox"), &key()).await;
    assert_eq!(refused.first_code().as_deref(), Some("VERSION_NOT_FOUND"), "{}", refused.body);
    assert_eq!(value(&app, "dxcp_guardrail_refusals_total", &missing).await, before_missing + 1.0);

    // payments allows one deployment at a time in sandbox.
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    first.ok();
    let before_busy = value(&app, "dxcp_guardrail_refusals_total", &busy).await;
    let second = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(second.first_code().as_deref(), Some("CONCURRENCY_LIMIT_REACHED"), "{}", second.body);
    assert_eq!(value(&app, "dxcp_guardrail_refusals_total", &busy).await, before_busy + 1.0);
    assert_eq!(value(&app, "dxcp_guardrail_refusals_total", &missing).await, before_missing + 1.0, "unchanged");
}

#[tokio::test]
async fn engine_calls_count_by_operation_and_error_kind() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let ok = [("operation", "trigger"), ("error", "none")];
    let unavailable = [("operation", "trigger"), ("error", "unavailable")];
    let before_ok = value(&app, "dxcp_engine_calls_total", &ok).await;
    let before_unavailable = value(&app, "dxcp_engine_calls_total", &unavailable).await;

    gate.inject_once(Route::Trigger, Fault::Status(503));
    let failed = deploy(&app, ADMIN, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(failed.first_code().as_deref(), Some("ENGINE_UNAVAILABLE"), "{}", failed.body);
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "dxcp_engine_calls_total", &unavailable), Some(before_unavailable + 1.0), "{text}");
    assert_eq!(sample(&text, "dxcp_engine_calls_total", &ok).unwrap_or(0.0), before_ok, "{text}");

    let accepted = deploy(&app, ADMIN, intent("payments-api", "1.1.0", "sandbox"), &key()).await;
    accepted.ok();
    assert_eq!(gate.triggers().len(), 2, "both deploys reached the Gate");
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "dxcp_engine_calls_total", &ok), Some(before_ok + 1.0), "{text}");
    assert_eq!(sample(&text, "dxcp_engine_calls_total", &unavailable), Some(before_unavailable + 1.0), "{text}");
    let timed = sample(&text, "dxcp_engine_call_duration_seconds_count", &[("operation", "trigger")]);
    assert!(timed.is_some_and(|n| n >= 2.0), "{text}");
}

#[tokio::test]
async fn the_in_flight_gauge_shows_a_deploy_for_its_group_and_environment_until_it_finishes() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let payments_sandbox = [("delivery_group", "payments"), ("environment", "sandbox")];
    assert_eq!(sample(&scrape(&app).await, "dxcp_deployments_in_flight", &payments_sandbox), None);

    let record = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let id = id_of(&record.ok()["deploy"]);
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "dxcp_deployments_in_flight", &payments_sandbox), Some(1.0), "{text}");
    let storefront = [("delivery_group", "storefront"), ("environment", "sandbox")];
    assert_eq!(sample(&text, "dxcp_deployments_in_flight", &storefront), None, "{text}");

    gate.succeed(&execution_of(&app, &id).await);
    wait_for_state(&app, &id, "SUCCEEDED").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = scrape(&app).await;
        let in_flight = sample(&text, "dxcp_deployments_in_flight", &payments_sandbox).unwrap_or(0.0);
        if in_flight == 0.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still in flight after it finished: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
