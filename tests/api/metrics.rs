//! `GET /metrics`: Prometheus text with requests by operation and outcome,
//! guardrail refusals by code, engine calls by operation and error kind, and
//! in-flight deployments by group and environment.

use std::time::Duration;

use serde_json::json;

use crate::harness::{
    deploy_helpers::{deploy, execution_of, id_of, intent, key, wait_for_state},
    fake_gate::{FakeGate, Fault, Route},
    TestApp, ADMIN, OWNER,
};

/// The scraped exposition.
async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(format!("{}/metrics", app.address)).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    response.text().await.expect("metrics text")
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
async fn metrics_are_prometheus_text_served_without_a_token() {
    let app = TestApp::spawn().await;
    app.owner("{ viewer { actorId } }", json!({})).await.ok();

    let response = app.client.get(format!("{}/metrics", app.address)).send().await.expect("scrape");

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
    app.gql_as(None, "query History { viewer { actorId } }", json!({})).await;
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "dxcp_graphql_requests_total", &labels), Some(before + 1.0), "{text}");
    let unauthorized =
        sample(&text, "dxcp_graphql_requests_total", &[("operation", "anonymous"), ("outcome", "unauthorized")]);
    assert_eq!(unauthorized, Some(1.0), "{text}");
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
