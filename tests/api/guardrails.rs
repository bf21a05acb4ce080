//! Guardrails of deploy, rollback and cancel (DESIGN §4, §5, §10): every
//! refusal code, the order of the checks, the preflight figures of
//! `validateDeployment` / `validateRollback`, and the per (group,
//! environment) scope of quota and concurrency. Every refusal is checked
//! the same way: null field, the code first, no engine call, no record, and
//! exactly one DENIED audit event describing the attempt.

use dxcp::domain::{deployment::DeploymentState, Role};
use serde_json::{json, Value};

use crate::harness::{
    catalog::{test_catalog, Limits},
    fake_gate::FakeGate,
    graphql::{
        cancel, deploy, deployed, deployed_and_succeeded, finish, id_of, intent, intent_with_recipe, key, rollback,
        validate_deployment, validate_rollback, violation_codes, wait_for_state, with_outsider, DEPLOY, OUTSIDER,
        ROLLBACK,
    },
    seed::{self, base_time},
    storage::{assert_act_refused, execution_of, records, Denial, Snapshot},
    TestApp, TestAppBuilder, ADMIN, CI, OBSERVER, OWNER,
};

/// The demo catalogue, deployments through the fake Gate.
async fn demo_app() -> (FakeGate, TestApp) {
    app_from(|b| b).await
}

/// The test catalogue with these limits, deployments through the fake Gate.
async fn test_app(limits: Limits) -> (FakeGate, TestApp) {
    let toml = test_catalog(limits);
    app_from(move |b| b.catalog(&toml)).await
}

async fn app_from(configure: impl FnOnce(TestAppBuilder) -> TestAppBuilder) -> (FakeGate, TestApp) {
    let gate = FakeGate::start().await;
    let app = configure(TestApp::builder().gate(&gate)).spawn().await;
    (gate, app)
}

const AS_ADMIN: (&str, Role) = ("admin", Role::PlatformAdmin);
const AS_OWNER: (&str, Role) = ("owner", Role::DeliveryOwner);
const AS_OBSERVER: (&str, Role) = ("observer", Role::Observer);
const AS_CI: (&str, Role) = ("ci", Role::CiPublisher);
const AS_OUTSIDER: (&str, Role) = ("outsider", Role::DeliveryOwner);

/// A deployment the engine accepted and is still running.
async fn in_flight(app: &TestApp, service: &str, version: &str, environment: &str) -> String {
    let record = deployed(app, service, version, environment).await;
    assert_eq!(record["state"], "ACTIVE", "{record}");
    id_of(&record)
}

// --- step 1: role -------------------------------------------------------------

/// The catalogue a refused-deploy case runs on.
enum Catalog {
    /// The demo catalogue.
    Demo,
    /// `test_catalog(Limits::default())`.
    Test,
}

/// A deploy the policy refuses at once: the name the case had as a test of
/// its own, the catalogue, who sends which intent, the code, and the actor
/// the DENIED audit event names.
type RefusedDeploy = (&'static str, Catalog, &'static str, Value, &'static str, (&'static str, Role));

/// Each case on a fresh server: a null `deploy`, the code first, no engine
/// call, no record, and one DENIED `DEPLOY_SUBMIT` event for the intent's
/// service and environment (`Snapshot::assert_refused`).
#[tokio::test]
async fn every_deploy_the_policy_refuses_writes_nothing_but_its_denied_audit_event() {
    let cases: Vec<RefusedDeploy> = vec![
        (
            "an_observer_may_not_deploy",
            Catalog::Demo,
            OBSERVER,
            intent("payments-api", "1.0.0", "sandbox"),
            "ROLE_FORBIDDEN",
            AS_OBSERVER,
        ),
        (
            "a_ci_publisher_may_not_deploy",
            Catalog::Demo,
            CI,
            intent("payments-api", "1.0.0", "sandbox"),
            "ROLE_FORBIDDEN",
            AS_CI,
        ),
        (
            "a_malformed_version_is_an_invalid_version",
            Catalog::Demo,
            OWNER,
            intent("payments-api", "v1.2", "sandbox"),
            "INVALID_VERSION",
            AS_OWNER,
        ),
        (
            "a_malformed_environment_name_is_an_invalid_environment",
            Catalog::Demo,
            OWNER,
            intent("payments-api", "1.0.0", "Sand Box!"),
            "INVALID_ENVIRONMENT",
            AS_OWNER,
        ),
        (
            "a_malformed_recipe_id_is_an_invalid_request",
            Catalog::Demo,
            OWNER,
            intent_with_recipe("payments-api", "1.0.0", "sandbox", "Canary!"),
            "INVALID_REQUEST",
            AS_OWNER,
        ),
        (
            "a_service_that_is_not_allowlisted_is_refused",
            Catalog::Demo,
            ADMIN,
            intent("mystery-service", "1.0.0", "sandbox"),
            "SERVICE_NOT_ALLOWLISTED",
            AS_ADMIN,
        ),
        (
            "a_service_in_no_delivery_group_is_refused",
            Catalog::Test,
            ADMIN,
            intent("orphan", "1.0.0", "sandbox"),
            "SERVICE_NOT_IN_DELIVERY_GROUP",
            AS_ADMIN,
        ),
        (
            "an_environment_the_group_does_not_list_is_not_allowed",
            Catalog::Demo,
            OWNER,
            intent("payments-api", "1.0.0", "perf"),
            "ENVIRONMENT_NOT_ALLOWED",
            AS_OWNER,
        ),
        (
            "a_disabled_environment_is_refused",
            Catalog::Test,
            OWNER,
            intent("payments-api", "1.0.0", "frozen"),
            "ENVIRONMENT_DISABLED",
            AS_OWNER,
        ),
        (
            "a_recipe_the_group_does_not_allow_is_refused",
            Catalog::Demo,
            OWNER,
            intent_with_recipe("checkout-web", "1.0.0", "sandbox", "canary"),
            "RECIPE_NOT_ALLOWED",
            AS_OWNER,
        ),
        (
            "no_recipe_and_no_group_default_is_recipe_not_found",
            Catalog::Test,
            OWNER,
            intent("batch-job", "1.0.0", "sandbox"),
            "RECIPE_NOT_FOUND",
            AS_OWNER,
        ),
        (
            "a_deprecated_recipe_is_refused",
            Catalog::Test,
            OWNER,
            intent_with_recipe("payments-api", "1.0.0", "sandbox", "legacy"),
            "RECIPE_DEPRECATED",
            AS_OWNER,
        ),
        (
            "a_recipe_the_service_is_not_compatible_with_is_refused",
            Catalog::Demo,
            OWNER,
            intent_with_recipe("ledger", "1.0.0", "sandbox", "canary"),
            "RECIPE_INCOMPATIBLE",
            AS_OWNER,
        ),
        (
            "a_version_that_is_not_a_registered_build_is_not_found",
            Catalog::Demo,
            OWNER,
            intent("payments-api", "9.9.9", "sandbox"),
            "VERSION_NOT_FOUND",
            AS_OWNER,
        ),
    ];
    for (case, catalog, token, intent, code, who) in cases {
        println!("case: {case}");
        let (gate, app) = match catalog {
            Catalog::Demo => demo_app().await,
            Catalog::Test => test_app(Limits::default()).await,
        };
        let service = intent["service"].as_str().expect("a service").to_owned();
        let environment = intent["environment"].as_str().expect("an environment").to_owned();
        let before = Snapshot::take(&app, &gate).await;

        let response = deploy(&app, token, intent, &key()).await;

        let d = Denial::deploy(code, who, Some((&service, &environment)));
        before.assert_refused(&app, &gate, &response, d).await;
    }
}

#[tokio::test]
async fn an_observer_may_not_roll_back() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let d = Denial::rollback("ROLE_FORBIDDEN", AS_OBSERVER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OBSERVER, &target, &key()), d).await;
}

#[tokio::test]
async fn a_ci_publisher_may_not_roll_back() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let d = Denial::rollback("ROLE_FORBIDDEN", AS_CI, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, CI, &target, &key()), d).await;
}

#[tokio::test]
async fn a_ci_publisher_may_not_cancel() {
    let (gate, app) = demo_app().await;
    let target = in_flight(&app, "payments-api", "1.0.0", "sandbox").await;
    let d = Denial::of("DEPLOY_CANCEL", "ROLE_FORBIDDEN", AS_CI, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, cancel(&app, CI, &target, &key()), d).await;
}

#[tokio::test]
async fn an_observer_may_not_validate_a_deployment() {
    let (gate, app) = demo_app().await;
    let before = Snapshot::take(&app, &gate).await;

    let response = app
        .observer(
            "query($intent: DeploymentIntentInput!) { validateDeployment(intent: $intent) { allowed } }",
            json!({ "intent": intent("payments-api", "1.0.0", "sandbox") }),
        )
        .await;

    assert_eq!(response.first_code().as_deref(), Some("ROLE_FORBIDDEN"), "{}", response.body);
    before.assert_nothing_written(&app, &gate).await;
}

#[tokio::test]
async fn a_deploy_without_a_token_is_unauthorized_and_not_audited() {
    let (gate, app) = demo_app().await;
    let before = Snapshot::take(&app, &gate).await;

    let response =
        app.gql_as(None, DEPLOY, json!({ "intent": intent("payments-api", "1.0.0", "sandbox"), "key": key() })).await;

    assert_eq!(response.status, 401);
    assert_eq!(response.first_code().as_deref(), Some("UNAUTHORIZED"));
    before.assert_nothing_written(&app, &gate).await;
}

// --- step 3: rate limit ---------------------------------------------------------

#[tokio::test]
async fn a_deploy_over_the_mutation_rate_limit_is_refused() {
    let (gate, app) = app_from(|b| b.env("DXCP_MUTATE_RPM", "1")).await;
    deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await.ok();
    let d = Denial::deploy("RATE_LIMITED", AS_OWNER, Some(("payments-api", "staging")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging"), &key()), d).await;
}

#[tokio::test]
async fn the_mutation_rate_limit_is_counted_per_actor() {
    let (gate, app) = app_from(|b| b.env("DXCP_MUTATE_RPM", "1")).await;
    deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await.ok();
    let limited = deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging"), &key()).await;
    assert_eq!(limited.first_code().as_deref(), Some("RATE_LIMITED"));

    let by_admin = deploy(&app, ADMIN, intent("payments-api", "1.0.0", "staging"), &key()).await;

    assert_eq!(by_admin.ok()["deploy"]["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 2);
}

// --- step 2: kill switch --------------------------------------------------------

async fn kill_switched_app() -> (FakeGate, TestApp) {
    app_from(|b| b.env("DXCP_KILL_SWITCH", "true")).await
}

#[tokio::test]
async fn with_the_kill_switch_on_a_deploy_is_refused_as_mutations_disabled() {
    let (gate, app) = kill_switched_app().await;
    let d = Denial::deploy("MUTATIONS_DISABLED", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()), d).await;
}

#[tokio::test]
async fn with_the_kill_switch_on_a_rollback_is_refused_as_mutations_disabled() {
    let (gate, app) = kill_switched_app().await;
    let target = seed::succeeded("payments-api", "sandbox", base_time());
    seed::insert(&app, std::slice::from_ref(&target)).await;
    let d = Denial::rollback("MUTATIONS_DISABLED", AS_ADMIN, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, ADMIN, &target.id.to_string(), &key()), d).await;
}

#[tokio::test]
async fn with_the_kill_switch_on_a_cancel_is_refused_as_mutations_disabled() {
    let (gate, app) = kill_switched_app().await;
    let mut target = seed::record("ledger", "staging", "payments", base_time());
    target.state = DeploymentState::Active;
    target.outcome = None;
    seed::insert(&app, std::slice::from_ref(&target)).await;
    let d = Denial::of("DEPLOY_CANCEL", "MUTATIONS_DISABLED", AS_OWNER, Some(("ledger", "staging")));
    assert_act_refused(&app, &gate, cancel(&app, OWNER, &target.id.to_string(), &key()), d).await;
}

const SET_KILL_SWITCH: &str = "mutation($on: Boolean!, $key: String!) {
    updateSystemSettings(input: { mutationsDisabled: $on }, changeReason: \"incident drill\", idempotencyKey: $key) {
        mutationsDisabled
    }
}";

async fn set_kill_switch(app: &TestApp, on: bool) {
    let response = app.admin(SET_KILL_SWITCH, json!({ "on": on, "key": key() })).await;
    assert_eq!(response.ok()["updateSystemSettings"]["mutationsDisabled"], on);
}

#[tokio::test]
async fn the_kill_switch_turned_on_at_runtime_refuses_the_next_deploy_even_from_an_admin() {
    let (gate, app) = demo_app().await;
    set_kill_switch(&app, true).await;
    let d = Denial::deploy("MUTATIONS_DISABLED", AS_ADMIN, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, ADMIN, intent("payments-api", "1.0.0", "sandbox"), &key()), d).await;
    set_kill_switch(&app, false).await;
    let after = deploy(&app, ADMIN, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(after.ok()["deploy"]["state"], "ACTIVE", "turning the switch off unblocks deploys at once");
}

#[tokio::test]
async fn the_kill_switch_is_checked_before_a_replay_is_answered() {
    let (gate, app) = demo_app().await;
    let reused = key();
    deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await.ok();
    set_kill_switch(&app, true).await;
    let d = Denial::deploy("MUTATIONS_DISABLED", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused), d).await;
}

#[tokio::test]
async fn the_role_is_checked_before_the_kill_switch_and_the_kill_switch_before_the_input() {
    let (gate, app) = kill_switched_app().await;
    let mut blank = intent("payments-api", "1.0", "sandbox");
    blank["changeSummary"] = json!("   ");

    let before_observer = Snapshot::take(&app, &gate).await;
    let observer = deploy(&app, OBSERVER, blank.clone(), "").await;
    let d = Denial::deploy("ROLE_FORBIDDEN", AS_OBSERVER, Some(("payments-api", "sandbox")));
    before_observer.assert_refused(&app, &gate, &observer, d).await;

    let before_owner = Snapshot::take(&app, &gate).await;
    let owner = deploy(&app, OWNER, blank, "").await;
    let d = Denial::deploy("MUTATIONS_DISABLED", AS_OWNER, Some(("payments-api", "sandbox")));
    before_owner.assert_refused(&app, &gate, &owner, d).await;
}

// --- step 4 and 5: idempotency key and input shape ------------------------------

#[tokio::test]
async fn a_blank_change_summary_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    let mut blank = intent("payments-api", "1.0.0", "sandbox");
    blank["changeSummary"] = json!(" \t  ");
    let d = Denial::deploy("INVALID_REQUEST", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, blank, &key()), d).await;
}

#[tokio::test]
async fn a_change_summary_of_241_characters_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    let mut long = intent("payments-api", "1.0.0", "sandbox");
    long["changeSummary"] = json!("x".repeat(241));
    let d = Denial::deploy("INVALID_REQUEST", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, long, &key()), d).await;
}

#[tokio::test]
async fn a_change_summary_of_240_characters_after_trimming_is_accepted_and_stored_trimmed() {
    let (gate, app) = demo_app().await;
    let mut edge = intent("payments-api", "1.0.0", "sandbox");
    let summary = "é".repeat(240);
    edge["changeSummary"] = json!(format!("  {summary}\n"));

    let response = deploy(&app, OWNER, edge, &key()).await;

    let record = &response.ok()["deploy"];
    assert_eq!(record["changeSummary"], json!(summary));
    assert_eq!(gate.triggers().len(), 1);
}

#[tokio::test]
async fn a_rollback_with_a_241_character_change_summary_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let d = Denial::rollback("INVALID_REQUEST", AS_ADMIN, Some(("payments-api", "sandbox")));
    assert_act_refused(
        &app,
        &gate,
        app.admin(ROLLBACK, json!({ "id": target, "summary": "y".repeat(241), "key": key() })),
        d,
    )
    .await;
}

#[tokio::test]
async fn an_empty_idempotency_key_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    let d = Denial::deploy("INVALID_REQUEST", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), ""), d).await;
}

#[tokio::test]
async fn an_idempotency_key_of_129_characters_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    let d = Denial::deploy("INVALID_REQUEST", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(
        &app,
        &gate,
        deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &"k".repeat(129)),
        d,
    )
    .await;
}

#[tokio::test]
async fn an_idempotency_key_of_128_characters_is_accepted() {
    let (gate, app) = demo_app().await;

    let response = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &"k".repeat(128)).await;

    assert_eq!(response.ok()["deploy"]["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_with_a_non_printable_character_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    let d = Denial::deploy("INVALID_REQUEST", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), "retry\u{7}1"), d)
        .await;
}

#[tokio::test]
async fn a_rollback_with_a_non_printable_idempotency_key_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let d = Denial::rollback("INVALID_REQUEST", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &target, "line\nbreak"), d).await;
}

#[tokio::test]
async fn a_cancel_with_an_idempotency_key_of_129_characters_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    let target = in_flight(&app, "payments-api", "1.0.0", "sandbox").await;
    let d = Denial::of("DEPLOY_CANCEL", "INVALID_REQUEST", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, cancel(&app, OWNER, &target, &"c".repeat(129)), d).await;
}

#[tokio::test]
async fn a_malformed_service_name_is_an_invalid_request() {
    let (gate, app) = demo_app().await;
    let before = Snapshot::take(&app, &gate).await;

    let response = deploy(&app, OWNER, intent("Payments API", "1.0.0", "sandbox"), &key()).await;
    let preflight = validate_deployment(&app, OWNER, intent("Payments API", "1.0.0", "sandbox")).await;

    let d = Denial::deploy("INVALID_REQUEST", AS_OWNER, Some(("Payments API", "sandbox")));
    before.assert_refused(&app, &gate, &response, d).await;
    assert_eq!(violation_codes(&preflight), ["INVALID_REQUEST", "SERVICE_NOT_ALLOWLISTED"]);
}

// --- step 6 and 7: allowlist and delivery-group policy --------------------------

#[tokio::test]
async fn an_owner_who_is_not_a_member_of_the_group_may_not_deploy_its_services() {
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate)).spawn().await;
    let d = Denial::deploy("DELIVERY_GROUP_SCOPE_REQUIRED", AS_OUTSIDER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OUTSIDER, intent("payments-api", "1.0.0", "sandbox"), &key()), d)
        .await;
}

#[tokio::test]
async fn an_owner_who_is_not_a_member_of_the_group_may_not_roll_back_its_deployments() {
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate)).spawn().await;
    deployed_and_succeeded(&app, &gate, "checkout-web", "1.0.0", "staging").await;
    let target = deployed_and_succeeded(&app, &gate, "checkout-web", "1.1.0", "staging").await;
    let d = Denial::rollback("DELIVERY_GROUP_SCOPE_REQUIRED", AS_OUTSIDER, Some(("checkout-web", "staging")));
    assert_act_refused(&app, &gate, rollback(&app, OUTSIDER, &target, &key()), d).await;
}

// --- step 8: compatibility --------------------------------------------------------

// --- step 9: version and rollback target ------------------------------------------

#[tokio::test]
async fn a_rollback_cannot_itself_be_rolled_back() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let restore = rollback(&app, OWNER, &target, &key()).await;
    let restore_id = id_of(&restore.ok()["rollback"]);
    finish(&app, &gate, &restore_id).await;
    let d = Denial::rollback("ROLLBACK_OF_ROLLBACK", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &restore_id, &key()), d).await;
}

#[tokio::test]
async fn a_deployment_still_in_flight_is_not_a_current_rollback_target() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let running = in_flight(&app, "payments-api", "1.1.0", "sandbox").await;
    let d = Denial::rollback("ROLLBACK_TARGET_NOT_CURRENT", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &running, &key()), d).await;
}

#[tokio::test]
async fn a_failure_older_than_the_running_deployment_is_not_a_current_rollback_target() {
    let (gate, app) = demo_app().await;
    let failed = in_flight(&app, "payments-api", "1.0.0", "sandbox").await;
    gate.fail_execution(&execution_of(&app, &failed).await, &["Health check failed"]);
    wait_for_state(&app, &failed, "FAILED").await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let d = Denial::rollback("ROLLBACK_TARGET_NOT_CURRENT", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &failed, &key()), d).await;
}

#[tokio::test]
async fn a_superseded_deployment_is_not_a_current_rollback_target() {
    let (gate, app) = demo_app().await;
    let old = deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let d = Denial::rollback("ROLLBACK_TARGET_NOT_CURRENT", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &old, &key()), d).await;
}

#[tokio::test]
async fn rolling_back_the_first_success_has_no_prior_version_to_restore() {
    let (gate, app) = demo_app().await;
    let only = deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let d = Denial::rollback("NO_PRIOR_SUCCESSFUL_VERSION", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &only, &key()), d).await;
}

// --- steps 10 and 11: quota and concurrency ----------------------------------------

#[tokio::test]
async fn a_deploy_over_the_daily_quota_is_refused() {
    let (gate, app) = test_app(Limits { deploy_quota: 1, ..Limits::default() }).await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let d = Denial::deploy("QUOTA_EXCEEDED", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, intent("payments-api", "1.1.0", "sandbox"), &key()), d).await;
}

#[tokio::test]
async fn a_rollback_over_the_daily_rollback_quota_is_refused() {
    let (gate, app) = test_app(Limits { rollback_quota: 1, ..Limits::default() }).await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let first_target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let first_rollback = rollback(&app, OWNER, &first_target, &key()).await;
    finish(&app, &gate, &id_of(&first_rollback.ok()["rollback"])).await;
    let second_target = deployed_and_succeeded(&app, &gate, "payments-api", "1.2.0", "sandbox").await;
    let d = Denial::rollback("QUOTA_EXCEEDED", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &second_target, &key()), d).await;
}

#[tokio::test]
async fn a_deploy_beyond_the_concurrency_limit_is_refused() {
    let (gate, app) = demo_app().await;
    in_flight(&app, "payments-api", "1.0.0", "sandbox").await;
    let d = Denial::deploy("CONCURRENCY_LIMIT_REACHED", AS_OWNER, Some(("ledger", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()), d).await;
}

#[tokio::test]
async fn a_rollback_needs_a_free_concurrency_slot() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    in_flight(&app, "ledger", "1.0.0", "sandbox").await;
    let d = Denial::rollback("CONCURRENCY_LIMIT_REACHED", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &target, &key()), d).await;
}

// --- idempotency, cancel and unknown ids --------------------------------------------

#[tokio::test]
async fn a_key_reused_with_a_different_intent_is_an_idempotency_conflict() {
    let (gate, app) = demo_app().await;
    let reused = key();
    deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await.ok();
    let d = Denial::deploy("IDEMPOTENCY_CONFLICT", AS_OWNER, Some(("payments-api", "staging")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, intent("payments-api", "1.1.0", "staging"), &reused), d).await;
}

#[tokio::test]
async fn a_finished_deployment_is_not_cancelable() {
    let (gate, app) = demo_app().await;
    let done = deployed_and_succeeded(&app, &gate, "checkout-web", "1.0.0", "sandbox").await;
    let d = Denial::of("DEPLOY_CANCEL", "DEPLOYMENT_NOT_CANCELABLE", AS_OWNER, Some(("checkout-web", "sandbox")));
    assert_act_refused(&app, &gate, cancel(&app, OWNER, &done, &key()), d).await;
}

#[tokio::test]
async fn rolling_back_an_unknown_deployment_is_not_found() {
    let (gate, app) = demo_app().await;
    let d = Denial::of("ROLLBACK_SUBMIT", "NOT_FOUND", AS_OWNER, None);
    assert_act_refused(&app, &gate, rollback(&app, OWNER, &uuid::Uuid::new_v4().to_string(), &key()), d).await;
}

#[tokio::test]
async fn canceling_an_unknown_deployment_is_not_found() {
    let (gate, app) = demo_app().await;
    let d = Denial::of("DEPLOY_CANCEL", "NOT_FOUND", AS_ADMIN, None);
    assert_act_refused(&app, &gate, cancel(&app, ADMIN, &uuid::Uuid::new_v4().to_string(), &key()), d).await;
}

#[tokio::test]
async fn canceling_a_malformed_deployment_id_is_not_found() {
    let (gate, app) = demo_app().await;
    let d = Denial::of("DEPLOY_CANCEL", "NOT_FOUND", AS_ADMIN, None);
    assert_act_refused(&app, &gate, cancel(&app, ADMIN, "not-a-deployment-id", &key()), d).await;
}

// --- order -----------------------------------------------------------------------

#[tokio::test]
async fn a_recipe_the_group_does_not_allow_is_reported_before_its_existence_and_the_version() {
    let (gate, app) = demo_app().await;
    let bad = intent_with_recipe("checkout-web", "9.9.9", "sandbox", "ghost");
    let before = Snapshot::take(&app, &gate).await;

    let response = deploy(&app, OWNER, bad.clone(), &key()).await;
    let preflight = validate_deployment(&app, OWNER, bad).await;

    let d = Denial::deploy("RECIPE_NOT_ALLOWED", AS_OWNER, Some(("checkout-web", "sandbox")));
    before.assert_refused(&app, &gate, &response, d).await;
    assert_eq!(violation_codes(&preflight), ["RECIPE_NOT_ALLOWED", "RECIPE_NOT_FOUND", "VERSION_NOT_FOUND"]);
    assert_eq!(preflight["allowed"], false);
    assert_eq!(preflight["recipeId"], "ghost");
}

#[tokio::test]
async fn input_shape_errors_are_all_listed_before_policy_errors() {
    let (gate, app) = demo_app().await;
    let mut bad = intent("payments-api", "1.0", "perf");
    bad["changeSummary"] = json!("");
    let before = Snapshot::take(&app, &gate).await;

    let response = deploy(&app, OWNER, bad.clone(), &key()).await;
    let preflight = validate_deployment(&app, OWNER, bad).await;

    let d = Denial::deploy("INVALID_REQUEST", AS_OWNER, Some(("payments-api", "perf")));
    before.assert_refused(&app, &gate, &response, d).await;
    assert_eq!(violation_codes(&preflight), ["INVALID_REQUEST", "INVALID_VERSION", "ENVIRONMENT_NOT_ALLOWED"]);
}

#[tokio::test]
async fn membership_is_checked_before_environment_and_recipe_policy() {
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate)).spawn().await;
    let bad = intent_with_recipe("payments-api", "1.0.0", "perf", "ghost");
    let before = Snapshot::take(&app, &gate).await;

    let response = deploy(&app, OUTSIDER, bad.clone(), &key()).await;
    let preflight = validate_deployment(&app, OUTSIDER, bad).await;

    let d = Denial::deploy("DELIVERY_GROUP_SCOPE_REQUIRED", AS_OUTSIDER, Some(("payments-api", "perf")));
    before.assert_refused(&app, &gate, &response, d).await;
    assert_eq!(
        violation_codes(&preflight),
        ["DELIVERY_GROUP_SCOPE_REQUIRED", "ENVIRONMENT_NOT_ALLOWED", "RECIPE_NOT_ALLOWED", "RECIPE_NOT_FOUND"]
    );
}

#[tokio::test]
async fn a_disabled_environment_is_reported_before_a_deprecated_then_incompatible_recipe() {
    let (gate, app) = test_app(Limits::default()).await;
    let bad = intent_with_recipe("ledger", "1.0.0", "frozen", "legacy");
    let before = Snapshot::take(&app, &gate).await;

    let response = deploy(&app, OWNER, bad.clone(), &key()).await;
    let preflight = validate_deployment(&app, OWNER, bad).await;

    let d = Denial::deploy("ENVIRONMENT_DISABLED", AS_OWNER, Some(("ledger", "frozen")));
    before.assert_refused(&app, &gate, &response, d).await;
    assert_eq!(violation_codes(&preflight), ["ENVIRONMENT_DISABLED", "RECIPE_DEPRECATED", "RECIPE_INCOMPATIBLE"]);
}

#[tokio::test]
async fn a_reused_key_with_an_invalid_intent_reports_the_conflict_before_the_input_shape() {
    let (gate, app) = demo_app().await;
    let reused = key();
    deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &reused).await.ok();
    let mut bad = intent("payments-api", "1.0", "sandbox");
    bad["changeSummary"] = json!("");
    let d = Denial::deploy("IDEMPOTENCY_CONFLICT", AS_OWNER, Some(("payments-api", "sandbox")));
    assert_act_refused(&app, &gate, deploy(&app, OWNER, bad, &reused), d).await;
}

#[tokio::test]
async fn quota_is_reported_before_concurrency_and_both_after_the_version() {
    let (gate, app) = test_app(Limits { deploy_quota: 1, ..Limits::default() }).await;
    in_flight(&app, "payments-api", "1.0.0", "sandbox").await;
    let before = Snapshot::take(&app, &gate).await;

    let response = deploy(&app, OWNER, intent("payments-api", "1.1.0", "sandbox"), &key()).await;
    let unknown_version = validate_deployment(&app, OWNER, intent("payments-api", "9.9.9", "sandbox")).await;

    let d = Denial::deploy("QUOTA_EXCEEDED", AS_OWNER, Some(("payments-api", "sandbox")));
    before.assert_refused(&app, &gate, &response, d).await;
    assert_eq!(violation_codes(&unknown_version), ["VERSION_NOT_FOUND", "QUOTA_EXCEEDED", "CONCURRENCY_LIMIT_REACHED"]);
}

// --- validateDeployment / validateRollback -------------------------------------------

#[tokio::test]
async fn validate_deployment_reports_the_quota_and_concurrency_of_the_group_and_environment() {
    let (gate, app) = test_app(Limits { max_concurrent: 2, deploy_quota: 5, rollback_quota: 3 }).await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    in_flight(&app, "payments-api", "1.1.0", "sandbox").await;

    let preflight = validate_deployment(&app, OWNER, intent("ledger", "1.0.0", "sandbox")).await;

    assert_eq!(
        preflight,
        json!({
            "allowed": true, "violations": [],
            "service": "ledger", "environment": "sandbox", "version": "1.0.0",
            "recipeId": "standard", "deliveryGroupId": "payments", "versionRegistered": true,
            "maxConcurrentDeployments": 2, "inFlightDeployments": 1,
            "dailyQuota": 5, "usedToday": 2, "remainingToday": 3,
        })
    );
}

#[tokio::test]
async fn validate_deployment_of_an_unregistered_version_says_so_and_names_the_explicit_recipe() {
    let (_gate, app) = demo_app().await;

    let preflight =
        validate_deployment(&app, ADMIN, intent_with_recipe("payments-api", "7.0.0", "staging", "canary")).await;

    assert_eq!(preflight["allowed"], false);
    assert_eq!(violation_codes(&preflight), ["VERSION_NOT_FOUND"]);
    assert_eq!(preflight["versionRegistered"], false);
    assert_eq!(preflight["recipeId"], "canary");
    assert_eq!(preflight["usedToday"], 0);
    assert_eq!(preflight["remainingToday"], 25);
    assert_eq!(preflight["inFlightDeployments"], 0);
}

#[tokio::test]
async fn validate_deployment_shows_quota_and_concurrency_when_both_are_used_up() {
    let (_gate, app) = test_app(Limits { deploy_quota: 1, ..Limits::default() }).await;
    in_flight(&app, "payments-api", "1.0.0", "sandbox").await;

    let preflight = validate_deployment(&app, OWNER, intent("payments-api", "1.1.0", "sandbox")).await;

    assert_eq!(violation_codes(&preflight), ["QUOTA_EXCEEDED", "CONCURRENCY_LIMIT_REACHED"]);
    assert_eq!(preflight["dailyQuota"], 1);
    assert_eq!(preflight["usedToday"], 1);
    assert_eq!(preflight["remainingToday"], 0);
    assert_eq!(preflight["inFlightDeployments"], 1);
    assert_eq!(preflight["maxConcurrentDeployments"], 1);
}

#[tokio::test]
async fn validate_rollback_reports_the_version_it_would_restore_and_the_rollback_quota() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.2.0", "sandbox").await;

    let preflight = validate_rollback(&app, OWNER, &target).await;

    assert_eq!(
        preflight,
        json!({
            "allowed": true, "violations": [],
            "service": "payments-api", "environment": "sandbox", "version": "1.0.0",
            "recipeId": "standard", "deliveryGroupId": "payments", "versionRegistered": true,
            "maxConcurrentDeployments": 1, "inFlightDeployments": 0,
            "dailyQuota": 10, "usedToday": 0, "remainingToday": 10,
        })
    );
}

#[tokio::test]
async fn validate_rollback_of_a_failure_newer_than_the_running_deployment_restores_the_running_version() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let failed = in_flight(&app, "payments-api", "1.2.0", "sandbox").await;
    gate.fail_execution(&execution_of(&app, &failed).await, &["Health check failed"]);
    wait_for_state(&app, &failed, "FAILED").await;

    let preflight = validate_rollback(&app, OWNER, &failed).await;

    assert_eq!(preflight["allowed"], true, "{preflight}");
    assert_eq!(preflight["version"], "1.1.0");
    assert_eq!(preflight["versionRegistered"], true);
}

#[tokio::test]
async fn validate_rollback_of_an_unknown_deployment_is_not_found() {
    let (_gate, app) = demo_app().await;

    let response = app
        .owner(
            "query($id: ID!) { validateRollback(deploymentId: $id) { allowed } }",
            json!({ "id": uuid::Uuid::new_v4().to_string() }),
        )
        .await;

    assert_eq!(response.first_code().as_deref(), Some("NOT_FOUND"), "{}", response.body);
}

#[tokio::test]
async fn validate_rollback_of_a_superseded_deployment_lists_the_target_violation() {
    let (gate, app) = demo_app().await;
    let old = deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;

    let preflight = validate_rollback(&app, OWNER, &old).await;

    assert_eq!(preflight["allowed"], false);
    assert_eq!(violation_codes(&preflight), ["ROLLBACK_TARGET_NOT_CURRENT"]);
}

#[tokio::test]
async fn validate_rollback_counts_rollbacks_already_created_today() {
    let (gate, app) = test_app(Limits { rollback_quota: 1, ..Limits::default() }).await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let first = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let restore = rollback(&app, OWNER, &first, &key()).await;
    finish(&app, &gate, &id_of(&restore.ok()["rollback"])).await;
    let second = deployed_and_succeeded(&app, &gate, "payments-api", "1.2.0", "sandbox").await;

    let preflight = validate_rollback(&app, OWNER, &second).await;

    assert_eq!(violation_codes(&preflight), ["QUOTA_EXCEEDED"]);
    assert_eq!(preflight["version"], "1.0.0", "the rollback restored 1.0.0, the newest earlier success");
    assert_eq!(preflight["dailyQuota"], 1);
    assert_eq!(preflight["usedToday"], 1);
    assert_eq!(preflight["remainingToday"], 0);
}

#[tokio::test]
async fn validation_writes_nothing_and_calls_no_engine() {
    let (gate, app) = demo_app().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;
    let before = Snapshot::take(&app, &gate).await;

    let allowed = validate_deployment(&app, OWNER, intent("payments-api", "1.2.0", "sandbox")).await;
    let refused = validate_deployment(&app, OWNER, intent_with_recipe("ledger", "9.9.9", "perf", "canary")).await;
    let restore = validate_rollback(&app, OWNER, &target).await;

    assert_eq!(allowed["allowed"], true);
    assert_eq!(refused["allowed"], false);
    assert_eq!(restore["allowed"], true);
    before.assert_nothing_written(&app, &gate).await;
}

// --- quota is used by records only; scope is (group, environment) ----------------------

#[tokio::test]
async fn a_refused_deploy_does_not_use_quota() {
    let (gate, app) = test_app(Limits { deploy_quota: 1, ..Limits::default() }).await;
    let refused = deploy(&app, OWNER, intent("payments-api", "9.9.9", "sandbox"), &key()).await;
    assert_eq!(refused.first_code().as_deref(), Some("VERSION_NOT_FOUND"));

    let preflight = validate_deployment(&app, OWNER, intent("payments-api", "1.0.0", "sandbox")).await;
    let accepted = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;

    assert_eq!(preflight["usedToday"], 0);
    assert_eq!(accepted.ok()["deploy"]["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 1);
}

#[tokio::test]
async fn a_deploy_refused_for_concurrency_does_not_use_quota() {
    let (gate, app) = test_app(Limits { deploy_quota: 2, ..Limits::default() }).await;
    let first = in_flight(&app, "payments-api", "1.0.0", "sandbox").await;
    let refused = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(refused.first_code().as_deref(), Some("CONCURRENCY_LIMIT_REACHED"));
    finish(&app, &gate, &first).await;

    let second = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;

    assert_eq!(second.ok()["deploy"]["state"], "ACTIVE", "only one of two daily deploys was used");
    let preflight = validate_deployment(&app, OWNER, intent("payments-api", "1.1.0", "sandbox")).await;
    assert_eq!(preflight["usedToday"], 2);
    assert_eq!(violation_codes(&preflight), ["QUOTA_EXCEEDED", "CONCURRENCY_LIMIT_REACHED"]);
}

#[tokio::test]
async fn rollbacks_use_the_rollback_quota_and_not_the_deploy_quota() {
    let (gate, app) = test_app(Limits { deploy_quota: 2, rollback_quota: 3, ..Limits::default() }).await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    let target = deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;

    let restore = rollback(&app, OWNER, &target, &key()).await;

    assert_eq!(restore.ok()["rollback"]["deploymentKind"], "ROLLBACK", "the deploy quota does not apply");
    let restore_id = id_of(&restore.ok()["rollback"]);
    finish(&app, &gate, &restore_id).await;
    let deploys = validate_deployment(&app, OWNER, intent("payments-api", "1.2.0", "sandbox")).await;
    assert_eq!((deploys["dailyQuota"].clone(), deploys["usedToday"].clone()), (json!(2), json!(2)));
    let rollbacks = validate_rollback(&app, OWNER, &restore_id).await;
    assert_eq!((rollbacks["dailyQuota"].clone(), rollbacks["usedToday"].clone()), (json!(3), json!(1)));
}

#[tokio::test]
async fn deployments_created_before_midnight_utc_do_not_count_against_today() {
    let (gate, app) = test_app(Limits { deploy_quota: 1, ..Limits::default() }).await;
    let midnight = chrono::Utc::now().date_naive().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let yesterday = seed::record("payments-api", "sandbox", "payments", midnight - chrono::Duration::minutes(1));
    seed::insert(&app, &[yesterday]).await;

    let preflight = validate_deployment(&app, OWNER, intent("payments-api", "1.0.0", "sandbox")).await;
    let accepted = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;

    assert_eq!(preflight["usedToday"], 0);
    assert_eq!(accepted.ok()["deploy"]["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 1);
}

#[tokio::test]
async fn a_busy_sandbox_does_not_block_staging() {
    let (gate, app) = demo_app().await;
    in_flight(&app, "payments-api", "1.0.0", "sandbox").await;

    let staging = deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging"), &key()).await;

    assert_eq!(staging.ok()["deploy"]["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 2);
    let sandbox = validate_deployment(&app, OWNER, intent("ledger", "1.0.0", "sandbox")).await;
    assert_eq!(sandbox["inFlightDeployments"], 1);
    assert_eq!(violation_codes(&sandbox), ["CONCURRENCY_LIMIT_REACHED"]);
}

#[tokio::test]
async fn another_groups_deployment_does_not_take_this_groups_slot() {
    let (gate, app) = demo_app().await;
    in_flight(&app, "payments-api", "1.0.0", "sandbox").await;

    let storefront = deploy(&app, OWNER, intent("checkout-web", "1.0.0", "sandbox"), &key()).await;

    assert_eq!(storefront.ok()["deploy"]["state"], "ACTIVE");
    assert_eq!(gate.triggers().len(), 2);
}

#[tokio::test]
async fn the_daily_quota_is_counted_per_environment() {
    let (gate, app) = test_app(Limits { deploy_quota: 1, ..Limits::default() }).await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;

    let staging = deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging"), &key()).await;

    assert_eq!(staging.ok()["deploy"]["state"], "ACTIVE");
    let sandbox = validate_deployment(&app, OWNER, intent("payments-api", "1.1.0", "sandbox")).await;
    assert_eq!(violation_codes(&sandbox), ["QUOTA_EXCEEDED"]);
}

#[tokio::test]
async fn a_deployment_the_engine_finished_frees_its_slot_without_anyone_reading_it() {
    let (gate, app) = demo_app().await;
    let first = in_flight(&app, "payments-api", "1.0.0", "sandbox").await;
    gate.succeed(&gate.last_execution_id().expect("an execution"));

    let second = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;

    assert_eq!(second.ok()["deploy"]["state"], "ACTIVE");
    let all: Vec<(String, DeploymentState)> =
        records(&app).await.into_iter().map(|r| (r.id.to_string(), r.state)).collect();
    assert!(all.contains(&(first, DeploymentState::Succeeded)), "{all:?}");
}

#[tokio::test]
async fn a_refused_request_answers_with_a_request_id_matching_its_audit_event() {
    let (gate, app) = demo_app().await;
    let before = Snapshot::take(&app, &gate).await;

    let response = deploy(&app, OWNER, intent("payments-api", "9.9.9", "sandbox"), &key()).await;

    let d = Denial::deploy("VERSION_NOT_FOUND", AS_OWNER, Some(("payments-api", "sandbox")));
    let event = before.assert_refused(&app, &gate, &response, d).await;
    let error_request_id: Option<Value> = response.errors().first().map(|e| e["extensions"]["requestId"].clone());
    assert_eq!(error_request_id, event.request_id.map(Value::from));
}
