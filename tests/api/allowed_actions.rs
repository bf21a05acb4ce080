//! `allowedActions` and `deliveryStatus` (DESIGN §11.1): the buttons a UI
//! shows agree with what the mutations then do. For every role x kill
//! switch x deploy quota used up x something-to-roll-back case, each action
//! is tried on a fresh server in that state: `allowed: true` must be
//! followed by an accepted mutation, `allowed: false` by a refusal whose
//! code is the first reason listed.

use serde_json::{json, Value};

use crate::harness::{
    catalog::{test_catalog, Limits},
    fake_gate::FakeGate,
    graphql::{
        cancel, deploy, deployed, deployed_and_succeeded, id_of, intent, key, rollback, with_outsider, OUTSIDER,
    },
    GqlResponse, TestApp, ADMIN, CI, OBSERVER, OWNER,
};

const ALLOWED_ACTIONS: &str = "query($service: String!, $environment: String!) {
    allowedActions(service: $service, environment: $environment) {
        service environment role
        deploy { allowed reasons { code message } }
        rollback { allowed reasons { code message } }
        promote { allowed reasons { code message } }
        cancel { allowed reasons { code message } }
    }
}";

const DELIVERY_STATUS: &str = "query($service: String!, $environment: String!) {
    deliveryStatus(service: $service, environment: $environment) {
        service environment hasDeployments
        latest { id version state }
        running { version deploymentId }
        promotionCandidate { eligible reason sourceEnvironment targetEnvironment version recipeId }
    }
}";

const PROMOTE: &str = "mutation($intent: PromotionIntentInput!, $key: String!) {
    promote(intent: $intent, idempotencyKey: $key) { id }
}";

const SERVICE: &str = "payments-api";
const SANDBOX: &str = "sandbox";

async fn allowed_actions(app: &TestApp, token: &str, environment: &str) -> Value {
    let variables = json!({ "service": SERVICE, "environment": environment });
    app.gql_as(Some(token), ALLOWED_ACTIONS, variables).await.ok()["allowedActions"].clone()
}

async fn delivery_status(app: &TestApp, token: &str, environment: &str) -> GqlResponse {
    app.gql_as(Some(token), DELIVERY_STATUS, json!({ "service": SERVICE, "environment": environment })).await
}

fn reason_codes(permission: &Value) -> Vec<String> {
    let reasons = permission["reasons"].as_array().expect("reasons");
    reasons.iter().map(|r| r["code"].as_str().expect("code").to_owned()).collect()
}

async fn set_kill_switch(app: &TestApp, on: bool) {
    let response = app
        .admin(
            "mutation($on: Boolean!, $key: String!) {
                updateSystemSettings(input: { mutationsDisabled: $on }, idempotencyKey: $key) { mutationsDisabled }
            }",
            json!({ "on": on, "key": key() }),
        )
        .await;
    response.ok();
}

/// One state of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    token: &'static str,
    kill_switch: bool,
    quota_used_up: bool,
    something_to_roll_back: bool,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for token in [ADMIN, OWNER, OBSERVER, CI, OUTSIDER] {
        for kill_switch in [false, true] {
            for quota_used_up in [false, true] {
                for something_to_roll_back in [false, true] {
                    out.push(Case { token, kill_switch, quota_used_up, something_to_roll_back });
                }
            }
        }
    }
    out
}

/// The test catalogue (payments: sandbox -> staging, two slots) in `case`'s
/// state: 1.0.0 (and, with something to roll back, 1.1.0) SUCCEEDED in
/// sandbox, 1.2.0 in flight there; the deploy quota of sandbox set to what
/// those used when `quota_used_up`. Returns the app, the running record's
/// id and the in-flight one's.
async fn app_in(case: Case) -> (FakeGate, TestApp, String, String) {
    let deploys_in_sandbox = if case.something_to_roll_back { 3 } else { 2 };
    let deploy_quota = if case.quota_used_up { deploys_in_sandbox } else { 25 };
    let limits = Limits { max_concurrent: 2, deploy_quota, rollback_quota: 10 };
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate).catalog(&test_catalog(limits))).spawn().await;
    let mut running = deployed_and_succeeded(&app, &gate, SERVICE, "1.0.0", SANDBOX).await;
    if case.something_to_roll_back {
        running = deployed_and_succeeded(&app, &gate, SERVICE, "1.1.0", SANDBOX).await;
    }
    let in_flight = id_of(&deployed(&app, SERVICE, "1.2.0", SANDBOX).await);
    set_kill_switch(&app, case.kill_switch).await;
    (gate, app, running, in_flight)
}

/// Tries one action in every case, each on a fresh server, and checks it
/// against what `allowedActions` said just before.
async fn check_every_case(action: &str) {
    let mut first_reasons = std::collections::BTreeSet::new();
    for case in cases() {
        let (_gate, app, running, in_flight) = app_in(case).await;
        let permission = allowed_actions(&app, case.token, SANDBOX).await[action].clone();
        let response = match action {
            "deploy" => deploy(&app, case.token, intent(SERVICE, "1.2.0", SANDBOX), &key()).await,
            "rollback" => rollback(&app, case.token, &running, &key()).await,
            "cancel" => cancel(&app, case.token, &in_flight, &key()).await,
            "promote" => {
                let running_version = if case.something_to_roll_back { "1.1.0" } else { "1.0.0" };
                let intent = json!({
                    "service": SERVICE, "version": running_version, "sourceEnvironment": SANDBOX,
                    "targetEnvironment": "staging", "changeSummary": "promote",
                });
                app.gql_as(Some(case.token), PROMOTE, json!({ "intent": intent, "key": key() })).await
            }
            other => panic!("unknown action {other}"),
        };
        first_reasons.insert(reason_codes(&permission).first().cloned().unwrap_or_else(|| "allowed".to_owned()));
        if permission["allowed"] == true {
            assert!(response.errors().is_empty(), "{action} {case:?}: allowed, but refused: {}", response.body);
            assert_eq!(reason_codes(&permission), Vec::<String>::new(), "{case:?}");
        } else {
            let first = reason_codes(&permission).first().cloned();
            assert!(first.is_some(), "{action} {case:?}: not allowed without a reason: {permission}");
            assert_eq!(response.first_code(), first, "{action} {case:?}: {permission} / {}", response.body);
        }
    }
    // The matrix must reach both answers and more than one refusal, or it
    // proves nothing.
    assert!(first_reasons.contains("allowed"), "{action}: never allowed: {first_reasons:?}");
    assert!(first_reasons.len() >= 4, "{action}: too few distinct answers: {first_reasons:?}");
    eprintln!("{action}: {first_reasons:?}");
}

#[tokio::test]
async fn an_allowed_deploy_is_accepted_and_a_refused_one_fails_with_the_first_reason() {
    check_every_case("deploy").await;
}

#[tokio::test]
async fn an_allowed_rollback_is_accepted_and_a_refused_one_fails_with_the_first_reason() {
    check_every_case("rollback").await;
}

#[tokio::test]
async fn an_allowed_promotion_is_accepted_and_a_refused_one_fails_with_the_first_reason() {
    check_every_case("promote").await;
}

#[tokio::test]
async fn an_allowed_cancel_is_accepted_and_a_refused_one_fails_with_the_first_reason() {
    check_every_case("cancel").await;
}

#[tokio::test]
async fn every_reason_is_listed_in_order_and_asking_writes_nothing() {
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate).catalog(&test_catalog(Limits::default()))).spawn().await;
    set_kill_switch(&app, true).await;
    let audited = app.admin("{ auditEvents { nodes { id } } }", json!({})).await.ok()["auditEvents"].clone();

    let observer = allowed_actions(&app, OBSERVER, SANDBOX).await;
    let outsider = allowed_actions(&app, OUTSIDER, SANDBOX).await;
    let owner_in_staging = allowed_actions(&app, OWNER, "staging").await;

    assert_eq!(observer["role"], "OBSERVER");
    assert_eq!(reason_codes(&observer["deploy"]), ["ROLE_FORBIDDEN", "MUTATIONS_DISABLED"]);
    assert_eq!(
        reason_codes(&outsider["rollback"]),
        ["MUTATIONS_DISABLED", "DELIVERY_GROUP_SCOPE_REQUIRED"],
        "an outsider learns nothing of the group beyond the refusal"
    );
    assert_eq!(reason_codes(&owner_in_staging["rollback"]), ["MUTATIONS_DISABLED", "NO_PRIOR_SUCCESSFUL_VERSION"]);
    assert_eq!(reason_codes(&owner_in_staging["promote"]), ["MUTATIONS_DISABLED", "PROMOTION_NO_SUCCESSFUL_VERSION"]);
    assert_eq!(reason_codes(&owner_in_staging["cancel"]), ["MUTATIONS_DISABLED", "NOTHING_IN_FLIGHT"]);
    assert_eq!(reason_codes(&owner_in_staging["deploy"]), ["MUTATIONS_DISABLED"]);
    let after = app.admin("{ auditEvents { nodes { id } } }", json!({})).await.ok()["auditEvents"].clone();
    assert_eq!(after, audited, "asking is not audited");
}

#[tokio::test]
async fn delivery_status_shows_the_newest_record_what_runs_and_the_promotion_candidate() {
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate).catalog(&test_catalog(Limits::default()))).spawn().await;
    let running = deployed_and_succeeded(&app, &gate, SERVICE, "1.0.0", SANDBOX).await;
    let in_flight = id_of(&deployed(&app, SERVICE, "1.1.0", SANDBOX).await);
    deployed_and_succeeded(&app, &gate, SERVICE, "1.0.0", "staging").await;

    let sandbox = delivery_status(&app, OBSERVER, SANDBOX).await;
    let staging = delivery_status(&app, OWNER, "staging").await;
    let nothing_yet = delivery_status(&app, OWNER, "frozen").await;
    let outsider = delivery_status(&app, OUTSIDER, SANDBOX).await;

    let sandbox = &sandbox.ok()["deliveryStatus"];
    assert_eq!(sandbox["hasDeployments"], true);
    assert_eq!(sandbox["latest"]["id"], json!(in_flight), "latest is the newest record, in flight or not");
    assert_eq!(sandbox["running"], json!({ "version": "1.0.0", "deploymentId": running }));
    assert_eq!(
        sandbox["promotionCandidate"],
        json!({
            "eligible": true, "reason": null, "sourceEnvironment": "sandbox", "targetEnvironment": "staging",
            "version": "1.0.0", "recipeId": "standard",
        })
    );
    let staging = &staging.ok()["deliveryStatus"]["promotionCandidate"];
    assert_eq!(staging["eligible"], false);
    assert_eq!(staging["reason"], "PROMOTION_AT_HIGHEST_ENVIRONMENT");
    let nothing_yet = &nothing_yet.ok()["deliveryStatus"];
    assert_eq!(nothing_yet["hasDeployments"], false);
    assert_eq!(nothing_yet["latest"], Value::Null);
    assert_eq!(nothing_yet["promotionCandidate"]["reason"], "PROMOTION_NO_SUCCESSFUL_VERSION");
    assert_eq!(outsider.first_code().as_deref(), Some("DELIVERY_GROUP_SCOPE_REQUIRED"));
    assert!(outsider.data()["deliveryStatus"].is_null());
}
