//! Idempotency keys of deploy, rollback and cancel (DESIGN §4 step 4, §10
//! Idempotency): a replay returns the original record and calls nothing,
//! other input under the same key is a conflict, keys are scoped to actor
//! and mutation, and a failed engine call is never re-run by a retry.

use std::time::Duration;

use dxcp::domain::{audit::AuditOutcome, deployment::DeploymentState};
use serde_json::json;

use crate::harness::{
    fake_gate::{FakeGate, Fault, Route},
    graphql::{
        cancel, deploy, deployed_and_succeeded, finish, id_of, intent, key, rollback, wait_for_state, DEPLOYMENT,
        ROLLBACK,
    },
    storage::{audit_events, records, Snapshot},
    TestApp, ADMIN, OWNER,
};

async fn app_with_gate() -> (FakeGate, TestApp) {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    (gate, app)
}

#[tokio::test]
async fn a_replay_with_the_same_key_and_input_returns_the_same_record_and_calls_the_engine_once() {
    let (gate, app) = app_with_gate().await;
    let reused = key();
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;

    let replay = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;

    let original = &first.ok()["deploy"];
    assert_eq!(original["state"], "ACTIVE");
    assert_eq!(&replay.ok()["deploy"], original, "the replay answers the identical record");
    assert_eq!(gate.triggers().len(), 1, "the engine is called once");
    assert_eq!(records(&app).await.len(), 1, "one record");
    let submits: Vec<_> = audit_events(&app).await.into_iter().filter(|e| e.event_type == "DEPLOY_SUBMIT").collect();
    assert_eq!(submits.len(), 1, "a replay writes no audit event: {submits:#?}");
    assert_eq!(submits[0].outcome, AuditOutcome::Success);
}

#[tokio::test]
async fn a_replay_after_the_deployment_finished_returns_the_finished_record_without_calling_the_engine() {
    let (gate, app) = app_with_gate().await;
    let reused = key();
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;
    let id = id_of(&first.ok()["deploy"]);
    let finished = finish(&app, &gate, &id).await;
    let before = Snapshot::take(&app, &gate).await;

    let replay = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;

    let answer = &replay.ok()["deploy"];
    assert_eq!(answer["id"], json!(id));
    assert_eq!(answer["state"], "SUCCEEDED");
    assert_eq!(answer, &finished, "the replay is the record as stored now");
    before.assert_nothing_written(&app, &gate).await;
}

#[tokio::test]
async fn a_replay_whose_change_summary_differs_only_by_surrounding_spaces_is_the_same_request() {
    let (gate, app) = app_with_gate().await;
    let reused = key();
    let mut padded = intent("payments-api", "1.0.0", "sandbox");
    padded["changeSummary"] = json!(format!("  {}  ", padded["changeSummary"].as_str().unwrap()));
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;

    let replay = deploy(&app, OWNER, padded, &reused).await;

    assert_eq!(replay.ok()["deploy"], first.ok()["deploy"]);
    assert_eq!(gate.triggers().len(), 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_input_is_a_conflict_and_leaves_the_original_alone() {
    let (gate, app) = app_with_gate().await;
    let reused = key();
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;
    let original = first.ok()["deploy"].clone();

    let mut other_summary = intent("payments-api", "1.0.0", "sandbox");
    other_summary["changeSummary"] = json!("a different reason");
    let conflict = deploy(&app, OWNER, other_summary, &reused).await;
    let replay = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;

    assert!(conflict.data()["deploy"].is_null());
    assert_eq!(conflict.first_code().as_deref(), Some("IDEMPOTENCY_CONFLICT"));
    assert_eq!(replay.ok()["deploy"], original, "the key still answers the original record");
    assert_eq!(gate.triggers().len(), 1);
    assert_eq!(records(&app).await.len(), 1);
}

#[tokio::test]
async fn keys_are_scoped_per_actor() {
    let (gate, app) = app_with_gate().await;
    let shared = key();
    let by_admin = deploy(&app, ADMIN, intent("payments-api", "1.0.0", "sandbox"), &shared).await;
    let admin_id = id_of(&by_admin.ok()["deploy"]);
    finish(&app, &gate, &admin_id).await;

    let by_owner = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &shared).await;

    let owner_record = &by_owner.ok()["deploy"];
    assert_ne!(id_of(owner_record), admin_id, "the owner's request is a request of its own");
    assert_eq!(owner_record["createdBy"], "owner");
    assert_eq!(owner_record["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 2);
    assert_eq!(gate.triggers()[1].header("x-spinnaker-user"), Some("owner"));
}

#[tokio::test]
async fn keys_are_scoped_per_mutation() {
    let (gate, app) = app_with_gate().await;
    let shared = key();
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &shared).await;
    finish(&app, &gate, &id_of(&first.ok()["deploy"])).await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;

    let restore = rollback(&app, OWNER, &target, &shared).await;
    let restore_id = id_of(&restore.ok()["rollback"]);
    let canceled = cancel(&app, OWNER, &restore_id, &shared).await;

    assert_eq!(restore.ok()["rollback"]["deploymentKind"], "ROLLBACK");
    assert_eq!(restore.ok()["rollback"]["version"], "1.0.0");
    assert_eq!(id_of(&canceled.ok()["cancelDeployment"]), restore_id);
    assert_eq!(gate.triggers().len(), 3, "two deploys and one rollback");
    assert_eq!(gate.cancels().len(), 1);
}

#[tokio::test]
async fn a_refused_request_does_not_use_up_its_key() {
    let (gate, app) = app_with_gate().await;
    let reused = key();
    let refused = deploy(&app, OWNER, intent("payments-api", "9.9.9", "sandbox"), &reused).await;
    assert_eq!(refused.first_code().as_deref(), Some("VERSION_NOT_FOUND"));

    let accepted = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;

    assert_eq!(accepted.ok()["deploy"]["version"], "1.0.0");
    assert_eq!(gate.triggers().len(), 1);
}

#[tokio::test]
async fn a_request_whose_engine_call_failed_is_not_rerun_by_a_retry_with_the_same_key() {
    let (gate, app) = app_with_gate().await;
    gate.inject_once(Route::Trigger, Fault::Status(503));
    let reused = key();
    let failed = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;
    assert!(failed.data()["deploy"].is_null(), "{}", failed.body);
    assert_eq!(failed.first_code().as_deref(), Some("ENGINE_UNAVAILABLE"));
    let stored = records(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].state, DeploymentState::Failed);

    let retry = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await;

    let answer = &retry.ok()["deploy"];
    assert_eq!(answer["id"], json!(stored[0].id.to_string()), "the retry answers the original record");
    assert_eq!(answer["state"], "FAILED");
    assert_eq!(answer["outcome"], "FAILED");
    assert_eq!(answer["failures"][0]["category"], "INFRASTRUCTURE");
    assert_eq!(gate.triggers().len(), 1, "the engine is not called again");
    assert_eq!(records(&app).await.len(), 1);
    let submits: Vec<_> = audit_events(&app).await.into_iter().filter(|e| e.event_type == "DEPLOY_SUBMIT").collect();
    assert_eq!(submits.len(), 1, "{submits:#?}");
    assert_eq!(submits[0].outcome, AuditOutcome::Failed);
}

#[tokio::test]
async fn a_rollback_replay_returns_the_same_rollback_and_triggers_it_once() {
    let (gate, app) = app_with_gate().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let reused = key();
    let variables = json!({ "id": target, "summary": "restore 1.0.0", "key": reused });
    let first = app.owner(ROLLBACK, variables.clone()).await;

    let replay = app.owner(ROLLBACK, variables).await;

    assert_eq!(replay.ok()["rollback"], first.ok()["rollback"]);
    assert_eq!(first.ok()["rollback"]["rollbackOf"], json!(target));
    assert_eq!(gate.triggers().len(), 3, "two deploys and one rollback");
}

#[tokio::test]
async fn a_rollback_key_reused_for_another_target_is_a_conflict() {
    let (gate, app) = app_with_gate().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    deployed_and_succeeded(&app, &gate, "checkout-web", "1.0.0", "sandbox").await;
    let other = deployed_and_succeeded(&app, &gate, "checkout-web", "1.1.0", "sandbox").await;
    let reused = key();
    rollback(&app, OWNER, &target, &reused).await.ok();
    let before = Snapshot::take(&app, &gate).await;

    let conflict = rollback(&app, OWNER, &other, &reused).await;

    assert!(conflict.data()["rollback"].is_null());
    assert_eq!(conflict.first_code().as_deref(), Some("IDEMPOTENCY_CONFLICT"));
    assert_eq!(gate.triggers().len(), 5);
    assert!(before.new_records(&app).await.is_empty());
}

#[tokio::test]
async fn a_cancel_replay_does_not_ask_the_engine_again() {
    let (gate, app) = app_with_gate().await;
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let id = id_of(&first.ok()["deploy"]);
    let reused = key();
    let canceled = cancel(&app, OWNER, &id, &reused).await;

    let replay = cancel(&app, OWNER, &id, &reused).await;

    assert_eq!(id_of(&canceled.ok()["cancelDeployment"]), id);
    assert_eq!(id_of(&replay.ok()["cancelDeployment"]), id);
    assert_eq!(gate.cancels().len(), 1);
    let cancels: Vec<_> = audit_events(&app).await.into_iter().filter(|e| e.event_type == "DEPLOY_CANCEL").collect();
    assert_eq!(cancels.len(), 1, "{cancels:#?}");
}

#[tokio::test]
async fn two_concurrent_requests_with_one_key_create_one_record_and_one_engine_call() {
    let (gate, app) = app_with_gate().await;
    gate.inject_once(Route::Trigger, Fault::Delay(Duration::from_millis(400)));
    let reused = key();

    let (a, b) = tokio::join!(
        deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused),
        deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused),
    );

    let stored = records(&app).await;
    assert_eq!(stored.len(), 1, "never a second record");
    assert_eq!(gate.triggers().len(), 1, "never a second engine call");
    let id = stored[0].id.to_string();
    for response in [&a, &b] {
        match response.first_code().as_deref() {
            None => assert_eq!(response.data()["deploy"]["id"], json!(id)),
            Some(code) => assert_eq!(code, "IDEMPOTENCY_IN_PROGRESS", "{}", response.body),
        }
    }
    assert!(a.first_code().is_none() || b.first_code().is_none(), "at least one request answers the record");
    let read = app.admin(DEPLOYMENT, json!({ "id": id })).await;
    assert_eq!(read.ok()["deployment"]["state"], "ACTIVE");
}

#[tokio::test]
async fn a_request_refused_for_concurrency_can_be_retried_with_the_same_key_once_the_slot_is_free() {
    let (gate, app) = app_with_gate().await;
    let busy = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let busy_id = id_of(&busy.ok()["deploy"]);
    let reused = key();
    let refused = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &reused).await;
    assert_eq!(refused.first_code().as_deref(), Some("CONCURRENCY_LIMIT_REACHED"));
    finish(&app, &gate, &busy_id).await;

    let retry = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &reused).await;

    let answer = &retry.ok()["deploy"];
    assert_eq!(answer["service"], "ledger");
    assert_eq!(answer["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 2);
}

#[tokio::test]
async fn a_cancel_key_reused_for_another_deployment_is_a_conflict() {
    let (gate, app) = app_with_gate().await;
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let second = deploy(&app, OWNER, intent("checkout-web", "1.0.0", "sandbox"), &key()).await;
    let reused = key();
    cancel(&app, OWNER, &id_of(&first.ok()["deploy"]), &reused).await.ok();

    let conflict = cancel(&app, OWNER, &id_of(&second.ok()["deploy"]), &reused).await;

    assert!(conflict.data()["cancelDeployment"].is_null());
    assert_eq!(conflict.first_code().as_deref(), Some("IDEMPOTENCY_CONFLICT"));
    assert_eq!(gate.cancels().len(), 1, "the second deployment was not canceled");
}

#[tokio::test]
async fn a_cancel_replay_after_the_engine_confirmed_answers_the_canceled_record_instead_of_refusing() {
    let (gate, app) = app_with_gate().await;
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let id = id_of(&first.ok()["deploy"]);
    let reused = key();
    cancel(&app, OWNER, &id, &reused).await.ok();
    wait_for_state(&app, &id, "CANCELED").await;

    let replay = cancel(&app, OWNER, &id, &reused).await;

    let answer = &replay.ok()["cancelDeployment"];
    assert_eq!(answer["id"], json!(id));
    assert_eq!(answer["state"], "CANCELED");
    assert_eq!(gate.cancels().len(), 1);
}

#[tokio::test]
async fn two_concurrent_cancels_with_one_key_ask_the_engine_once() {
    let (gate, app) = app_with_gate().await;
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let id = id_of(&first.ok()["deploy"]);
    gate.inject_once(Route::Cancel, Fault::Delay(Duration::from_millis(400)));
    let reused = key();

    let (a, b) = tokio::join!(cancel(&app, OWNER, &id, &reused), cancel(&app, OWNER, &id, &reused));

    for response in [&a, &b] {
        match response.first_code().as_deref() {
            None => assert_eq!(response.data()["cancelDeployment"]["id"], json!(id)),
            Some(code) => assert_eq!(code, "IDEMPOTENCY_IN_PROGRESS", "{}", response.body),
        }
    }
    assert_eq!(gate.cancels().len(), 1, "never a second execution under one key");
    let cancels: Vec<_> = audit_events(&app).await.into_iter().filter(|e| e.event_type == "DEPLOY_CANCEL").collect();
    assert_eq!(cancels.len(), 1, "one cancel, one audit event: {cancels:#?}");
}
