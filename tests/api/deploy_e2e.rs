//! Deploy, refresh, supersede, fail, roll back and cancel end to end
//! (DESIGN §5, §10 "Deploy and refresh"): GraphQL over HTTP, the real Gate
//! client against the fake Gate, and once on the simulated engine.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{
    fake_gate::FakeGate,
    graphql::{self, ENVIRONMENT, GROUP, OWNER_ACTOR, SERVICE},
    storage, TestApp, ADMIN, OWNER,
};

/// The demo catalogue's `standard` recipe mapping and payments-api builds.
const APPLICATION: &str = "dxcp-demo";
const DEPLOY_PIPELINE: &str = "deploy-standard";
const ROLLBACK_PIPELINE: &str = "rollback-standard";

fn artifact_ref(version: &str) -> String {
    format!("s3://dxcp-demo-artifacts/payments-api/{version}.zip")
}

async fn gate_app() -> (FakeGate, TestApp) {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    (gate, app)
}

/// The engine execution id of a deployment, as the admin sees it.
async fn execution_of(app: &TestApp, id: &str) -> String {
    let record = graphql::read(app, ADMIN, id).await;
    record["engineExecutionId"].as_str().unwrap_or_else(|| panic!("no execution id: {record}")).to_owned()
}

/// Deploys `version` as the owner and lets the engine succeed it; returns its id.
async fn deploy_and_succeed(app: &TestApp, gate: &FakeGate, version: &str) -> String {
    let id =
        graphql::answered_id(&graphql::deploy_demo(app, OWNER, version, &format!("deploy-{version}")).await, "deploy");
    gate.succeed(&execution_of(app, &id).await);
    graphql::wait_for_state_within(app, &id, "SUCCEEDED", Duration::from_secs(5)).await;
    id
}

#[tokio::test]
async fn a_deploy_triggers_the_recipe_pipeline_on_gate_with_the_intent_the_build_and_the_actor() {
    // Arrange
    let (gate, app) = gate_app().await;

    // Act
    let response = graphql::deploy_demo(&app, OWNER, "1.1.0", "first-deploy").await;

    // Assert
    let answer = graphql::answered(&response, "deploy");
    let id = answer["id"].as_str().expect("id");
    assert!(["ACTIVE", "PENDING"].contains(&answer["state"].as_str().unwrap()), "{answer}");
    assert_eq!(answer["engineType"], "SPINNAKER");
    assert_eq!(answer["deploymentKind"], "ROLL_FORWARD");
    assert_eq!(answer["createdBy"], OWNER_ACTOR);
    assert_eq!(answer["deliveryGroupId"], GROUP);
    assert_eq!(answer["outcome"], Value::Null);

    let triggers = gate.triggers();
    assert_eq!(triggers.len(), 1);
    let trigger = &triggers[0];
    assert_eq!(trigger.method, "POST");
    assert_eq!(trigger.path, format!("/pipelines/{APPLICATION}/{DEPLOY_PIPELINE}"));
    assert_eq!(trigger.json()["user"], OWNER_ACTOR);
    assert_eq!(trigger.header("X-Spinnaker-User"), Some(OWNER_ACTOR));
    assert_eq!(
        trigger.json()["parameters"],
        json!({
            "service": SERVICE,
            "version": "1.1.0",
            "environment": ENVIRONMENT,
            "artifactRef": artifact_ref("1.1.0"),
            "dxcpDeploymentId": id,
        })
    );

    let as_admin = graphql::read(&app, ADMIN, id).await;
    let execution_id = gate.last_execution_id().expect("the fake started an execution");
    assert_eq!(as_admin["engineExecutionId"], json!(execution_id));
    let url = as_admin["engineExecutionUrl"].as_str().expect("an execution URL");
    assert!(url.contains(&execution_id), "{url}");
}

#[tokio::test]
async fn a_deployment_follows_the_engine_from_accepted_through_running_to_succeeded() {
    // Arrange
    let (gate, app) = gate_app().await;
    let id = graphql::answered_id(&graphql::deploy_demo(&app, OWNER, "1.1.0", "follow").await, "deploy");
    let execution_id = execution_of(&app, &id).await;

    // Act
    gate.set_status(&execution_id, "RUNNING");
    let running = graphql::read(&app, OWNER, &id).await;
    gate.succeed(&execution_id);
    let succeeded = graphql::read(&app, OWNER, &id).await;

    // Assert
    assert_eq!(running["state"], "IN_PROGRESS", "{running}");
    assert_eq!(running["outcome"], Value::Null);
    assert_eq!(succeeded["state"], "SUCCEEDED", "{succeeded}");
    assert_eq!(succeeded["outcome"], "SUCCEEDED");
    assert!(succeeded["failures"].as_array().unwrap().is_empty(), "{succeeded}");
    assert_eq!(graphql::timeline_keys(&succeeded), vec!["SUBMITTED", "ENGINE_ACCEPTED", "IN_PROGRESS", "SUCCEEDED"]);
    let running_state = graphql::running_state(&app, SERVICE, ENVIRONMENT).await;
    assert_eq!(running_state["deploymentId"], json!(id));
    assert_eq!(running_state["version"], "1.1.0");
    assert_eq!(running_state["deploymentKind"], "ROLL_FORWARD");
}

#[tokio::test]
async fn a_deploy_frees_the_slot_of_a_run_the_engine_already_finished_without_anyone_reading_it() {
    // Arrange: one deployment at a time here; the engine finishes the first
    // run but nobody reads it.
    let (gate, app) = gate_app().await;
    let first = graphql::answered_id(&graphql::deploy_demo(&app, OWNER, "1.0.0", "finished-unread").await, "deploy");
    gate.succeed(&gate.last_execution_id().expect("an execution"));

    // Act
    let second = graphql::deploy_demo(&app, OWNER, "1.1.0", "takes-the-slot").await;

    // Assert
    assert_eq!(graphql::answered(&second, "deploy")["state"], "ACTIVE", "{}", second.body);
    let stored = storage::records(&app).await;
    let first_stored = stored.iter().find(|r| r.id.to_string() == first).expect("the first record");
    assert_eq!(first_stored.state.as_str(), "SUCCEEDED", "refreshed before concurrency was counted");
    assert_eq!(gate.triggers().len(), 2);
}

#[tokio::test]
async fn a_later_success_supersedes_the_running_deployment_and_becomes_the_running_state() {
    // Arrange
    let (gate, app) = gate_app().await;
    let first = deploy_and_succeed(&app, &gate, "1.0.0").await;
    let second = graphql::answered_id(&graphql::deploy_demo(&app, OWNER, "1.1.0", "second").await, "deploy");

    // Act
    gate.succeed(&execution_of(&app, &second).await);
    let second_record = graphql::wait_for_state_within(&app, &second, "SUCCEEDED", Duration::from_secs(5)).await;

    // Assert
    assert_eq!(second_record["outcome"], "SUCCEEDED");
    let first_record = graphql::read(&app, OWNER, &first).await;
    assert_eq!(first_record["state"], "SUCCEEDED", "a superseded deployment keeps its state: {first_record}");
    assert_eq!(first_record["outcome"], "SUPERSEDED");
    assert_eq!(first_record["supersededBy"], json!(second));
    assert_eq!(graphql::timeline_keys(&first_record), vec!["SUBMITTED", "ENGINE_ACCEPTED", "SUCCEEDED", "SUPERSEDED"]);
    let running_state = graphql::running_state(&app, SERVICE, ENVIRONMENT).await;
    assert_eq!(running_state["deploymentId"], json!(second));
    assert_eq!(running_state["version"], "1.1.0");
}

#[tokio::test]
async fn a_failed_run_is_an_app_failure_and_the_owner_sees_only_the_normalized_failure() {
    // Arrange
    let (gate, app) = gate_app().await;
    let id = graphql::answered_id(&graphql::deploy_demo(&app, OWNER, "1.2.0", "fails").await, "deploy");
    let execution_id = execution_of(&app, &id).await;
    gate.set_status(&execution_id, "RUNNING");
    assert_eq!(graphql::read(&app, OWNER, &id).await["state"], "IN_PROGRESS");
    let message = "Health check failed: /healthz returned 503 after 5 attempts (token=sk-live-77310)";

    // Act
    gate.fail_execution(&execution_id, &[message]);
    let response = app
        .owner(&format!("query($id: ID!) {{ deployment(id: $id) {{ {} }} }}", graphql::FIELDS), json!({ "id": id }))
        .await;

    // Assert
    let record = &response.ok()["deployment"];
    assert_eq!(record["state"], "FAILED", "{record}");
    assert_eq!(record["outcome"], "FAILED");
    assert_eq!(graphql::failure_categories(record), vec!["APP"], "{record}");
    let summary = record["failures"][0]["summary"].as_str().expect("summary");
    assert!(summary.contains("Health check failed: /healthz returned 503 after 5 attempts"), "{summary}");
    assert!(record["failures"][0]["actionHint"].is_string(), "{record}");
    let body = response.body.to_string();
    for raw in ["sk-live-77310", "SpinnakerHttpException", "stackTrace", "Unexpected Task Failure", &execution_id] {
        assert!(!body.contains(raw), "the owner's answer leaks {raw:?}: {body}");
    }
    assert_eq!(graphql::timeline_keys(record), vec!["SUBMITTED", "ENGINE_ACCEPTED", "IN_PROGRESS", "FAILED"]);
    assert_eq!(graphql::running_state(&app, SERVICE, ENVIRONMENT).await, Value::Null, "nothing ever succeeded");
}

#[tokio::test]
async fn rolling_back_the_running_deployment_restores_the_previous_version_through_the_rollback_pipeline() {
    // Arrange
    let (gate, app) = gate_app().await;
    let previous = deploy_and_succeed(&app, &gate, "1.0.0").await;
    let target = deploy_and_succeed(&app, &gate, "1.1.0").await;

    // Act
    let response = graphql::rollback_seen_by(&app, OWNER, &target, "roll-back-running").await;
    let rollback = graphql::answered(&response, "rollback").clone();
    let rollback_id = rollback["id"].as_str().expect("id").to_owned();
    gate.succeed(&execution_of(&app, &rollback_id).await);
    let finished = graphql::wait_for_state_within(&app, &rollback_id, "SUCCEEDED", Duration::from_secs(5)).await;

    // Assert
    assert_eq!(rollback["deploymentKind"], "ROLLBACK");
    assert_eq!(rollback["rollbackOf"], json!(target));
    assert_eq!(rollback["version"], "1.0.0");
    let trigger = gate.triggers().last().cloned().expect("a rollback trigger");
    assert_eq!(trigger.path, format!("/pipelines/{APPLICATION}/{ROLLBACK_PIPELINE}"));
    assert_eq!(trigger.json()["parameters"]["version"], "1.0.0");
    assert_eq!(trigger.json()["parameters"]["artifactRef"], json!(artifact_ref("1.0.0")));
    assert_eq!(trigger.json()["parameters"]["dxcpDeploymentId"], json!(rollback_id));
    assert_eq!(trigger.header("X-Spinnaker-User"), Some(OWNER_ACTOR));

    assert_eq!(finished["outcome"], "SUCCEEDED");
    let target_record = graphql::read(&app, OWNER, &target).await;
    assert_eq!(target_record["state"], "ROLLED_BACK", "{target_record}");
    assert_eq!(target_record["outcome"], "ROLLED_BACK");
    assert_eq!(
        graphql::timeline_keys(&target_record),
        vec!["SUBMITTED", "ENGINE_ACCEPTED", "SUCCEEDED", "ROLLED_BACK"]
    );
    let previous_record = graphql::read(&app, OWNER, &previous).await;
    assert_eq!(previous_record["outcome"], "SUPERSEDED", "{previous_record}");
    let running_state = graphql::running_state(&app, SERVICE, ENVIRONMENT).await;
    assert_eq!(running_state["deploymentId"], json!(rollback_id));
    assert_eq!(running_state["deploymentKind"], "ROLLBACK");
    assert_eq!(running_state["version"], "1.0.0");
}

#[tokio::test]
async fn rolling_back_a_failed_deployment_newer_than_the_running_one_restores_the_running_version() {
    // Arrange
    let (gate, app) = gate_app().await;
    let running = deploy_and_succeed(&app, &gate, "1.0.0").await;
    let failed = graphql::answered_id(&graphql::deploy_demo(&app, OWNER, "1.2.0", "broken").await, "deploy");
    gate.fail_execution(&execution_of(&app, &failed).await, &["Health check failed: container exited with code 1"]);
    graphql::wait_for_state_within(&app, &failed, "FAILED", Duration::from_secs(5)).await;

    // Act
    let response = graphql::rollback_seen_by(&app, OWNER, &failed, "roll-back-failed").await;
    let rollback = graphql::answered(&response, "rollback").clone();
    let rollback_id = rollback["id"].as_str().expect("id").to_owned();
    gate.succeed(&execution_of(&app, &rollback_id).await);
    let finished = graphql::wait_for_state_within(&app, &rollback_id, "SUCCEEDED", Duration::from_secs(5)).await;

    // Assert
    assert_eq!(rollback["deploymentKind"], "ROLLBACK");
    assert_eq!(rollback["rollbackOf"], json!(failed));
    assert_eq!(rollback["version"], "1.0.0", "the running version is restored");
    let trigger = gate.triggers().last().cloned().expect("a rollback trigger");
    assert_eq!(trigger.path, format!("/pipelines/{APPLICATION}/{ROLLBACK_PIPELINE}"));
    assert_eq!(trigger.json()["parameters"]["version"], "1.0.0");
    assert_eq!(finished["outcome"], "SUCCEEDED");
    let failed_record = graphql::read(&app, OWNER, &failed).await;
    assert_eq!(failed_record["state"], "FAILED", "a failed target stays FAILED: {failed_record}");
    assert_eq!(failed_record["outcome"], "FAILED");
    let running_record = graphql::read(&app, OWNER, &running).await;
    assert_eq!(running_record["state"], "SUCCEEDED");
    assert_eq!(running_record["outcome"], "SUPERSEDED", "the rollback is the newer success: {running_record}");
    assert_eq!(running_record["supersededBy"], json!(rollback_id));
    let running_state = graphql::running_state(&app, SERVICE, ENVIRONMENT).await;
    assert_eq!(running_state["deploymentId"], json!(rollback_id));
    assert_eq!(running_state["version"], "1.0.0");
}

#[tokio::test]
async fn canceling_a_running_deployment_calls_gate_cancel_and_ends_canceled_once_gate_confirms() {
    // Arrange
    let (gate, app) = gate_app().await;
    let id = graphql::answered_id(&graphql::deploy_demo(&app, OWNER, "1.1.0", "to-cancel").await, "deploy");
    let execution_id = execution_of(&app, &id).await;
    gate.set_status(&execution_id, "RUNNING");
    assert_eq!(graphql::read(&app, OWNER, &id).await["state"], "IN_PROGRESS");

    // Act
    let response = graphql::cancel_seen_by(&app, OWNER, &id, "cancel-it").await;
    let canceled = graphql::read(&app, OWNER, &id).await;

    // Assert
    let answer = graphql::answered(&response, "cancelDeployment");
    assert_eq!(answer["state"], "IN_PROGRESS", "still in flight until the engine confirms: {answer}");
    let cancels = gate.cancels();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method, "PUT");
    assert_eq!(cancels[0].path, format!("/pipelines/{execution_id}/cancel"));
    assert_eq!(cancels[0].header("X-Spinnaker-User"), Some(OWNER_ACTOR));
    assert!(cancels[0].query_param("reason").is_some_and(|r| r.contains(&id)), "{:?}", cancels[0].query);
    assert_eq!(canceled["state"], "CANCELED", "{canceled}");
    assert_eq!(canceled["outcome"], "CANCELED");
    assert_eq!(
        graphql::timeline_keys(&canceled),
        vec!["SUBMITTED", "ENGINE_ACCEPTED", "IN_PROGRESS", "CANCEL_REQUESTED", "CANCELED"]
    );
    let events = graphql::audit_events(&app, json!({ "eventType": "DEPLOY_CANCEL" })).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["outcome"], "SUCCESS");
    assert_eq!(events[0]["actorId"], OWNER_ACTOR);
}

// --- the simulated engine ---------------------------------------------------------

/// Polling may skip a state, but the timeline never lists one out of order
/// or twice.
fn assert_in_state_order(keys: &[String]) {
    const ORDER: [&str; 5] = ["SUBMITTED", "ENGINE_ACCEPTED", "IN_PROGRESS", "SUCCEEDED", "FAILED"];
    let positions: Vec<usize> = keys
        .iter()
        .map(|key| ORDER.iter().position(|o| o == key).unwrap_or_else(|| panic!("unexpected timeline key {key}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "timeline out of order: {keys:?}");
}

#[tokio::test]
async fn a_deployment_on_the_simulated_engine_runs_to_succeeded() {
    // Arrange
    let app = TestApp::builder().env("DXCP_SIMULATED_DURATION_MS", "300").spawn().await;

    // Act
    let response = graphql::deploy_demo(&app, OWNER, "1.1.0", "simulated").await;
    let id = graphql::answered_id(&response, "deploy");
    let finished = graphql::wait_for_state_within(&app, &id, "SUCCEEDED", Duration::from_secs(10)).await;

    // Assert
    assert_eq!(graphql::answered(&response, "deploy")["engineType"], "SIMULATED");
    assert_eq!(finished["outcome"], "SUCCEEDED");
    let keys = graphql::timeline_keys(&finished);
    assert_eq!(keys.first().map(String::as_str), Some("SUBMITTED"));
    assert_eq!(keys.last().map(String::as_str), Some("SUCCEEDED"));
    assert_in_state_order(&keys);
    assert_eq!(graphql::running_state(&app, SERVICE, ENVIRONMENT).await["deploymentId"], json!(id));
}

#[tokio::test]
async fn a_failing_version_on_the_simulated_engine_ends_failed_with_an_app_failure() {
    // Arrange
    let app = TestApp::builder().env("DXCP_SIMULATED_DURATION_MS", "300").spawn().await;

    // Act
    let id = graphql::answered_id(&graphql::deploy_demo(&app, OWNER, "1.3.0-fail", "simulated-fail").await, "deploy");
    let finished = graphql::wait_for_state_within(&app, &id, "FAILED", Duration::from_secs(10)).await;

    // Assert
    assert_eq!(finished["outcome"], "FAILED");
    assert_eq!(graphql::failure_categories(&finished), vec!["APP"], "{finished}");
    let keys = graphql::timeline_keys(&finished);
    assert_eq!(keys.first().map(String::as_str), Some("SUBMITTED"));
    assert_eq!(keys.last().map(String::as_str), Some("FAILED"));
    assert_in_state_order(&keys);
    assert_eq!(graphql::running_state(&app, SERVICE, ENVIRONMENT).await, Value::Null);
}
