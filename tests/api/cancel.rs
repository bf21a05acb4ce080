//! `cancelDeployment` (DESIGN §5, §10 Cancel): DXCP asks the engine to
//! cancel an in-flight record and answers with the record still in flight;
//! it reads CANCELED once the engine confirms, which frees its slot.

use dxcp::domain::{audit::AuditOutcome, Role};
use serde_json::json;

use crate::harness::{
    fake_gate::{FakeGate, Fault, Route},
    graphql::{
        cancel, deploy, deployed_and_succeeded, id_of, intent, key, validate_deployment, wait_for_state, with_outsider,
        CANCEL, DEPLOYMENT, OUTSIDER,
    },
    storage::{assert_act_refused, audit_events, execution_of, Denial, Snapshot},
    TestApp, OBSERVER, OWNER,
};

async fn app_with_gate() -> (FakeGate, TestApp) {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    (gate, app)
}

/// A deployment the Gate reports RUNNING and DXCP has read as IN_PROGRESS.
async fn running(app: &TestApp, gate: &FakeGate, service: &str, version: &str, environment: &str) -> String {
    let response = deploy(app, OWNER, intent(service, version, environment), &key()).await;
    let id = id_of(&response.ok()["deploy"]);
    gate.set_status(&execution_of(app, &id).await, "RUNNING");
    wait_for_state(app, &id, "IN_PROGRESS").await;
    id
}

#[tokio::test]
async fn canceling_a_running_deployment_asks_gate_and_answers_the_record_still_in_flight() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let execution = execution_of(&app, &id).await;
    let before = Snapshot::take(&app, &gate).await;

    let response = cancel(&app, OWNER, &id, &key()).await;

    let answer = &response.ok()["cancelDeployment"];
    assert_eq!(answer["id"], json!(id));
    assert_eq!(answer["state"], "IN_PROGRESS", "CANCELED only once the engine confirms");
    assert!(answer["outcome"].is_null());
    let cancels = gate.cancels();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method, "PUT");
    assert_eq!(cancels[0].path, format!("/pipelines/{execution}/cancel"));
    assert_eq!(cancels[0].header("x-spinnaker-user"), Some("owner"));
    let reason = cancels[0].query_param("reason").unwrap_or_default();
    assert!(!reason.trim().is_empty(), "Gate is told why: {:?}", cancels[0].query);
    assert_eq!(gate.triggers().len(), 1, "canceling triggers nothing");
    assert!(before.new_records(&app).await.is_empty(), "canceling creates no record");
}

#[tokio::test]
async fn a_cancel_writes_one_deploy_cancel_success_audit_event() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let before = Snapshot::take(&app, &gate).await;

    let response = cancel(&app, OWNER, &id, &key()).await;

    response.ok();
    let events = before.new_audit_events(&app).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.event_type, "DEPLOY_CANCEL");
    assert_eq!(event.outcome, AuditOutcome::Success);
    assert_eq!(event.actor_id, "owner");
    assert_eq!(event.actor_role, Role::DeliveryOwner);
    assert_eq!(event.target_type, "DEPLOYMENT");
    assert_eq!(event.target_id, id);
    assert_eq!(event.delivery_group_id.as_deref(), Some("payments"));
    assert_eq!(event.service_name.as_deref(), Some("payments-api"));
    assert_eq!(event.environment.as_deref(), Some("sandbox"));
    let request_id = response.headers.get("x-request-id").and_then(|v| v.to_str().ok());
    assert_eq!(event.request_id.as_deref(), request_id);
}

#[tokio::test]
async fn a_canceled_deployment_reads_canceled_once_the_engine_confirms() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    cancel(&app, OWNER, &id, &key()).await.ok();

    let record = wait_for_state(&app, &id, "CANCELED").await;

    assert_eq!(record["outcome"], "CANCELED");
    assert!(record["failures"].as_array().expect("failures").is_empty(), "{record}");
    let owner_view = app.owner(DEPLOYMENT, json!({ "id": id })).await;
    assert_eq!(owner_view.ok()["deployment"]["state"], "CANCELED");
}

#[tokio::test]
async fn a_cancel_the_engine_has_not_confirmed_leaves_the_record_in_flight() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let execution = execution_of(&app, &id).await;
    cancel(&app, OWNER, &id, &key()).await.ok();
    // Orca still reports the execution as running (the cancel takes a while).
    gate.set_status(&execution, "RUNNING");

    let read = app.admin(DEPLOYMENT, json!({ "id": id })).await;

    assert_eq!(read.ok()["deployment"]["state"], "IN_PROGRESS");
    assert!(read.ok()["deployment"]["outcome"].is_null());
}

#[tokio::test]
async fn a_canceled_deployment_frees_its_concurrency_slot() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let busy = validate_deployment(&app, OWNER, intent("ledger", "1.0.0", "sandbox")).await;
    assert_eq!(busy["inFlightDeployments"], 1);
    cancel(&app, OWNER, &id, &key()).await.ok();
    wait_for_state(&app, &id, "CANCELED").await;

    let free = validate_deployment(&app, OWNER, intent("ledger", "1.0.0", "sandbox")).await;
    let next = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;

    assert_eq!(free["inFlightDeployments"], 0);
    assert_eq!(free["allowed"], true);
    assert_eq!(next.ok()["deploy"]["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 2);
}

#[tokio::test]
async fn a_canceled_deployment_frees_its_slot_even_when_nobody_reads_it() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    cancel(&app, OWNER, &id, &key()).await.ok();

    let next = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;

    assert_eq!(next.ok()["deploy"]["state"], "ACTIVE");
}

#[tokio::test]
async fn canceling_a_canceled_deployment_is_not_cancelable() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    cancel(&app, OWNER, &id, &key()).await.ok();
    wait_for_state(&app, &id, "CANCELED").await;
    let denial =
        Denial::cancel("DEPLOYMENT_NOT_CANCELABLE", ("owner", Role::DeliveryOwner), Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, cancel(&app, OWNER, &id, &key()), denial).await;
}

#[tokio::test]
async fn canceling_a_deployment_that_already_succeeded_is_not_cancelable() {
    let (gate, app) = app_with_gate().await;
    let id = deployed_and_succeeded(&app, &gate, "checkout-web", "1.0.0", "staging").await;
    let denial =
        Denial::cancel("DEPLOYMENT_NOT_CANCELABLE", ("owner", Role::DeliveryOwner), Some(("checkout-web", "staging")));
    assert_act_refused(&app, &gate, cancel(&app, OWNER, &id, &key()), denial).await;
}

#[tokio::test]
async fn canceling_a_deployment_gate_finished_unseen_is_not_cancelable() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    gate.succeed(&execution_of(&app, &id).await);
    let denial =
        Denial::cancel("DEPLOYMENT_NOT_CANCELABLE", ("owner", Role::DeliveryOwner), Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, cancel(&app, OWNER, &id, &key()), denial).await;
}

#[tokio::test]
async fn an_owner_outside_the_group_may_not_cancel_its_deployments() {
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate)).spawn().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let denial = Denial::cancel(
        "DELIVERY_GROUP_SCOPE_REQUIRED",
        ("outsider", Role::DeliveryOwner),
        Some(("payments-api", "sandbox")),
    );
    assert_act_refused(&app, &gate, cancel(&app, OUTSIDER, &id, &key()), denial).await;
    let read = app.admin(DEPLOYMENT, json!({ "id": id })).await;
    assert_eq!(read.ok()["deployment"]["state"], "IN_PROGRESS", "the deployment keeps running");
}

#[tokio::test]
async fn an_observer_may_not_cancel() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let denial = Denial::cancel("ROLE_FORBIDDEN", ("observer", Role::Observer), Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, cancel(&app, OBSERVER, &id, &key()), denial).await;
}

#[tokio::test]
async fn an_admin_may_cancel_any_groups_deployment() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "checkout-web", "1.0.0", "sandbox").await;

    let response = app.admin(CANCEL, json!({ "id": id, "key": key() })).await;

    assert_eq!(response.ok()["cancelDeployment"]["id"], json!(id));
    assert_eq!(gate.cancels().len(), 1);
    assert_eq!(gate.cancels()[0].header("x-spinnaker-user"), Some("admin"));
    wait_for_state(&app, &id, "CANCELED").await;
}

#[tokio::test]
async fn a_cancel_gate_refuses_is_reported_and_audited_as_failed() {
    let (gate, app) = app_with_gate().await;
    let id = running(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    gate.inject_once(Route::Cancel, Fault::Status(503));
    let before = Snapshot::take(&app, &gate).await;

    let response = cancel(&app, OWNER, &id, &key()).await;

    assert!(response.data()["cancelDeployment"].is_null());
    assert_eq!(response.first_code().as_deref(), Some("ENGINE_UNAVAILABLE"));
    let events = before.new_audit_events(&app).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].event_type, "DEPLOY_CANCEL");
    assert_eq!(events[0].outcome, AuditOutcome::Failed);
    let read = app.admin(DEPLOYMENT, json!({ "id": id })).await;
    assert_eq!(read.ok()["deployment"]["state"], "IN_PROGRESS");
}

#[tokio::test]
async fn the_simulated_engine_can_cancel_a_deployment_too() {
    let app = TestApp::builder().env("DXCP_SIMULATED_DURATION_MS", "5000").spawn().await;
    let deployed = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let id = id_of(&deployed.ok()["deploy"]);
    assert_eq!(deployed.ok()["deploy"]["engineType"], "SIMULATED");

    let response = cancel(&app, OWNER, &id, &key()).await;

    let answer = &response.ok()["cancelDeployment"];
    assert!(
        answer["state"] == "ACTIVE" || answer["state"] == "IN_PROGRESS",
        "still in flight until the engine confirms: {answer}"
    );
    let record = wait_for_state(&app, &id, "CANCELED").await;
    assert_eq!(record["outcome"], "CANCELED");
    let cancels: Vec<_> = audit_events(&app).await.into_iter().filter(|e| e.event_type == "DEPLOY_CANCEL").collect();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].outcome, AuditOutcome::Success);
}
