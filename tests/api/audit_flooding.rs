//! Audit flooding (security review, issue 11 item 5): refusals are rate
//! limited before the role check (see `rate_limits`), caller text is stored
//! bounded with a visible marker, and a burst of identical refusals is
//! audited as a few events plus one whose `repeatCount` carries the rest,
//! written when its window closes or at graceful shutdown.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{GqlResponse, TestApp, OBSERVER, OWNER};

const MARKER: &str = "…[truncated]";
/// The stored length of a cut id: 200 characters and the marker.
const CUT_ID_CHARS: usize = 200 + 12;

const CANCEL: &str = "mutation($id: ID!, $key: String!) { cancelDeployment(id: $id, idempotencyKey: $key) { id } }";

const DENIALS: &str = "query($filter: AuditEventFilter) {
    auditEvents(filter: $filter, first: 100) {
        nodes { id eventType outcome actorId targetId summary serviceName environment requestId repeatCount }
        pageInfo { hasNextPage }
    }
}";

async fn cancel(app: &TestApp, token: &str, id: &str) -> GqlResponse {
    app.gql_as(Some(token), CANCEL, json!({ "id": id, "key": format!("flood-{}", Uuid::new_v4()) })).await
}

/// `n` cancels of `id(i)` sent at once by `token`; the answers in order.
async fn flood(app: &TestApp, token: &str, n: usize, id: impl Fn(usize) -> String) -> Vec<GqlResponse> {
    join_all((0..n).map(|i| {
        let id = id(i);
        async move { cancel(app, token, &id).await }
    }))
    .await
}

/// The DENIED audit events of `actor`, read as the admin over GraphQL.
async fn denials(app: &TestApp, actor: &str) -> Vec<Value> {
    let response = app.admin(DENIALS, json!({ "filter": { "actorId": actor, "outcome": "DENIED" } })).await;
    let connection = &response.ok()["auditEvents"];
    assert_eq!(connection["pageInfo"]["hasNextPage"], false, "fewer than 100 denials");
    connection["nodes"].as_array().expect("nodes").clone()
}

fn repeat_total(events: &[Value]) -> i64 {
    events.iter().map(|e| e["repeatCount"].as_i64().expect("repeatCount")).sum()
}

/// Polls the audit log until `actor`'s denials count `total` refusals.
async fn denials_counting(app: &TestApp, actor: &str, total: i64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = denials(app, actor).await;
        if repeat_total(&events) >= total || Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sorted_counts(events: &[Value]) -> Vec<i64> {
    let mut counts: Vec<i64> = events.iter().map(|e| e["repeatCount"].as_i64().expect("repeatCount")).collect();
    counts.sort_unstable();
    counts
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

#[tokio::test]
async fn a_flood_of_identical_role_refusals_is_audited_as_a_few_events_whose_counts_add_up_to_the_flood() {
    let window = Duration::from_millis(3000);
    let app = TestApp::builder().env("DXCP_AUDIT_BURST_WINDOW_MS", window.as_millis().to_string()).spawn().await;
    let target = Uuid::new_v4().to_string();
    let started = Instant::now();

    let answers = flood(&app, OBSERVER, 50, |_| target.clone()).await;

    let elapsed = started.elapsed();
    for answer in &answers {
        assert_eq!(answer.first_code().as_deref(), Some("ROLE_FORBIDDEN"), "{}", answer.body);
    }
    let events = denials_counting(&app, "observer", 50).await;
    assert_eq!(repeat_total(&events), 50, "the counts add up to the refusals: {events:#?}");
    for event in &events {
        assert_eq!(event["eventType"], "DEPLOY_CANCEL", "{event}");
        assert_eq!(event["targetId"], target.as_str(), "{event}");
        assert!(event["summary"].as_str().is_some_and(|s| s.contains("ROLE_FORBIDDEN")), "{event}");
    }
    if elapsed < window {
        assert_eq!(sorted_counts(&events), [1, 1, 1, 47], "three written, the rest in one aggregate: {events:#?}");
        let aggregate = events.iter().find(|e| e["repeatCount"] == 47).expect("the aggregate");
        assert!(aggregate["summary"].as_str().is_some_and(|s| s.contains("stands for 47")), "{aggregate}");
    } else {
        let windows = (elapsed.as_millis() / window.as_millis() + 1) as usize;
        assert!(events.len() <= 4 * windows, "at most four rows per window: {events:#?}");
    }
}

#[tokio::test]
async fn a_rate_limited_flood_of_huge_ids_writes_a_bounded_number_of_rows_of_bounded_text() {
    let app = TestApp::builder().env("DXCP_MUTATE_RPM", "5").env("DXCP_AUDIT_BURST_WINDOW_MS", "3000").spawn().await;
    let huge_id = |i: usize| format!("{i:04}{}", "x".repeat(1500));
    let started = Instant::now();

    let answers = flood(&app, OBSERVER, 50, huge_id).await;

    let elapsed = started.elapsed();
    let codes: Vec<String> = answers.iter().map(|a| a.first_code().unwrap_or_default()).collect();
    assert_eq!(codes.iter().filter(|c| *c == "ROLE_FORBIDDEN").count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| *c == "RATE_LIMITED").count(), 45, "{codes:?}");
    for answer in &answers {
        let message = answer.errors()[0]["message"].as_str().unwrap_or_default().to_owned();
        assert!(!message.contains(&"x".repeat(300)), "an error message echoes the id unbounded: {message}");
    }
    let events = denials_counting(&app, "observer", 50).await;
    assert_eq!(repeat_total(&events), 50, "{events:#?}");
    if elapsed < Duration::from_millis(3000) {
        assert!(events.len() <= 9, "5 role refusals, 3 rate refusals and one aggregate: {events:#?}");
    }
    for event in &events {
        assert_eq!(chars(&event["targetId"]), CUT_ID_CHARS, "{event}");
        assert!(event["targetId"].as_str().is_some_and(|id| id.ends_with(MARKER)), "{event}");
        assert!(chars(&event["summary"]) <= 1000 + MARKER.chars().count(), "{event}");
    }
}

#[tokio::test]
async fn caller_text_is_stored_and_echoed_truncated_with_a_visible_marker() {
    let app = TestApp::spawn().await;
    let long_id = format!("{}{}", "a".repeat(200), "b".repeat(1300));
    let long_name = format!("{}{}", "s".repeat(200), "t".repeat(1300));

    let refused_cancel = cancel(&app, OWNER, &long_id).await;
    let refused_deploy = app
        .owner(
            "mutation($intent: DeploymentIntentInput!) { deploy(intent: $intent, idempotencyKey: \"k-1\") { id } }",
            json!({ "intent": {
                "service": long_name, "version": "1.0.0", "environment": long_name, "changeSummary": "ship it",
            }}),
        )
        .await;

    assert_eq!(refused_cancel.first_code().as_deref(), Some("NOT_FOUND"), "{}", refused_cancel.body);
    let message = refused_cancel.errors()[0]["message"].as_str().expect("a message").to_owned();
    assert!(message.contains(&format!("{}{MARKER}", "a".repeat(200))), "{message}");
    assert!(!message.contains('b'), "{message}");
    assert!(refused_deploy.first_code().is_some(), "{}", refused_deploy.body);
    let events = denials(&app, "owner").await;
    let cancel_event = events.iter().find(|e| e["eventType"] == "DEPLOY_CANCEL").expect("the cancel's denial");
    assert_eq!(cancel_event["targetId"].as_str(), Some(format!("{}{MARKER}", "a".repeat(200)).as_str()));
    let deploy_event = events.iter().find(|e| e["eventType"] == "DEPLOY_SUBMIT").expect("the deploy's denial");
    let cut_name = format!("{}{MARKER}", "s".repeat(200));
    assert_eq!(deploy_event["serviceName"].as_str(), Some(cut_name.as_str()), "{deploy_event}");
    assert_eq!(deploy_event["environment"].as_str(), Some(cut_name.as_str()), "{deploy_event}");
    assert_eq!(chars(&deploy_event["targetId"]), CUT_ID_CHARS, "{deploy_event}");
    for event in &events {
        assert!(chars(&event["summary"]) <= 1000 + MARKER.chars().count(), "{event}");
    }
}

#[tokio::test]
async fn refusals_counted_in_an_open_burst_are_written_at_graceful_shutdown() {
    let mut app = TestApp::spawn().await;
    let target = Uuid::new_v4().to_string();
    let answers = flood(&app, OBSERVER, 10, |_| target.clone()).await;
    assert!(answers.iter().all(|a| a.first_code().as_deref() == Some("ROLE_FORBIDDEN")));
    assert_eq!(sorted_counts(&denials(&app, "observer").await), [1, 1, 1], "the 60 s window is still open");

    app.restart().await;

    let events = denials(&app, "observer").await;
    assert_eq!(sorted_counts(&events), [1, 1, 1, 7], "the open burst was written at shutdown: {events:#?}");
}
