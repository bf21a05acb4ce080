//! The kill switch (DESIGN §4 step 2, §9 `DXCP_KILL_SWITCH`, §10): while
//! `mutationsDisabled` is on, every mutation except an `updateSystemSettings`
//! that turns it off is refused with `MUTATIONS_DISABLED` and audited as
//! DENIED; reads keep working.

use serde_json::{json, Value};

use crate::harness::{
    admin::{
        answer, assert_no_admin_change, assert_refused, audit_log, call, every_admin_mutation, new_events,
        SETTINGS_FIELDS,
    },
    catalog::admin_catalog,
    graphql::{cancel, deploy, intent, key, rollback},
    storage, GqlResponse, TestApp, ADMIN, CI, OBSERVER, OWNER,
};

/// The test catalogue with deployments that stay in flight for two minutes.
async fn spawn_with_slow_engine() -> TestApp {
    TestApp::builder().catalog(&admin_catalog()).env("DXCP_SIMULATED_DURATION_MS", "120000").spawn().await
}

async fn register_build(app: &TestApp, version: &str) -> GqlResponse {
    let input = json!({
        "service": "payments-api",
        "version": version,
        "artifactRef": format!("s3://ci-artifacts/payments-api/{version}.zip"),
        "sha256": "ab".repeat(32),
        "sizeBytes": 2048,
        "contentType": "application/zip",
        "gitSha": "cd".repeat(20),
        "gitBranch": "main",
        "ciProvider": "github",
        "ciRunId": "77",
        "builtAt": "2026-03-01T10:00:00Z",
    });
    app.gql_as(
        Some(CI),
        "mutation($input: BuildInput!, $key: String!) {
            registerBuild(input: $input, idempotencyKey: $key) { service version registeredBy }
        }",
        json!({ "input": input, "key": key() }),
    )
    .await
}

async fn set_kill_switch(app: &TestApp, on: bool) -> GqlResponse {
    call(app, ADMIN, "updateSystemSettings", json!({ "mutationsDisabled": on }), Some("incident"), &key()).await
}

/// Asserts the refusal and its one DENIED audit event.
async fn assert_disabled(app: &TestApp, before: &[Value], response: &GqlResponse, field: &str, event_type: &str) {
    assert_refused(response, field, "MUTATIONS_DISABLED", field);
    let events = new_events(app, before).await;
    assert_eq!(events.len(), 1, "{field}: one audit event: {events:#?}");
    let event = &events[0];
    assert_eq!(event["eventType"], event_type, "{field}: {event}");
    assert_eq!(event["outcome"], "DENIED", "{field}: {event}");
    let summary = event["summary"].as_str().expect("summary");
    assert!(summary.contains("MUTATIONS_DISABLED"), "{field}: the summary names the code: {summary}");
}

#[tokio::test]
async fn with_the_kill_switch_on_every_mutation_is_refused_with_mutations_disabled_and_audited_denied() {
    let app = spawn_with_slow_engine().await;
    let running = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let id = running.ok()["deploy"]["id"].as_str().expect("a deployment id").to_owned();
    assert_eq!(answer(&set_kill_switch(&app, true).await, "updateSystemSettings")["mutationsDisabled"], true);
    let records_before = storage::records(&app).await.len();

    let before = audit_log(&app).await;
    let response = deploy(&app, OWNER, intent("payments-api", "1.1.0", "staging"), &key()).await;
    assert_disabled(&app, &before, &response, "deploy", "DEPLOY_SUBMIT").await;

    let before = audit_log(&app).await;
    let response = rollback(&app, OWNER, &id, &key()).await;
    assert_disabled(&app, &before, &response, "rollback", "ROLLBACK_SUBMIT").await;

    let before = audit_log(&app).await;
    let response = cancel(&app, OWNER, &id, &key()).await;
    assert_disabled(&app, &before, &response, "cancelDeployment", "DEPLOY_CANCEL").await;

    let before = audit_log(&app).await;
    let response = register_build(&app, "9.9.9").await;
    assert_disabled(&app, &before, &response, "registerBuild", "BUILD_REGISTER").await;

    for case in every_admin_mutation() {
        let before = audit_log(&app).await;
        let response = call(&app, ADMIN, case.mutation, case.argument, Some("during the incident"), &key()).await;
        assert_disabled(&app, &before, &response, case.mutation, case.event_type).await;
    }

    let before = audit_log(&app).await;
    let response = set_kill_switch(&app, true).await;
    assert_disabled(&app, &before, &response, "updateSystemSettings", "SETTINGS_UPDATE").await;

    assert_eq!(storage::records(&app).await.len(), records_before, "no deployment record was written");
    assert!(storage::stored_build(&app, "payments-api", "9.9.9").await.is_none(), "no build");
    let record = storage::stored(&app, &id).await;
    assert!(!record.state.is_terminal(), "the running deployment was not canceled: {:?}", record.state);
    assert_no_admin_change(&app).await;
}

#[tokio::test]
async fn reads_keep_working_while_the_kill_switch_is_on() {
    let app = spawn_with_slow_engine().await;
    let running = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let id = running.ok()["deploy"]["id"].as_str().expect("a deployment id").to_owned();
    answer(&set_kill_switch(&app, true).await, "updateSystemSettings");

    let deployment = app.owner("query($id: ID!) { deployment(id: $id) { id state } }", json!({ "id": id })).await;
    let history = app.observer("query { deployments(first: 10) { nodes { id } } }", json!({})).await;
    let catalogue = app
        .observer("query { services { name } deliveryGroups { id } recipes { id } environments { name } }", json!({}))
        .await;
    let preflight = app
        .owner(
            "query($intent: DeploymentIntentInput!) { validateDeployment(intent: $intent) { allowed } }",
            json!({ "intent": intent("ledger", "1.0.0", "staging") }),
        )
        .await;
    let builds = app.ci("query { builds(service: \"payments-api\") { nodes { version } } }", json!({})).await;
    let settings = app.admin(&format!("query {{ systemSettings {{ {SETTINGS_FIELDS} }} }}"), json!({})).await;

    assert_eq!(deployment.ok()["deployment"]["id"], json!(id));
    assert_eq!(history.ok()["deployments"]["nodes"].as_array().expect("nodes").len(), 1);
    assert!(!catalogue.ok()["services"].as_array().expect("services").is_empty());
    assert_eq!(preflight.ok()["validateDeployment"]["allowed"], true, "a preview is a read: {}", preflight.body);
    assert!(!builds.ok()["builds"]["nodes"].as_array().expect("nodes").is_empty());
    assert_eq!(settings.ok()["systemSettings"]["mutationsDisabled"], true);
}

#[tokio::test]
async fn turning_the_kill_switch_off_lets_mutations_run_again() {
    let app = spawn_with_slow_engine().await;
    answer(&set_kill_switch(&app, true).await, "updateSystemSettings");
    let refused = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(refused.first_code().as_deref(), Some("MUTATIONS_DISABLED"), "{}", refused.body);
    let before = audit_log(&app).await;

    let off = set_kill_switch(&app, false).await;

    assert_eq!(answer(&off, "updateSystemSettings")["mutationsDisabled"], false);
    let events = new_events(&app, &before).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["eventType"], "SETTINGS_UPDATE");
    assert_eq!(events[0]["outcome"], "SUCCESS");
    assert_eq!(
        events[0]["changes"],
        json!([{ "field": "mutationsDisabled", "oldValue": "true", "newValue": "false" }])
    );
    let accepted = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    assert!(accepted.ok()["deploy"]["id"].is_string(), "{}", accepted.body);
    let build = register_build(&app, "9.9.9").await;
    assert_eq!(build.ok()["registerBuild"]["registeredBy"], "ci");
}

#[tokio::test]
async fn turning_the_kill_switch_off_may_change_other_settings_in_the_same_call() {
    let app = spawn_with_slow_engine().await;
    answer(&set_kill_switch(&app, true).await, "updateSystemSettings");

    let response = call(
        &app,
        ADMIN,
        "updateSystemSettings",
        json!({ "mutationsDisabled": false, "mutateRpm": 30 }),
        Some("recovered"),
        &key(),
    )
    .await;

    let settings = answer(&response, "updateSystemSettings");
    assert_eq!(settings["mutationsDisabled"], false);
    assert_eq!(settings["mutateRpm"], 30);
}

#[tokio::test]
async fn only_a_platform_admin_may_turn_the_kill_switch_off() {
    let app = spawn_with_slow_engine().await;
    answer(&set_kill_switch(&app, true).await, "updateSystemSettings");

    for token in [OWNER, OBSERVER, CI] {
        let response =
            call(&app, token, "updateSystemSettings", json!({ "mutationsDisabled": false }), None, &key()).await;

        assert_refused(&response, "updateSystemSettings", "ROLE_FORBIDDEN", token);
    }
    let settings = app.admin(&format!("query {{ systemSettings {{ {SETTINGS_FIELDS} }} }}"), json!({})).await;
    assert_eq!(settings.ok()["systemSettings"]["mutationsDisabled"], true, "the kill switch stays on");
}

#[tokio::test]
async fn dxcp_kill_switch_true_at_first_start_begins_with_mutations_disabled() {
    let app = TestApp::builder().catalog(&admin_catalog()).env("DXCP_KILL_SWITCH", "true").spawn().await;

    let settings = app.admin(&format!("query {{ systemSettings {{ {SETTINGS_FIELDS} }} }}"), json!({})).await;
    let refused_deploy = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    let refused_build = register_build(&app, "9.9.9").await;

    assert_eq!(settings.ok()["systemSettings"]["mutationsDisabled"], true);
    assert_eq!(refused_deploy.first_code().as_deref(), Some("MUTATIONS_DISABLED"), "{}", refused_deploy.body);
    assert_eq!(refused_build.first_code().as_deref(), Some("MUTATIONS_DISABLED"), "{}", refused_build.body);
    assert_eq!(storage::records(&app).await.len(), 0, "nothing was deployed");
    answer(&set_kill_switch(&app, false).await, "updateSystemSettings");
    let accepted = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    assert!(accepted.ok()["deploy"]["id"].is_string(), "{}", accepted.body);
}
