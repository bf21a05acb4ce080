//! Rate limits (DESIGN §4 step 3, §9 `DXCP_READ_RPM` / `DXCP_MUTATE_RPM`,
//! §10 Rate limits): buckets per caller, reads and mutations apart; a
//! limited request is not executed and answers `RATE_LIMITED` with the
//! seconds to wait. Checks after the act read the store directly so they do
//! not draw from the buckets under test.

use dxcp::domain::{
    audit::{AuditEvent, AuditOutcome},
    Role,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{
    graphql::{deploy, intent, key},
    storage::{audit_events, records, stored_settings},
    GqlResponse, TestApp, ADMIN, OBSERVER, OWNER,
};

/// Three reads and two mutations per minute per caller.
async fn spawn_with_low_limits() -> TestApp {
    TestApp::builder().env("DXCP_READ_RPM", "3").env("DXCP_MUTATE_RPM", "2").spawn().await
}

async fn read(app: &TestApp, token: &str) -> GqlResponse {
    app.gql_as(Some(token), "query { services { name } }", json!({})).await
}

/// Asserts an executed read.
fn assert_read(response: &GqlResponse, what: &str) {
    assert_eq!(response.status, 200, "{what}: {}", response.body);
    assert!(response.errors().is_empty(), "{what}: {}", response.body);
    assert!(response.data()["services"].is_array(), "{what}: {}", response.body);
}

/// Asserts a refused read: HTTP 429, `RATE_LIMITED`, no data, and the same
/// wait of at least a second in `retryAfterSeconds` and `Retry-After`.
fn assert_read_limited(response: &GqlResponse) {
    assert_eq!(response.status, 429, "{}", response.body);
    assert_eq!(response.first_code().as_deref(), Some("RATE_LIMITED"), "{}", response.body);
    assert!(response.data().is_null(), "a limited read is not executed: {}", response.body);
    let seconds = response.errors()[0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("retryAfterSeconds is a whole number: {}", response.body));
    assert!(seconds >= 1, "retryAfterSeconds is at least 1: {seconds}");
    let header = response
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("a Retry-After header in seconds: {:?}", response.headers));
    assert_eq!(header, seconds, "Retry-After matches retryAfterSeconds");
}

/// Asserts a refused mutation: `RATE_LIMITED` with `retryAfterSeconds` ≥ 1
/// and a null field (HTTP 200 or 429, DESIGN §10).
fn assert_mutation_limited(response: &GqlResponse, field: &str) {
    assert!([200, 429].contains(&response.status), "{}", response.body);
    assert_eq!(response.first_code().as_deref(), Some("RATE_LIMITED"), "{}", response.body);
    assert!(response.data().is_null() || response.data()[field].is_null(), "{}", response.body);
    let seconds = response.errors()[0]["extensions"]["retryAfterSeconds"].as_u64().unwrap_or(0);
    assert!(seconds >= 1, "retryAfterSeconds is at least 1: {}", response.body);
}

fn accepted(response: &GqlResponse) -> String {
    let id = response.ok()["deploy"]["id"].as_str();
    id.unwrap_or_else(|| panic!("the deploy was accepted: {}", response.body)).to_owned()
}

async fn update_settings(app: &TestApp, input: Value) -> GqlResponse {
    app.admin(
        "mutation($input: SystemSettingsInput!, $key: String!) {
            updateSystemSettings(input: $input, idempotencyKey: $key) { readRpm mutateRpm }
        }",
        json!({ "input": input, "key": key() }),
    )
    .await
}

#[tokio::test]
async fn the_fourth_read_of_a_caller_gets_429_rate_limited_with_a_retry_after_while_another_caller_still_reads() {
    let app = spawn_with_low_limits().await;
    for n in 1..=3 {
        assert_read(&read(&app, OBSERVER).await, &format!("read {n}"));
    }

    let fourth = read(&app, OBSERVER).await;
    let other_caller = read(&app, OWNER).await;

    assert_read_limited(&fourth);
    assert_read(&other_caller, "another caller's read");
}

#[tokio::test]
async fn a_caller_whose_reads_are_used_up_can_still_mutate() {
    let app = spawn_with_low_limits().await;
    for n in 1..=3 {
        assert_read(&read(&app, OWNER).await, &format!("read {n}"));
    }
    assert_read_limited(&read(&app, OWNER).await);

    let response = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;

    let id = accepted(&response);
    let stored = records(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id.to_string(), id);
}

#[tokio::test]
async fn a_caller_whose_mutations_are_used_up_can_still_read() {
    let app = spawn_with_low_limits().await;
    accepted(&deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await);
    accepted(&deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging"), &key()).await);

    let third = deploy(&app, OWNER, intent("checkout-web", "1.0.0", "sandbox"), &key()).await;
    let read_after = read(&app, OWNER).await;

    assert_mutation_limited(&third, "deploy");
    assert_read(&read_after, "a read after the mutations ran out");
}

#[tokio::test]
async fn a_rate_limited_deploy_is_not_executed_and_is_audited_denied() {
    let app = spawn_with_low_limits().await;
    accepted(&deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await);
    accepted(&deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging"), &key()).await);
    let before: Vec<Uuid> = audit_events(&app).await.iter().map(|e| e.id).collect();

    let limited = deploy(&app, OWNER, intent("checkout-web", "1.0.0", "sandbox"), &key()).await;

    assert_mutation_limited(&limited, "deploy");
    let stored = records(&app).await;
    assert_eq!(stored.len(), 2, "no record for the limited deploy");
    assert!(stored.iter().all(|r| r.service == "payments-api"), "{stored:#?}");
    let new: Vec<AuditEvent> = audit_events(&app).await.into_iter().filter(|e| !before.contains(&e.id)).collect();
    assert_eq!(new.len(), 1, "one audit event for the refusal: {new:#?}");
    let event = &new[0];
    assert_eq!(event.event_type, "DEPLOY_SUBMIT");
    assert_eq!(event.outcome, AuditOutcome::Denied);
    assert_eq!(event.actor_id, "owner");
    assert_eq!(event.actor_role, Role::DeliveryOwner);
    assert_eq!(event.service_name.as_deref(), Some("checkout-web"));
    assert_eq!(event.environment.as_deref(), Some("sandbox"));
    assert!(event.summary.contains("RATE_LIMITED"), "{}", event.summary);
    let other_caller = deploy(&app, ADMIN, intent("checkout-web", "1.0.0", "sandbox"), &key()).await;
    accepted(&other_caller);
}

#[tokio::test]
async fn raising_read_rpm_through_update_system_settings_takes_effect_at_once() {
    let app = spawn_with_low_limits().await;
    for n in 1..=3 {
        assert_read(&read(&app, OBSERVER).await, &format!("read {n}"));
    }
    assert_read_limited(&read(&app, OBSERVER).await);

    let updated = update_settings(&app, json!({ "readRpm": 10 })).await;

    assert_eq!(updated.ok()["updateSystemSettings"]["readRpm"], 10);
    for n in 1..=10 {
        assert_read(&read(&app, OBSERVER).await, &format!("read {n} under the new limit"));
    }
    assert_read_limited(&read(&app, OBSERVER).await);
}

#[tokio::test]
async fn lowering_read_rpm_through_update_system_settings_takes_effect_at_once() {
    let app = TestApp::spawn().await;

    let updated = update_settings(&app, json!({ "readRpm": 2 })).await;

    assert_eq!(updated.ok()["updateSystemSettings"]["readRpm"], 2);
    assert_read(&read(&app, OBSERVER).await, "read 1");
    assert_read(&read(&app, OBSERVER).await, "read 2");
    assert_read_limited(&read(&app, OBSERVER).await);
}

#[tokio::test]
async fn lowering_mutate_rpm_through_update_system_settings_takes_effect_at_once() {
    let app = TestApp::spawn().await;

    let updated = update_settings(&app, json!({ "mutateRpm": 1 })).await;

    assert_eq!(updated.ok()["updateSystemSettings"]["mutateRpm"], 1);
    accepted(&deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await);
    let limited = deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging"), &key()).await;
    assert_mutation_limited(&limited, "deploy");
    assert_eq!(records(&app).await.len(), 1, "the limited deploy wrote no record");
}

/// Every mutation as `token`, each with arguments its role check refuses.
async fn mutation_as(app: &TestApp, token: &str, mutation: &str) -> GqlResponse {
    let (document, variables) = match mutation {
        "deploy" => {
            return deploy(app, token, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
        }
        "rollback" => (
            "mutation($key: String!) { rollback(deploymentId: \"00000000-0000-0000-0000-000000000000\", idempotencyKey: $key) { id } }",
            json!({ "key": key() }),
        ),
        "cancelDeployment" => (
            "mutation($key: String!) { cancelDeployment(id: \"00000000-0000-0000-0000-000000000000\", idempotencyKey: $key) { id } }",
            json!({ "key": key() }),
        ),
        "registerBuild" => (
            "mutation($input: BuildInput!, $key: String!) { registerBuild(input: $input, idempotencyKey: $key) { version } }",
            json!({ "key": key(), "input": {
                "service": "payments-api", "version": "9.9.9", "artifactRef": "s3://bucket/payments-api.zip",
                "sha256": "a".repeat(64), "sizeBytes": 1024, "contentType": "application/zip",
                "gitSha": "abc", "gitBranch": "main", "ciProvider": "github", "ciRunId": "1",
                "builtAt": "2026-01-01T00:00:00Z",
            }}),
        ),
        "updateSystemSettings" => (
            "mutation($key: String!) { updateSystemSettings(input: { readRpm: 700 }, idempotencyKey: $key) { readRpm } }",
            json!({ "key": key() }),
        ),
        "deprecateRecipe" => (
            "mutation($key: String!) { deprecateRecipe(id: \"standard\", idempotencyKey: $key) { id } }",
            json!({ "key": key() }),
        ),
        other => panic!("no document for {other}"),
    };
    app.gql_as(Some(token), document, variables).await
}

#[tokio::test]
async fn the_rate_limit_is_checked_before_the_role_on_every_mutation() {
    let app = spawn_with_low_limits().await;
    let refused =
        [mutation_as(&app, OBSERVER, "deploy").await, mutation_as(&app, OBSERVER, "updateSystemSettings").await];
    for response in &refused {
        assert_eq!(response.first_code().as_deref(), Some("ROLE_FORBIDDEN"), "within the limit: {}", response.body);
    }

    for mutation in
        ["deploy", "rollback", "cancelDeployment", "registerBuild", "updateSystemSettings", "deprecateRecipe"]
    {
        let response = mutation_as(&app, OBSERVER, mutation).await;

        assert_mutation_limited(&response, mutation);
    }
    let settings = stored_settings(&app).await;
    assert_eq!(settings.read_rpm, 3, "no refused mutation ran");
    let refusals: Vec<String> = audit_events(&app).await.iter().map(|e| e.summary.clone()).collect();
    assert_eq!(refusals.iter().filter(|s| s.contains("ROLE_FORBIDDEN")).count(), 2, "{refusals:#?}");
    assert_eq!(refusals.iter().filter(|s| s.contains("RATE_LIMITED")).count(), 6, "{refusals:#?}");
}
