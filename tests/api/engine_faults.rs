//! Engine faults end to end (DESIGN §4 step 12, §5 refresh and stale
//! records, §10 "Engine call errors" and "Deploy and refresh"): the real
//! Gate client against a fake Gate that misbehaves on purpose.

use std::time::{Duration, Instant};

use dxcp::engine::spinnaker::MAX_RESPONSE_BYTES;
use serde_json::{json, Value};

use crate::harness::{
    fake_gate::{FakeGate, Fault, Route},
    graphql::{self, ENVIRONMENT, SERVICE},
    storage, GqlResponse, TestApp, ADMIN, OWNER,
};

/// Longer than the engine timeout the harness sets (1000 ms).
const BEYOND_TIMEOUT: Duration = Duration::from_secs(3);

// --- trigger faults -------------------------------------------------------------

/// What a deploy hit by an engine fault left behind.
struct FaultedDeploys {
    as_admin: GqlResponse,
    as_owner: GqlResponse,
    /// Trigger requests the engine received during the admin's deploy.
    triggers_during_admin_deploy: usize,
    /// The deploy sent after the faults were cleared.
    after: GqlResponse,
}

/// Deploys as the admin (1.1.0), then as the owner (1.2.0), both against
/// the fault; then clears it and deploys 1.0.0 to the same place.
async fn deploy_through_fault(app: &TestApp, gate: &FakeGate, fault: Fault) -> FaultedDeploys {
    gate.inject(Route::Trigger, fault);
    let before = gate.triggers().len();
    let as_admin = graphql::deploy_demo(app, ADMIN, "1.1.0", "faulted-admin").await;
    let triggers_during_admin_deploy = gate.triggers().len() - before;
    let as_owner = graphql::deploy_demo(app, OWNER, "1.2.0", "faulted-owner").await;
    gate.clear_faults();
    let after = graphql::deploy_demo(app, OWNER, "1.0.0", "after-the-fault").await;
    FaultedDeploys { as_admin, as_owner, triggers_during_admin_deploy, after }
}

/// Asserts the refusal of one faulted deploy: the coded error first, no
/// record in the answer, the operator hint only for an admin.
fn assert_refused_with(response: &GqlResponse, code: &str, admin: bool) {
    assert_eq!(response.first_code().as_deref(), Some(code), "{}", response.body);
    assert_eq!(response.data()["deploy"], Value::Null, "{}", response.body);
    let hint = &response.errors()[0]["extensions"]["operatorHint"];
    if admin {
        assert!(hint.as_str().is_some_and(|h| !h.is_empty()), "an admin sees the operator hint: {}", response.body);
    } else {
        assert_eq!(hint, &Value::Null, "an owner never sees the operator hint: {}", response.body);
    }
}

/// Asserts what the store holds for the deploy of `version` that the engine
/// refused: FAILED with one INFRASTRUCTURE failure, and exactly one
/// DEPLOY_SUBMIT audit event, FAILED, naming the code.
async fn assert_failed_cleanly(app: &TestApp, version: &str, code: &str) {
    let response = app
        .admin(
            &format!(
                "query($filter: DeploymentFilter) {{ deployments(filter: $filter, first: 20) {{ nodes {{ {} }} }} }}",
                graphql::ADMIN_FIELDS
            ),
            json!({ "filter": { "service": SERVICE, "environment": ENVIRONMENT } }),
        )
        .await;
    let records: Vec<Value> = response.ok()["deployments"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|r| r["version"] == version)
        .cloned()
        .collect();
    assert_eq!(records.len(), 1, "one record for {version}: {records:?}");
    let record = &records[0];
    assert_eq!(record["state"], "FAILED", "{record}");
    assert_eq!(record["outcome"], "FAILED", "{record}");
    assert_eq!(graphql::failure_categories(record), vec!["INFRASTRUCTURE"], "{record}");
    assert_eq!(record["engineExecutionId"], Value::Null, "the engine never accepted it: {record}");
    assert_eq!(graphql::timeline_keys(record), vec!["SUBMITTED", "ENGINE_REJECTED"], "{record}");

    let id = record["id"].as_str().expect("id");
    let events = graphql::audit_events(app, json!({ "targetId": id })).await;
    assert_eq!(events.len(), 1, "one audit event for {id}: {events:?}");
    assert_eq!(events[0]["eventType"], "DEPLOY_SUBMIT");
    assert_eq!(events[0]["outcome"], "FAILED", "no SUCCESS event for a refused run: {events:?}");
    let summary = events[0]["summary"].as_str().expect("summary");
    assert!(summary.contains(code), "the audit summary names {code}: {summary}");
}

/// The whole contract for one trigger fault.
async fn assert_trigger_fault_is_contained(fault: Fault, code: &str) {
    // Arrange
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;

    // Act
    let deploys = deploy_through_fault(&app, &gate, fault.clone()).await;

    // Assert
    assert_refused_with(&deploys.as_admin, code, true);
    assert_refused_with(&deploys.as_owner, code, false);
    assert_eq!(deploys.triggers_during_admin_deploy, 1, "{fault:?}: the trigger is sent once, never retried");
    assert_failed_cleanly(&app, "1.1.0", code).await;
    assert_failed_cleanly(&app, "1.2.0", code).await;
    let after = graphql::answered(&deploys.after, "deploy");
    assert_eq!(after["state"], "ACTIVE", "{fault:?}: no concurrency slot stays taken: {after}");
    assert_eq!(gate.triggers().len(), 3, "{fault:?}: one trigger per deploy");
}

#[tokio::test]
async fn a_trigger_answered_500_fails_the_deployment_with_engine_unavailable() {
    assert_trigger_fault_is_contained(Fault::Status(500), "ENGINE_UNAVAILABLE").await;
}

#[tokio::test]
async fn a_trigger_answered_503_fails_the_deployment_with_engine_unavailable() {
    assert_trigger_fault_is_contained(Fault::Status(503), "ENGINE_UNAVAILABLE").await;
}

#[tokio::test]
async fn a_trigger_answered_401_fails_the_deployment_with_engine_unauthorized() {
    assert_trigger_fault_is_contained(Fault::Status(401), "ENGINE_UNAUTHORIZED").await;
}

#[tokio::test]
async fn a_trigger_answered_403_fails_the_deployment_with_engine_unauthorized() {
    assert_trigger_fault_is_contained(Fault::Status(403), "ENGINE_UNAUTHORIZED").await;
}

#[tokio::test]
async fn a_trigger_answered_400_fails_the_deployment_with_engine_call_failed() {
    assert_trigger_fault_is_contained(Fault::Status(400), "ENGINE_CALL_FAILED").await;
}

#[tokio::test]
async fn a_trigger_answered_with_an_empty_200_fails_the_deployment_with_engine_call_failed() {
    assert_trigger_fault_is_contained(Fault::EmptyOk, "ENGINE_CALL_FAILED").await;
}

#[tokio::test]
async fn a_trigger_answered_200_without_a_ref_fails_the_deployment_with_engine_call_failed() {
    let no_ref = Fault::Raw { status: 200, body: r#"{"eventId":"0b7c1f5e-4b7e-4d3c-9d6e-2f1a8c3b5e7d"}"#.to_owned() };
    assert_trigger_fault_is_contained(no_ref, "ENGINE_CALL_FAILED").await;
}

#[tokio::test]
async fn a_trigger_answer_larger_than_the_body_cap_fails_the_deployment_with_engine_call_failed() {
    // A well-formed answer with a usable ref, padded past the cap.
    let body = json!({ "ref": "/pipelines/01JOVERSIZED", "padding": "x".repeat(MAX_RESPONSE_BYTES) }).to_string();
    assert_trigger_fault_is_contained(Fault::Raw { status: 200, body }, "ENGINE_CALL_FAILED").await;
}

#[tokio::test]
async fn a_trigger_answered_with_a_login_redirect_fails_the_deployment_with_engine_unauthorized() {
    assert_trigger_fault_is_contained(Fault::Redirect, "ENGINE_UNAUTHORIZED").await;
}

#[tokio::test]
async fn a_trigger_slower_than_the_engine_timeout_fails_the_deployment_with_engine_timeout() {
    assert_trigger_fault_is_contained(Fault::Delay(BEYOND_TIMEOUT), "ENGINE_TIMEOUT").await;
}

#[tokio::test]
async fn a_gate_that_refuses_connections_fails_the_deployment_with_engine_unavailable_and_frees_the_slot() {
    // Arrange: nothing listens at the Gate URL.
    let app = TestApp::builder()
        .env("DXCP_ENGINE", "spinnaker")
        .env("DXCP_SPINNAKER_GATE_URL", crate::harness::unused_local_url())
        .env("DXCP_ENGINE_TIMEOUT_MS", "1000")
        .spawn()
        .await;

    // Act
    let as_admin = graphql::deploy_demo(&app, ADMIN, "1.1.0", "refused-admin").await;
    let as_owner = graphql::deploy_demo(&app, OWNER, "1.2.0", "refused-owner").await;

    // Assert: the owner's deploy reached the engine call, so the admin's
    // failed record held no slot (max one in flight here).
    assert_refused_with(&as_admin, "ENGINE_UNAVAILABLE", true);
    assert_refused_with(&as_owner, "ENGINE_UNAVAILABLE", false);
    assert_failed_cleanly(&app, "1.1.0", "ENGINE_UNAVAILABLE").await;
    assert_failed_cleanly(&app, "1.2.0", "ENGINE_UNAVAILABLE").await;
    let in_flight = storage::records(&app).await.into_iter().filter(|r| !r.state.is_terminal()).count();
    assert_eq!(in_flight, 0, "nothing is left in flight");
}

#[tokio::test]
async fn the_engine_answer_reaches_only_an_admin_operator_hint_and_with_its_secrets_redacted() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let marker = "orca-refused-7f3a";
    let secret = "gate-secret-991";
    let body = format!(
        r#"{{"status":500,"error":"Internal Server Error","message":"{marker}: Authorization: Bearer {secret}"}}"#
    );
    gate.inject(Route::Trigger, Fault::Raw { status: 500, body });

    // Act
    let as_admin = graphql::deploy_demo(&app, ADMIN, "1.1.0", "hint-admin").await;
    let as_owner = graphql::deploy_demo(&app, OWNER, "1.2.0", "hint-owner").await;
    let owner_history =
        app.owner(&format!("{{ deployments(first: 20) {{ nodes {{ {} }} }} }}", graphql::FIELDS), json!({})).await;

    // Assert
    let hint = as_admin.errors()[0]["extensions"]["operatorHint"].as_str().unwrap_or_default().to_owned();
    assert!(hint.contains(marker) && hint.contains("500"), "the admin sees the engine's answer: {hint}");
    assert!(!as_admin.body.to_string().contains(secret), "secrets are redacted: {}", as_admin.body);
    assert_eq!(as_owner.first_code().as_deref(), Some("ENGINE_UNAVAILABLE"));
    assert!(!as_owner.body.to_string().contains(marker), "no engine text for an owner: {}", as_owner.body);
    let history = owner_history.ok().to_string();
    assert_eq!(owner_history.ok()["deployments"]["nodes"].as_array().map(Vec::len), Some(2), "{history}");
    assert!(!history.contains(marker) && !history.contains(secret), "no engine text in records: {history}");
}

#[tokio::test]
async fn retrying_a_deploy_whose_engine_call_failed_with_the_same_key_never_triggers_again() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    gate.inject(Route::Trigger, Fault::Status(503));
    let first = graphql::deploy_demo(&app, OWNER, "1.1.0", "retry-me").await;
    gate.clear_faults();

    // Act
    let retry = graphql::deploy_demo(&app, OWNER, "1.1.0", "retry-me").await;

    // Assert
    assert_eq!(first.first_code().as_deref(), Some("ENGINE_UNAVAILABLE"));
    assert_eq!(gate.triggers().len(), 1, "the key is stored before the engine call, so no second trigger");
    let records = storage::records(&app).await;
    assert_eq!(records.len(), 1, "no second record");
    assert_eq!(records[0].state.as_str(), "FAILED");
    // A replay answers with the original result: the failed record, or the
    // same refusal.
    match retry.first_code() {
        Some(code) => assert_eq!(code, "ENGINE_UNAVAILABLE", "{}", retry.body),
        None => {
            let record = graphql::answered(&retry, "deploy");
            assert_eq!(record["id"], json!(records[0].id.to_string()));
            assert_eq!(record["state"], "FAILED");
        }
    }
    let successes = graphql::audit_events(&app, json!({ "eventType": "DEPLOY_SUBMIT", "outcome": "SUCCESS" })).await;
    assert!(successes.is_empty(), "{successes:?}");
}

// --- read faults ----------------------------------------------------------------

/// A deployment the engine reports RUNNING, read once so it is IN_PROGRESS;
/// returns its id, its execution id and the record as stored.
async fn running_deployment(app: &TestApp, gate: &FakeGate) -> (String, String, Value) {
    let id = graphql::answered_id(&graphql::deploy_demo(app, OWNER, "1.1.0", "running").await, "deploy");
    let execution_id = graphql::read(app, ADMIN, &id).await["engineExecutionId"].as_str().expect("accepted").to_owned();
    gate.set_status(&execution_id, "RUNNING");
    let record = graphql::read(app, ADMIN, &id).await;
    assert_eq!(record["state"], "IN_PROGRESS", "{record}");
    (id, execution_id, record)
}

/// `GET /pipelines/{execution_id}` requests the fake has received.
fn execution_reads(gate: &FakeGate, execution_id: &str) -> usize {
    let path = format!("/pipelines/{execution_id}");
    gate.requests_on(Route::GetExecution).iter().filter(|r| r.path == path).count()
}

#[tokio::test]
async fn a_failed_engine_read_returns_the_running_deployment_exactly_as_stored() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let (id, execution_id, stored) = running_deployment(&app, &gate).await;
    let faults = [
        ("HTTP 500", Fault::Status(500)),
        ("HTTP 404", Fault::Status(404)),
        ("an empty 200", Fault::EmptyOk),
        ("a non-JSON 200", Fault::NotJson),
        ("a delay beyond the timeout", Fault::Delay(BEYOND_TIMEOUT)),
    ];

    for (label, fault) in faults {
        gate.inject(Route::GetExecution, fault);
        let reads_before = execution_reads(&gate, &execution_id);

        // Act
        let record = graphql::read(&app, ADMIN, &id).await;

        // Assert
        assert_eq!(execution_reads(&gate, &execution_id), reads_before + 1, "{label}: the engine was asked");
        assert_eq!(record, stored, "{label}: state, updatedAt, failures and timeline unchanged");
        gate.clear_faults();
    }
}

#[tokio::test]
async fn an_unknown_engine_status_leaves_the_running_deployment_unchanged() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let (id, execution_id, stored) = running_deployment(&app, &gate).await;

    for status in ["REDIRECT", "WHATEVER"] {
        gate.set_status(&execution_id, status);
        let reads_before = execution_reads(&gate, &execution_id);

        // Act
        let record = graphql::read(&app, ADMIN, &id).await;

        // Assert
        assert_eq!(execution_reads(&gate, &execution_id), reads_before + 1, "{status}: the engine was asked");
        assert_eq!(record, stored, "{status}: nothing changes");
    }
}

#[tokio::test]
async fn an_execution_larger_than_the_body_cap_leaves_the_running_deployment_unchanged() {
    // Arrange: the execution finished, but its JSON is past the cap.
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let (id, execution_id, stored) = running_deployment(&app, &gate).await;
    gate.succeed(&execution_id);
    gate.update_execution(&execution_id, |execution| {
        execution["stages"][0]["context"]["manifests"] = json!(["x".repeat(MAX_RESPONSE_BYTES)]);
    });
    let reads_before = execution_reads(&gate, &execution_id);

    // Act
    let record = graphql::read(&app, ADMIN, &id).await;

    // Assert
    assert_eq!(execution_reads(&gate, &execution_id), reads_before + 1, "the engine was asked");
    assert_eq!(record, stored, "an unusable answer changes nothing");

    // The same execution within the cap is read as SUCCEEDED.
    gate.update_execution(&execution_id, |execution| {
        execution["stages"][0]["context"]["manifests"] = json!([]);
    });
    assert_eq!(graphql::read(&app, ADMIN, &id).await["state"], "SUCCEEDED");
}

#[tokio::test]
async fn a_terminal_deployment_is_never_read_from_the_engine_again() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let (id, execution_id, _) = running_deployment(&app, &gate).await;
    gate.succeed(&execution_id);
    let finished = graphql::read(&app, ADMIN, &id).await;
    assert_eq!(finished["state"], "SUCCEEDED", "{finished}");
    let reads_when_finished = execution_reads(&gate, &execution_id);
    // The engine would now say something else; DXCP must not ask.
    gate.set_status(&execution_id, "TERMINAL");

    // Act: reads by id, by another role, and a deploy that refreshes the
    // in-flight records of the same (group, environment) first.
    let reread = graphql::read(&app, ADMIN, &id).await;
    let reread_by_owner = graphql::read(&app, OWNER, &id).await;
    let next = graphql::deploy_demo(&app, OWNER, "1.2.0", "next").await;

    // Assert
    assert_eq!(execution_reads(&gate, &execution_id), reads_when_finished, "no GET for a terminal record");
    assert_eq!(reread, finished);
    assert_eq!(reread_by_owner["state"], "SUCCEEDED");
    assert_eq!(reread_by_owner["updatedAt"], finished["updatedAt"]);
    assert_eq!(graphql::answered(&next, "deploy")["state"], "ACTIVE");
}

#[tokio::test]
async fn a_running_deployment_whose_engine_keeps_failing_becomes_failed_once_stale_and_frees_its_slot() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).env("DXCP_STALE_AFTER_SECONDS", "1").spawn().await;
    let id = graphql::answered_id(&graphql::deploy_demo(&app, OWNER, "1.1.0", "goes-stale").await, "deploy");
    let execution_id =
        graphql::read(&app, ADMIN, &id).await["engineExecutionId"].as_str().expect("accepted").to_owned();
    gate.set_status(&execution_id, "RUNNING");
    // The last usable answer is given during this read, so after `since`.
    let since = Instant::now();
    assert_eq!(graphql::read(&app, ADMIN, &id).await["state"], "IN_PROGRESS");
    gate.inject(Route::GetExecution, Fault::Status(500));

    // Act
    let failed = graphql::wait_for_state_within(&app, &id, "FAILED", Duration::from_secs(10)).await;
    let failed_after = since.elapsed();
    gate.clear_faults();
    let next = graphql::deploy_demo(&app, OWNER, "1.2.0", "after-stale").await;

    // Assert
    assert!(failed_after >= Duration::from_secs(1), "failed only after the stale window: {failed_after:?}");
    assert_eq!(failed["outcome"], "FAILED");
    assert_eq!(graphql::failure_categories(&failed), vec!["INFRASTRUCTURE"], "{failed}");
    let summary = failed["failures"][0]["summary"].as_str().expect("summary");
    assert!(summary.contains("no terminal status observed"), "{summary}");
    assert_eq!(graphql::timeline_keys(&failed), vec!["SUBMITTED", "ENGINE_ACCEPTED", "IN_PROGRESS", "STALE"]);
    assert_eq!(graphql::answered(&next, "deploy")["state"], "ACTIVE", "the stale record's slot is free");
}
