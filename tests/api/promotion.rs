//! Promotion (DESIGN §11.1): a version that SUCCEEDED in one environment is
//! deployed into the next on the delivery group's path. The happy path goes
//! through the fake Gate; every refusal is a coded error with exactly one
//! DENIED `PROMOTION_SUBMIT` event and nothing else written; a replay is the
//! same record; two promotions racing for one free slot admit exactly one.

use dxcp::domain::Role;
use serde_json::{json, Value};

use crate::harness::{
    fake_gate::FakeGate,
    graphql::{deployed_and_succeeded, key, violation_codes, with_outsider, OUTSIDER},
    storage::{assert_act_refused, Denial},
    GqlResponse, TestApp, ADMIN, OWNER,
};

const PROMOTE: &str = "mutation($intent: PromotionIntentInput!, $key: String!) {
    promote(intent: $intent, idempotencyKey: $key) {
        id service environment version state deploymentKind sourceEnvironment
    }
}";

const VALIDATE_PROMOTION: &str = "query($intent: PromotionIntentInput!) {
    validatePromotion(intent: $intent) { allowed violations { code message } }
}";

const AS_OWNER: (&str, Role) = ("owner", Role::DeliveryOwner);
const AS_ADMIN: (&str, Role) = ("admin", Role::PlatformAdmin);
const AS_OUTSIDER: (&str, Role) = ("outsider", Role::DeliveryOwner);

/// A refused promotion: case, caller's token, intent, first code, who is
/// audited, and the (service, target) the DENIED event names.
type RefusalCase =
    (&'static str, &'static str, Value, &'static str, (&'static str, Role), (&'static str, &'static str));

fn promotion(version: &str, source: &str, target: &str) -> Value {
    json!({
        "service": "payments-api", "version": version, "sourceEnvironment": source,
        "targetEnvironment": target, "changeSummary": "promote after a clean soak",
    })
}

async fn promote(app: &TestApp, token: &str, intent: Value, key: &str) -> GqlResponse {
    app.gql_as(Some(token), PROMOTE, json!({ "intent": intent, "key": key })).await
}

async fn validate_promotion(app: &TestApp, token: &str, intent: Value) -> Value {
    app.gql_as(Some(token), VALIDATE_PROMOTION, json!({ "intent": intent })).await.ok()["validatePromotion"].clone()
}

async fn update_settings(app: &TestApp, input: Value) {
    let response = app
        .admin(
            "mutation($input: SystemSettingsInput!, $key: String!) {
                updateSystemSettings(input: $input, idempotencyKey: $key) { promotionAllowJumps mutationsDisabled }
            }",
            json!({ "input": input, "key": key() }),
        )
        .await;
    response.ok();
}

/// The demo catalogue (sandbox -> staging -> prod for payments) behind the
/// fake Gate, with 1.0.0 of payments-api SUCCEEDED in sandbox.
async fn proven_in_sandbox() -> (FakeGate, TestApp) {
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate)).spawn().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.0.0", "sandbox").await;
    (gate, app)
}

#[tokio::test]
async fn a_version_proven_in_sandbox_is_promoted_to_staging_through_gate_and_a_replay_is_the_same_record() {
    let (gate, app) = proven_in_sandbox().await;
    let triggers_before = gate.triggers().len();
    let key = key();

    let first = promote(&app, OWNER, promotion("1.0.0", "sandbox", "staging"), &key).await;
    let replay = promote(&app, OWNER, promotion("1.0.0", "sandbox", "staging"), &key).await;

    let record = &first.ok()["promote"];
    assert_eq!(record["deploymentKind"], "PROMOTION");
    assert_eq!(record["sourceEnvironment"], "sandbox");
    assert_eq!(record["environment"], "staging");
    assert_eq!(record["state"], "ACTIVE", "{record}");
    assert_eq!(replay.ok()["promote"]["id"], record["id"], "a replay answers with the original record");

    let triggers = gate.triggers();
    assert_eq!(triggers.len(), triggers_before + 1, "one engine trigger for a request and its replay");
    let parameters = &triggers.last().expect("a trigger").json()["parameters"];
    assert_eq!(parameters["sourceEnvironment"], "sandbox");
    assert_eq!(parameters["environment"], "staging");
    assert_eq!(parameters["version"], "1.0.0");

    let events = app
        .admin(
            "{ auditEvents(filter: { eventType: \"PROMOTION_SUBMIT\" }) { nodes { outcome serviceName environment } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        events.ok()["auditEvents"]["nodes"],
        json!([{ "outcome": "SUCCESS", "serviceName": "payments-api", "environment": "staging" }])
    );
}

#[tokio::test]
async fn every_refused_promotion_is_coded_writes_one_denied_event_and_nothing_else() {
    let (gate, app) = proven_in_sandbox().await;
    let mut blank_summary = promotion("1.0.0", "sandbox", "staging");
    blank_summary["changeSummary"] = json!("   ");
    let mut unknown_service = promotion("1.0.0", "sandbox", "staging");
    unknown_service["service"] = json!("no-such-service");
    let cases: Vec<RefusalCase> = vec![
        (
            "same environment",
            OWNER,
            promotion("1.0.0", "sandbox", "sandbox"),
            "PROMOTION_SAME_ENVIRONMENT",
            AS_OWNER,
            ("payments-api", "sandbox"),
        ),
        (
            "a path that skips staging",
            OWNER,
            promotion("1.0.0", "sandbox", "prod"),
            "PROMOTION_PATH_NOT_ALLOWED",
            AS_OWNER,
            ("payments-api", "prod"),
        ),
        (
            "backwards",
            OWNER,
            promotion("1.0.0", "staging", "sandbox"),
            "PROMOTION_PATH_NOT_ALLOWED",
            AS_OWNER,
            ("payments-api", "sandbox"),
        ),
        (
            "a version that never succeeded in the source",
            OWNER,
            promotion("1.1.0", "sandbox", "staging"),
            "PROMOTION_VERSION_INELIGIBLE",
            AS_OWNER,
            ("payments-api", "staging"),
        ),
        (
            "an unknown target environment",
            OWNER,
            promotion("1.0.0", "sandbox", "qa"),
            "PROMOTION_PATH_NOT_ALLOWED",
            AS_OWNER,
            ("payments-api", "qa"),
        ),
        (
            "an unknown service",
            ADMIN,
            unknown_service,
            "PROMOTION_VERSION_INELIGIBLE",
            AS_ADMIN,
            ("no-such-service", "staging"),
        ),
        (
            "an owner of another group",
            OUTSIDER,
            promotion("1.0.0", "sandbox", "staging"),
            "DELIVERY_GROUP_SCOPE_REQUIRED",
            AS_OUTSIDER,
            ("payments-api", "staging"),
        ),
        ("a blank change summary", OWNER, blank_summary, "INVALID_REQUEST", AS_OWNER, ("payments-api", "staging")),
    ];
    for (case, token, intent, code, who, scope) in cases {
        let preflight = validate_promotion(&app, token, intent.clone()).await;
        assert!(violation_codes(&preflight).contains(&code.to_owned()), "{case}: {preflight}");
        let fresh = key();
        let act = promote(&app, token, intent, &fresh);
        let event = assert_act_refused(&app, &gate, act, Denial::promote(code, who, Some(scope))).await;
        assert!(event.summary.contains(code), "{case}: {event:?}");
    }

    update_settings(&app, json!({ "mutationsDisabled": true })).await;
    let fresh = key();
    let act = promote(&app, OWNER, promotion("1.0.0", "sandbox", "staging"), &fresh);
    let denial = Denial::promote("MUTATIONS_DISABLED", AS_OWNER, Some(("payments-api", "staging")));
    assert_act_refused(&app, &gate, act, denial).await;
}

#[tokio::test]
async fn validate_promotion_lists_every_violation_in_order_and_writes_nothing() {
    let (_gate, app) = proven_in_sandbox().await;

    let skip_unproven = validate_promotion(&app, OWNER, promotion("1.1.0", "sandbox", "prod")).await;
    let fine = validate_promotion(&app, OWNER, promotion("1.0.0", "sandbox", "staging")).await;

    assert_eq!(violation_codes(&skip_unproven), ["PROMOTION_PATH_NOT_ALLOWED", "PROMOTION_VERSION_INELIGIBLE"]);
    assert_eq!(skip_unproven["allowed"], false);
    assert_eq!(fine["allowed"], true, "{fine}");
    let events = app.admin("{ auditEvents(filter: { eventType: \"PROMOTION_SUBMIT\" }) { nodes { id } } }", json!({}));
    assert_eq!(events.await.ok()["auditEvents"]["nodes"], json!([]), "a preview is not audited");
}

#[tokio::test]
async fn with_jumps_allowed_a_promotion_may_skip_to_a_later_environment_but_never_back() {
    let (_gate, app) = proven_in_sandbox().await;
    update_settings(&app, json!({ "promotionAllowJumps": true })).await;

    let jump = promote(&app, OWNER, promotion("1.0.0", "sandbox", "prod"), &key()).await;
    let back = validate_promotion(&app, OWNER, promotion("1.0.0", "prod", "sandbox")).await;

    assert_eq!(jump.ok()["promote"]["environment"], "prod");
    assert!(violation_codes(&back).contains(&"PROMOTION_PATH_NOT_ALLOWED".to_owned()), "{back}");
}

#[tokio::test]
async fn two_promotions_racing_for_the_one_free_slot_in_staging_admit_exactly_one() {
    let (gate, app) = proven_in_sandbox().await;
    deployed_and_succeeded(&app, &gate, "payments-api", "1.1.0", "sandbox").await;

    let (first_key, second_key) = (key(), key());
    let (a, b) = tokio::join!(
        promote(&app, OWNER, promotion("1.0.0", "sandbox", "staging"), &first_key),
        promote(&app, OWNER, promotion("1.1.0", "sandbox", "staging"), &second_key),
    );

    let accepted = [&a, &b].iter().filter(|r| r.errors().is_empty()).count();
    let refused: Vec<String> = [&a, &b].iter().filter_map(|r| r.first_code()).collect();
    assert_eq!(accepted, 1, "exactly one promotion holds the slot: {} / {}", a.body, b.body);
    assert_eq!(refused, ["CONCURRENCY_LIMIT_REACHED"]);
}
