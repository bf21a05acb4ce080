//! Concurrent deploys against the serialized admission (DESIGN §4 steps 4,
//! 10 and 11): requests released together through a barrier on a
//! multi-threaded runtime, through HTTP, with the real Gate client against
//! the fake Gate so engine triggers can be counted.

use std::sync::Arc;
use std::time::Duration;

use dxcp::domain::deployment::DeploymentState;
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::harness::{
    catalog::catalog_with_payments_guardrails,
    fake_gate::{FakeGate, Fault, Route},
    graphql::{self, intent, ENVIRONMENT, GROUP, SERVICE},
    storage, GqlResponse, TestApp, OWNER,
};

/// Mutations allowed per minute in these tests: far above any burst here,
/// so a rate limit can never be what refuses a request.
const GENEROUS_RPM: &str = "100000";
/// A burst of identical refusals is audited as three events and an
/// aggregate written when this window closes (docs/decisions/0005).
const BURST_WINDOW_MS: &str = "300";

async fn app_with_payments_guardrails(gate: &FakeGate, max_concurrent: u32, daily_quota: u32) -> Arc<TestApp> {
    let app = TestApp::builder()
        .gate(gate)
        .catalog(&catalog_with_payments_guardrails(max_concurrent, daily_quota))
        .env("DXCP_MUTATE_RPM", GENEROUS_RPM)
        .env("DXCP_READ_RPM", GENEROUS_RPM)
        .env("DXCP_AUDIT_BURST_WINDOW_MS", BURST_WINDOW_MS)
        .spawn()
        .await;
    Arc::new(app)
}

/// Sends one `deploy` per key as the owner, all released at once, and
/// returns the answers in key order.
async fn deploy_concurrently(app: &Arc<TestApp>, intent: Value, keys: Vec<String>) -> Vec<GqlResponse> {
    let barrier = Arc::new(Barrier::new(keys.len()));
    let tasks: Vec<_> = keys
        .into_iter()
        .map(|key| {
            let (app, barrier, intent) = (Arc::clone(app), Arc::clone(&barrier), intent.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                graphql::deploy_seen_by(&app, OWNER, intent, &key).await
            })
        })
        .collect();
    let mut responses = Vec::new();
    for task in tasks {
        responses.push(task.await.expect("a deploy task finished"));
    }
    responses
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn accepted(responses: &[GqlResponse]) -> Vec<&GqlResponse> {
    responses.iter().filter(|r| r.errors().is_empty()).collect()
}

fn refusal_codes(responses: &[GqlResponse]) -> Vec<String> {
    responses.iter().filter(|r| !r.errors().is_empty()).map(|r| r.first_code().unwrap_or_default()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_deploys_into_one_free_slot_admit_exactly_one_and_deny_the_other_nineteen() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = app_with_payments_guardrails(&gate, 1, 100).await;

    // Act
    let responses = deploy_concurrently(&app, intent(SERVICE, "1.1.0", ENVIRONMENT), keys("slot", 20)).await;

    // Assert
    let admitted = accepted(&responses);
    assert_eq!(admitted.len(), 1, "exactly one deploy is admitted: {:?}", refusal_codes(&responses));
    let id = graphql::answered_id(admitted[0], "deploy");
    assert!(admitted[0].data()["deploy"].is_object(), "the admitted deploy answers with its record");
    assert_eq!(refusal_codes(&responses), vec!["CONCURRENCY_LIMIT_REACHED".to_owned(); 19]);
    for refused in responses.iter().filter(|r| !r.errors().is_empty()) {
        assert_eq!(refused.data()["deploy"], Value::Null, "a refused deploy answers null: {}", refused.body);
    }

    let records = storage::records(&app).await;
    assert_eq!(records.len(), 1, "one record in the store");
    assert_eq!(records[0].id.to_string(), id);
    assert_eq!(records[0].state, DeploymentState::Active);

    let triggers = gate.triggers();
    assert_eq!(triggers.len(), 1, "one engine trigger");
    assert_eq!(triggers[0].json()["parameters"]["dxcpDeploymentId"], json!(id));

    let denied = graphql::denials_counting(&app, json!({ "eventType": "DEPLOY_SUBMIT" }), 19).await;
    for event in &denied {
        let summary = event["summary"].as_str().expect("a summary");
        assert!(summary.contains("CONCURRENCY_LIMIT_REACHED"), "{summary}");
        assert_eq!(event["actorId"], graphql::OWNER_ACTOR);
        assert_eq!(event["serviceName"], SERVICE);
        assert_eq!(event["environment"], ENVIRONMENT);
    }
    let succeeded = graphql::audit_events(&app, json!({ "eventType": "DEPLOY_SUBMIT", "outcome": "SUCCESS" })).await;
    assert_eq!(succeeded.len(), 1, "one successful submit");
    assert_eq!(succeeded[0]["targetId"], json!(id));
    assert_eq!(succeeded[0]["deliveryGroupId"], GROUP);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_deploys_with_one_idempotency_key_create_one_record_and_get_sixteen_identical_answers() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = app_with_payments_guardrails(&gate, 1, 100).await;

    // Act
    let responses =
        deploy_concurrently(&app, intent(SERVICE, "1.2.0", ENVIRONMENT), vec!["one-key".to_owned(); 16]).await;

    // Assert
    for response in &responses {
        assert!(response.errors().is_empty(), "every request gets the one record: {}", response.body);
    }
    let first = responses[0].data().clone();
    assert!(first["deploy"]["id"].is_string(), "{first}");
    assert!(first["deploy"]["updatedAt"].is_string(), "{first}");
    for response in &responses[1..] {
        assert_eq!(response.data(), &first, "identical answers (id, state, updatedAt, timeline...)");
    }
    assert_eq!(first["deploy"]["state"], "ACTIVE", "answered once the engine accepted the run");

    let records = storage::records(&app).await;
    assert_eq!(records.len(), 1, "one record in the store");
    assert_eq!(records[0].id.to_string(), first["deploy"]["id"].as_str().unwrap());
    assert_eq!(gate.triggers().len(), 1, "one engine trigger");
    let submits = graphql::audit_events(&app, json!({ "eventType": "DEPLOY_SUBMIT" })).await;
    assert_eq!(submits.len(), 1, "replays write no audit event: {submits:?}");
    assert_eq!(submits[0]["outcome"], "SUCCESS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deploys_with_one_key_wait_for_a_slow_engine_and_all_get_the_one_accepted_record() {
    // Arrange: the engine takes a while to accept, so the requests that
    // lose the key have to wait for the winner's answer.
    let gate = FakeGate::start().await;
    let app = app_with_payments_guardrails(&gate, 1, 100).await;
    gate.inject(Route::Trigger, Fault::Delay(Duration::from_millis(700)));

    // Act
    let responses =
        deploy_concurrently(&app, intent(SERVICE, "1.2.0", ENVIRONMENT), vec!["slow-key".to_owned(); 8]).await;

    // Assert
    for response in &responses {
        assert!(response.errors().is_empty(), "every request gets the one record: {}", response.body);
        assert_eq!(response.data(), responses[0].data(), "identical answers");
    }
    assert_eq!(responses[0].data()["deploy"]["state"], "ACTIVE", "{}", responses[0].body);
    assert_eq!(storage::records(&app).await.len(), 1, "one record in the store");
    assert_eq!(gate.triggers().len(), 1, "one engine trigger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_deploys_against_a_daily_quota_of_three_create_exactly_three_records() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = app_with_payments_guardrails(&gate, 10, 3).await;

    // Act
    let responses = deploy_concurrently(&app, intent(SERVICE, "1.1.0", ENVIRONMENT), keys("quota", 10)).await;

    // Assert
    assert_eq!(accepted(&responses).len(), 3, "three admitted: {:?}", refusal_codes(&responses));
    assert_eq!(refusal_codes(&responses), vec!["QUOTA_EXCEEDED".to_owned(); 7]);
    let records = storage::records(&app).await;
    assert_eq!(records.len(), 3, "exactly three records in the store");
    let mut admitted_ids: Vec<String> =
        accepted(&responses).into_iter().map(|r| graphql::answered_id(r, "deploy")).collect();
    let mut stored_ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    admitted_ids.sort();
    stored_ids.sort();
    assert_eq!(admitted_ids, stored_ids);
    assert_eq!(gate.triggers().len(), 3, "one engine trigger per record");
    let denied = graphql::denials_counting(&app, json!({ "eventType": "DEPLOY_SUBMIT" }), 7).await;
    assert!(denied.iter().all(|e| e["summary"].as_str().is_some_and(|s| s.contains("QUOTA_EXCEEDED"))), "{denied:?}");
}
