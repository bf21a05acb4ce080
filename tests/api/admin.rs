//! Administrative mutations (DESIGN §3, §7, §10 Administration): delivery
//! groups, recipes, services, environments and system settings. Only a
//! PLATFORM_ADMIN may change them; every change is validated as a whole,
//! audited field by field, takes effect at once, and is idempotent.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{GqlResponse, TestApp, ADMIN, CI, OBSERVER, OWNER};

pub(crate) const GROUP_FIELDS: &str = "id name description owner members services allowedRecipes \
    allowedEnvironments defaultRecipeId guardrails { maxConcurrentDeployments dailyDeployQuota dailyRollbackQuota } \
    createdAt createdBy updatedAt updatedBy lastChangeReason";
pub(crate) const RECIPE_FIELDS: &str = "id name description status revision effectiveBehaviorSummary \
    spinnakerApplication deployPipeline rollbackPipeline createdAt createdBy updatedAt updatedBy lastChangeReason";
pub(crate) const SERVICE_FIELDS: &str = "name description deliveryGroupId compatibleRecipes";
pub(crate) const ENVIRONMENT_FIELDS: &str = "name displayName type promotionOrder enabled";
pub(crate) const SETTINGS_FIELDS: &str = "mutationsDisabled readRpm mutateRpm dailyBuildRegisterQuota ciPublishers";

/// A catalogue for these tests:
/// - `payments` (services ledger and payments-api; recipes standard and
///   canary; sandbox and staging; guardrails 1/25/10; member `owner`);
/// - `storefront` (checkout-web; standard; sandbox; member `owner`);
/// - recipe `spare`, allowed by no group; service `loose`, in no group;
/// - a build 1.0.0 of every service and 1.1.0 of payments-api.
pub(crate) fn admin_catalog() -> String {
    let mut toml = String::from(
        r#"
ci_publishers = ["ci"]

[[environments]]
name = "sandbox"
display_name = "Sandbox"
type = "NON_PROD"
promotion_order = 1
enabled = true

[[environments]]
name = "staging"
display_name = "Staging"
type = "NON_PROD"
promotion_order = 2
enabled = true

[[recipes]]
id = "standard"
name = "Standard"
description = "Single pass"
effective_behavior_summary = "Deploys the version in one pass."
spinnaker_application = "test-app"
deploy_pipeline = "deploy-standard"
rollback_pipeline = "rollback-standard"

[[recipes]]
id = "canary"
name = "Canary"
effective_behavior_summary = "Canary, then full rollout."
spinnaker_application = "test-app"
deploy_pipeline = "deploy-canary"
rollback_pipeline = "rollback-canary"

[[recipes]]
id = "spare"
name = "Spare"
effective_behavior_summary = "Allowed by no group."
spinnaker_application = "spare-app"
deploy_pipeline = "deploy-spare"
rollback_pipeline = "rollback-spare"

[[delivery_groups]]
id = "payments"
name = "Payments"
description = "Card payments"
owner = "team-payments"
members = ["owner"]
services = ["ledger", "payments-api"]
allowed_recipes = ["standard", "canary"]
allowed_environments = ["sandbox", "staging"]
default_recipe_id = "standard"
guardrails = { max_concurrent_deployments = 1, daily_deploy_quota = 25, daily_rollback_quota = 10 }

[[delivery_groups]]
id = "storefront"
name = "Storefront"
members = ["owner"]
services = ["checkout-web"]
allowed_recipes = ["standard"]
allowed_environments = ["sandbox"]
default_recipe_id = "standard"
guardrails = { max_concurrent_deployments = 1, daily_deploy_quota = 25, daily_rollback_quota = 10 }

[[services]]
name = "payments-api"

[[services]]
name = "ledger"
compatible_recipes = ["standard"]

[[services]]
name = "checkout-web"

[[services]]
name = "loose"
"#,
    );
    let builds = [
        ("payments-api", "1.0.0"),
        ("payments-api", "1.1.0"),
        ("ledger", "1.0.0"),
        ("checkout-web", "1.0.0"),
        ("loose", "1.0.0"),
    ];
    for (n, (service, version)) in builds.iter().enumerate() {
        write!(
            toml,
            r#"
[[builds]]
service = "{service}"
version = "{version}"
artifact_ref = "s3://test-artifacts/{service}/{version}.zip"
sha256 = "{id:064x}"
size_bytes = 1024
content_type = "application/zip"
git_sha = "{id:040x}"
git_branch = "main"
ci_provider = "github"
ci_run_id = "{n}"
built_at = "2026-01-01T00:00:00Z"
"#,
            id = n + 1,
        )
        .expect("write to a string");
    }
    toml
}

pub(crate) async fn spawn() -> TestApp {
    TestApp::builder().catalog(&admin_catalog()).spawn().await
}

pub(crate) fn key() -> String {
    format!("admin-{}", Uuid::new_v4())
}

/// The document of one admin mutation, selecting every field of its answer.
pub(crate) fn document(mutation: &str) -> String {
    let (argument, fields) = match mutation {
        "createDeliveryGroup" | "updateDeliveryGroup" => ("$input: DeliveryGroupInput!", GROUP_FIELDS),
        "createRecipe" | "updateRecipe" => ("$input: RecipeInput!", RECIPE_FIELDS),
        "deprecateRecipe" => ("$id: ID!", RECIPE_FIELDS),
        "upsertService" => ("$input: ServiceInput!", SERVICE_FIELDS),
        "upsertEnvironment" => ("$input: EnvironmentInput!", ENVIRONMENT_FIELDS),
        "updateSystemSettings" => ("$input: SystemSettingsInput!", SETTINGS_FIELDS),
        other => panic!("{other} is not an admin mutation"),
    };
    let passed = if mutation == "deprecateRecipe" { "id: $id" } else { "input: $input" };
    format!(
        "mutation({argument}, $reason: String, $key: String!) {{
            {mutation}({passed}, changeReason: $reason, idempotencyKey: $key) {{ {fields} }}
        }}"
    )
}

/// Runs one admin mutation as the caller holding `token`; `argument` is its
/// `input` (or the recipe id of `deprecateRecipe`).
pub(crate) async fn call(
    app: &TestApp,
    token: &str,
    mutation: &str,
    argument: Value,
    reason: Option<&str>,
    key: &str,
) -> GqlResponse {
    let name = if mutation == "deprecateRecipe" { "id" } else { "input" };
    let mut variables = json!({ "reason": reason, "key": key });
    variables[name] = argument;
    app.gql_as(Some(token), &document(mutation), variables).await
}

/// The entity a successful mutation answered with.
pub(crate) fn answer(response: &GqlResponse, mutation: &str) -> Value {
    let value = response.ok()[mutation].clone();
    assert!(value.is_object(), "{mutation} answered nothing: {}", response.body);
    value
}

/// Asserts a refusal: `code` as the first error and a null field.
pub(crate) fn assert_refused(response: &GqlResponse, mutation: &str, code: &str, what: &str) {
    assert_eq!(response.first_code().as_deref(), Some(code), "{what}: {}", response.body);
    let data = response.data();
    assert!(data.is_null() || data[mutation].is_null(), "{what}: the field is null: {}", response.body);
}

/// Every audit event (newest first) as the API serves it, changes included.
pub(crate) async fn audit_log(app: &TestApp) -> Vec<Value> {
    let response = app
        .admin(
            "query { auditEvents(first: 100) {
                nodes { id eventType actorId actorRole targetType targetId outcome summary
                        deliveryGroupId serviceName environment requestId
                        changes { field oldValue newValue } }
                pageInfo { hasNextPage }
            } }",
            json!({}),
        )
        .await;
    let connection = &response.ok()["auditEvents"];
    assert_eq!(connection["pageInfo"]["hasNextPage"], false, "more audit events than this test expects");
    connection["nodes"].as_array().expect("audit nodes").clone()
}

/// Audit events written after `before` was read.
pub(crate) async fn new_events(app: &TestApp, before: &[Value]) -> Vec<Value> {
    let known: Vec<&Value> = before.iter().map(|e| &e["id"]).collect();
    audit_log(app).await.into_iter().filter(|e| !known.contains(&&e["id"])).collect()
}

/// The one event written after `before`.
async fn one_new_event(app: &TestApp, before: &[Value], what: &str) -> Value {
    let events = new_events(app, before).await;
    assert_eq!(events.len(), 1, "{what}: exactly one audit event: {events:#?}");
    events.into_iter().next().expect("one event")
}

/// Asserts a DENIED event of `actor` with `code` in its summary.
fn assert_denied(event: &Value, event_type: &str, target_type: &str, actor: &str, code: &str) {
    assert_eq!(event["eventType"], event_type, "{event}");
    assert_eq!(event["targetType"], target_type, "{event}");
    assert_eq!(event["outcome"], "DENIED", "{event}");
    assert_eq!(event["actorId"], actor, "{event}");
    let summary = event["summary"].as_str().expect("summary");
    assert!(summary.contains(code), "the summary names {code}: {summary}");
}

/// The changes of an event by field; panics when a field is listed twice.
fn changes(event: &Value) -> BTreeMap<String, (Value, Value)> {
    let mut by_field = BTreeMap::new();
    for change in event["changes"].as_array().expect("changes") {
        let field = change["field"].as_str().expect("field").to_owned();
        let previous = by_field.insert(field.clone(), (change["oldValue"].clone(), change["newValue"].clone()));
        assert!(previous.is_none(), "{field} is listed twice: {event}");
    }
    by_field
}

fn changed_fields(event: &Value) -> Vec<String> {
    changes(event).into_keys().collect()
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a timestamp")).expect("RFC 3339").with_timezone(&Utc)
}

/// The payments group as the catalogue has it, with `max_concurrent`.
pub(crate) fn payments_input(max_concurrent: i32) -> Value {
    json!({
        "id": "payments",
        "name": "Payments",
        "description": "Card payments",
        "owner": "team-payments",
        "members": ["owner"],
        "services": ["ledger", "payments-api"],
        "allowedRecipes": ["standard", "canary"],
        "allowedEnvironments": ["sandbox", "staging"],
        "defaultRecipeId": "standard",
        "guardrails": { "maxConcurrentDeployments": max_concurrent, "dailyDeployQuota": 25, "dailyRollbackQuota": 10 },
    })
}

/// The storefront group as the catalogue has it, with `services`.
fn storefront_input(services: &[&str]) -> Value {
    json!({
        "id": "storefront",
        "name": "Storefront",
        "members": ["owner"],
        "services": services,
        "allowedRecipes": ["standard"],
        "allowedEnvironments": ["sandbox"],
        "defaultRecipeId": "standard",
        "guardrails": { "maxConcurrentDeployments": 1, "dailyDeployQuota": 25, "dailyRollbackQuota": 10 },
    })
}

/// A new group `platform` holding the groupless service `loose`.
pub(crate) fn platform_input() -> Value {
    json!({
        "id": "platform",
        "name": "Platform",
        "description": "Internal platform",
        "owner": "team-platform",
        "members": ["owner"],
        "services": ["loose"],
        "allowedRecipes": ["standard"],
        "allowedEnvironments": ["sandbox"],
        "defaultRecipeId": "standard",
        "guardrails": { "maxConcurrentDeployments": 2, "dailyDeployQuota": 30, "dailyRollbackQuota": 5 },
    })
}

pub(crate) fn recipe_input(id: &str) -> Value {
    json!({
        "id": id,
        "name": "Fresh",
        "description": "A new pattern",
        "effectiveBehaviorSummary": "Deploys in two waves.",
        "spinnakerApplication": "fresh-app",
        "deployPipeline": "deploy-fresh",
        "rollbackPipeline": "rollback-fresh",
    })
}

/// The standard recipe as the catalogue has it.
pub(crate) fn standard_input() -> Value {
    json!({
        "id": "standard",
        "name": "Standard",
        "description": "Single pass",
        "effectiveBehaviorSummary": "Deploys the version in one pass.",
        "spinnakerApplication": "test-app",
        "deployPipeline": "deploy-standard",
        "rollbackPipeline": "rollback-standard",
    })
}

fn spare_input() -> Value {
    json!({
        "id": "spare",
        "name": "Spare",
        "effectiveBehaviorSummary": "Allowed by no group.",
        "spinnakerApplication": "spare-app",
        "deployPipeline": "deploy-spare",
        "rollbackPipeline": "rollback-spare",
    })
}

fn with(mut value: Value, field: &str, new: Value) -> Value {
    value[field] = new;
    value
}

async fn group(app: &TestApp, id: &str) -> Value {
    let response = app
        .admin(&format!("query($id: ID!) {{ deliveryGroup(id: $id) {{ {GROUP_FIELDS} }} }}"), json!({ "id": id }))
        .await;
    response.body["data"]["deliveryGroup"].clone()
}

async fn recipe(app: &TestApp, id: &str) -> Value {
    let response =
        app.admin(&format!("query($id: ID!) {{ recipe(id: $id) {{ {RECIPE_FIELDS} }} }}"), json!({ "id": id })).await;
    response.body["data"]["recipe"].clone()
}

async fn service(app: &TestApp, name: &str) -> Value {
    let response = app
        .admin(
            &format!("query($name: String!) {{ service(name: $name) {{ {SERVICE_FIELDS} }} }}"),
            json!({ "name": name }),
        )
        .await;
    response.body["data"]["service"].clone()
}

async fn environment(app: &TestApp, name: &str) -> Value {
    let response = app.admin(&format!("query {{ environments {{ {ENVIRONMENT_FIELDS} }} }}"), json!({})).await;
    let all = response.ok()["environments"].as_array().expect("environments").clone();
    all.into_iter().find(|e| e["name"] == name).unwrap_or(Value::Null)
}

async fn settings(app: &TestApp) -> Value {
    app.admin(&format!("query {{ systemSettings {{ {SETTINGS_FIELDS} }} }}"), json!({})).await.ok()["systemSettings"]
        .clone()
}

async fn deploy(app: &TestApp, token: &str, intent: Value) -> GqlResponse {
    app.gql_as(
        Some(token),
        "mutation($intent: DeploymentIntentInput!, $key: String!) {
            deploy(intent: $intent, idempotencyKey: $key) { id state service environment recipeId deliveryGroupId }
        }",
        json!({ "intent": intent, "key": key() }),
    )
    .await
}

fn intent(service: &str, version: &str, environment: &str) -> Value {
    json!({
        "service": service,
        "version": version,
        "environment": environment,
        "changeSummary": format!("ship {service} {version} to {environment}"),
    })
}

// ---------------------------------------------------------------------------
// Roles

/// One admin mutation with an input an admin could apply, and what its
/// audit event says.
pub(crate) struct AdminCase {
    pub mutation: &'static str,
    pub argument: Value,
    pub event_type: &'static str,
    pub target_type: &'static str,
    pub target_id: &'static str,
}

/// Every admin mutation, each with an input that would succeed for an admin
/// on `admin_catalog()`.
pub(crate) fn every_admin_mutation() -> Vec<AdminCase> {
    vec![
        AdminCase {
            mutation: "createDeliveryGroup",
            argument: platform_input(),
            event_type: "ADMIN_CREATE",
            target_type: "DELIVERY_GROUP",
            target_id: "platform",
        },
        AdminCase {
            mutation: "updateDeliveryGroup",
            argument: payments_input(2),
            event_type: "ADMIN_UPDATE",
            target_type: "DELIVERY_GROUP",
            target_id: "payments",
        },
        AdminCase {
            mutation: "createRecipe",
            argument: recipe_input("fresh"),
            event_type: "ADMIN_CREATE",
            target_type: "RECIPE",
            target_id: "fresh",
        },
        AdminCase {
            mutation: "updateRecipe",
            argument: with(standard_input(), "name", json!("Standard v2")),
            event_type: "ADMIN_UPDATE",
            target_type: "RECIPE",
            target_id: "standard",
        },
        AdminCase {
            mutation: "deprecateRecipe",
            argument: json!("canary"),
            event_type: "ADMIN_UPDATE",
            target_type: "RECIPE",
            target_id: "canary",
        },
        AdminCase {
            mutation: "upsertService",
            argument: json!({ "name": "new-svc", "description": "A new service" }),
            event_type: "ADMIN_CREATE",
            target_type: "SERVICE",
            target_id: "new-svc",
        },
        AdminCase {
            mutation: "upsertEnvironment",
            argument: json!({ "name": "prod", "displayName": "Production", "type": "PROD", "enabled": true }),
            event_type: "ADMIN_CREATE",
            target_type: "ENVIRONMENT",
            target_id: "prod",
        },
        AdminCase {
            mutation: "updateSystemSettings",
            argument: json!({ "readRpm": 900 }),
            event_type: "SETTINGS_UPDATE",
            target_type: "SETTINGS",
            target_id: "",
        },
    ]
}

/// Asserts that none of `every_admin_mutation()` took effect.
pub(crate) async fn assert_no_admin_change(app: &TestApp) {
    assert!(group(app, "platform").await.is_null(), "no group was created");
    assert_eq!(group(app, "payments").await["guardrails"]["maxConcurrentDeployments"], 1, "payments is unchanged");
    assert!(recipe(app, "fresh").await.is_null(), "no recipe was created");
    let standard = recipe(app, "standard").await;
    assert_eq!((&standard["name"], &standard["revision"]), (&json!("Standard"), &json!(1)), "standard is unchanged");
    let canary = recipe(app, "canary").await;
    assert_eq!((&canary["status"], &canary["revision"]), (&json!("ACTIVE"), &json!(1)), "canary is unchanged");
    assert!(service(app, "new-svc").await.is_null(), "no service was created");
    assert!(environment(app, "prod").await.is_null(), "no environment was created");
    assert_eq!(settings(app).await["readRpm"], 600, "settings are unchanged");
}

#[tokio::test]
async fn every_admin_mutation_is_forbidden_to_owners_observers_and_ci_publishers_and_each_refusal_is_audited() {
    let app = spawn().await;
    let callers = [(OWNER, "owner", "DELIVERY_OWNER"), (OBSERVER, "observer", "OBSERVER"), (CI, "ci", "CI_PUBLISHER")];

    for case in every_admin_mutation() {
        for (token, actor, role) in callers {
            let what = format!("{} by {actor}", case.mutation);
            let before = audit_log(&app).await;

            let response = call(&app, token, case.mutation, case.argument.clone(), Some("not mine"), &key()).await;

            assert_refused(&response, case.mutation, "ROLE_FORBIDDEN", &what);
            let event = one_new_event(&app, &before, &what).await;
            assert_denied(&event, case.event_type, case.target_type, actor, "ROLE_FORBIDDEN");
            assert_eq!(event["actorRole"], role, "{what}");
            if !case.target_id.is_empty() {
                assert_eq!(event["targetId"], case.target_id, "{what}");
            }
        }
    }
    assert_no_admin_change(&app).await;
}

#[tokio::test]
async fn an_admin_may_run_every_admin_mutation() {
    let app = spawn().await;

    for case in every_admin_mutation() {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, case.mutation, case.argument.clone(), Some("routine"), &key()).await;

        answer(&response, case.mutation);
        let event = one_new_event(&app, &before, case.mutation).await;
        assert_eq!(event["eventType"], case.event_type, "{event}");
        assert_eq!(event["targetType"], case.target_type, "{event}");
        assert_eq!(event["outcome"], "SUCCESS", "{event}");
        assert_eq!(event["actorId"], "admin");
        assert_eq!(event["actorRole"], "PLATFORM_ADMIN");
        if !case.target_id.is_empty() {
            assert_eq!(event["targetId"], case.target_id, "{event}");
        }
        assert!(!changed_fields(&event).is_empty(), "{}: the changes are listed: {event}", case.mutation);
    }
}

// ---------------------------------------------------------------------------
// Delivery groups

#[tokio::test]
async fn create_delivery_group_creates_the_group_places_its_services_and_audits_every_field_once() {
    let app = spawn().await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "createDeliveryGroup", platform_input(), Some("new platform team"), &key()).await;

    let created = answer(&response, "createDeliveryGroup");
    assert_eq!(created["id"], "platform");
    assert_eq!(created["name"], "Platform");
    assert_eq!(created["description"], "Internal platform");
    assert_eq!(created["owner"], "team-platform");
    assert_eq!(created["members"], json!(["owner"]));
    assert_eq!(created["services"], json!(["loose"]));
    assert_eq!(created["allowedRecipes"], json!(["standard"]));
    assert_eq!(created["allowedEnvironments"], json!(["sandbox"]));
    assert_eq!(created["defaultRecipeId"], "standard");
    assert_eq!(
        created["guardrails"],
        json!({ "maxConcurrentDeployments": 2, "dailyDeployQuota": 30, "dailyRollbackQuota": 5 })
    );
    assert_eq!(created["createdBy"], "admin");
    assert_eq!(created["updatedBy"], "admin");
    assert_eq!(created["lastChangeReason"], "new platform team");
    assert_eq!(group(&app, "platform").await, created, "the stored group is the answer");
    assert_eq!(service(&app, "loose").await["deliveryGroupId"], "platform", "the service is placed in the group");

    let event = one_new_event(&app, &before, "createDeliveryGroup").await;
    assert_eq!(event["eventType"], "ADMIN_CREATE");
    assert_eq!(event["targetType"], "DELIVERY_GROUP");
    assert_eq!(event["targetId"], "platform");
    assert_eq!(event["outcome"], "SUCCESS");
    assert_eq!(event["deliveryGroupId"], "platform");
    let listed = changes(&event);
    let expected = [
        "allowedEnvironments",
        "allowedRecipes",
        "defaultRecipeId",
        "description",
        "guardrails.dailyDeployQuota",
        "guardrails.dailyRollbackQuota",
        "guardrails.maxConcurrentDeployments",
        "members",
        "name",
        "owner",
        "services",
    ];
    assert_eq!(listed.keys().map(String::as_str).collect::<Vec<_>>(), expected, "{event}");
    assert!(listed.values().all(|(old, _)| old.is_null()), "a create has no old values: {event}");
    assert_eq!(listed["name"].1, "Platform");
    assert_eq!(listed["guardrails.maxConcurrentDeployments"].1, "2");
    assert_eq!(listed["guardrails.dailyDeployQuota"].1, "30");
    assert_eq!(listed["guardrails.dailyRollbackQuota"].1, "5");
    assert!(listed["services"].1.as_str().expect("text").contains("loose"), "{event}");
}

#[tokio::test]
async fn a_new_group_is_usable_at_once_by_its_members() {
    let app = spawn().await;
    let refused = deploy(&app, OWNER, intent("loose", "1.0.0", "sandbox")).await;
    assert_eq!(refused.first_code().as_deref(), Some("SERVICE_NOT_IN_DELIVERY_GROUP"), "{}", refused.body);
    answer(&call(&app, ADMIN, "createDeliveryGroup", platform_input(), None, &key()).await, "createDeliveryGroup");

    let response = deploy(&app, OWNER, intent("loose", "1.0.0", "sandbox")).await;

    let record = &response.ok()["deploy"];
    assert_eq!(record["deliveryGroupId"], "platform", "{}", response.body);
    assert_eq!(record["recipeId"], "standard");
}

#[tokio::test]
async fn omitted_guardrails_take_the_defaults_of_1_25_and_10() {
    let app = spawn().await;
    let mut without = platform_input();
    without.as_object_mut().expect("an object").remove("guardrails");
    let partial = with(
        with(with(platform_input(), "id", json!("partial")), "services", json!([])),
        "guardrails",
        json!({ "dailyDeployQuota": 7 }),
    );

    let created = call(&app, ADMIN, "createDeliveryGroup", without, None, &key()).await;
    let partly = call(&app, ADMIN, "createDeliveryGroup", partial, None, &key()).await;

    assert_eq!(
        answer(&created, "createDeliveryGroup")["guardrails"],
        json!({ "maxConcurrentDeployments": 1, "dailyDeployQuota": 25, "dailyRollbackQuota": 10 })
    );
    assert_eq!(
        answer(&partly, "createDeliveryGroup")["guardrails"],
        json!({ "maxConcurrentDeployments": 1, "dailyDeployQuota": 7, "dailyRollbackQuota": 10 })
    );
}

#[tokio::test]
async fn update_delivery_group_lists_only_the_changed_fields_and_records_who_why_and_when() {
    let app = spawn().await;
    let original = group(&app, "payments").await;
    let input = with(payments_input(3), "description", json!("Card payments and the ledger"));
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", input, Some("more parallel deploys"), &key()).await;

    let updated = answer(&response, "updateDeliveryGroup");
    assert_eq!(updated["guardrails"]["maxConcurrentDeployments"], 3);
    assert_eq!(updated["description"], "Card payments and the ledger");
    assert_eq!(updated["updatedBy"], "admin");
    assert_eq!(updated["lastChangeReason"], "more parallel deploys");
    assert!(instant(&updated["updatedAt"]) > instant(&original["updatedAt"]), "updatedAt moves forward");
    assert_eq!(updated["createdAt"], original["createdAt"], "createdAt is kept");
    assert_eq!(updated["createdBy"], original["createdBy"], "createdBy is kept");
    assert_eq!(group(&app, "payments").await, updated, "the stored group is the answer");
    let event = one_new_event(&app, &before, "updateDeliveryGroup").await;
    assert_eq!(event["eventType"], "ADMIN_UPDATE");
    assert_eq!(event["targetType"], "DELIVERY_GROUP");
    assert_eq!(event["targetId"], "payments");
    assert_eq!(event["outcome"], "SUCCESS");
    let listed = changes(&event);
    assert_eq!(changed_fields(&event), ["description", "guardrails.maxConcurrentDeployments"], "{event}");
    assert_eq!(listed["guardrails.maxConcurrentDeployments"], (json!("1"), json!("3")));
    assert_eq!(listed["description"], (json!("Card payments"), json!("Card payments and the ledger")));
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_no_audit_event_and_keeps_the_group() {
    let app = spawn().await;
    let original = group(&app, "payments").await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", payments_input(1), Some("no-op"), &key()).await;

    assert_eq!(answer(&response, "updateDeliveryGroup"), original, "the group is answered unchanged");
    assert_eq!(group(&app, "payments").await, original);
    assert!(new_events(&app, &before).await.is_empty(), "nothing changed, nothing is audited");
}

#[tokio::test]
async fn listing_the_same_services_in_another_order_is_not_a_change() {
    let app = spawn().await;
    let original = group(&app, "payments").await;
    let reordered = with(payments_input(2), "services", json!(["payments-api", "ledger"]));
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", reordered, None, &key()).await;

    let updated = answer(&response, "updateDeliveryGroup");
    assert_eq!(updated["services"], original["services"], "the same services");
    let event = one_new_event(&app, &before, "updateDeliveryGroup").await;
    assert_eq!(changed_fields(&event), ["guardrails.maxConcurrentDeployments"], "services did not change: {event}");
}

#[tokio::test]
async fn repeating_an_update_whose_services_are_not_in_name_order_writes_no_second_audit_event() {
    let app = spawn().await;
    let reordered = with(payments_input(2), "services", json!(["payments-api", "ledger"]));
    answer(&call(&app, ADMIN, "updateDeliveryGroup", reordered.clone(), None, &key()).await, "updateDeliveryGroup");
    let current = group(&app, "payments").await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", reordered, None, &key()).await;

    assert_eq!(answer(&response, "updateDeliveryGroup"), current, "nothing changed");
    let events = new_events(&app, &before).await;
    assert!(events.is_empty(), "an update that changes nothing is not audited: {events:#?}");
}

#[tokio::test]
async fn a_service_moves_between_groups_by_leaving_one_and_joining_the_other() {
    let app = spawn().await;
    let taken =
        call(&app, ADMIN, "updateDeliveryGroup", storefront_input(&["checkout-web", "ledger"]), None, &key()).await;
    assert_refused(&taken, "updateDeliveryGroup", "INVALID_REQUEST", "ledger still belongs to payments");
    let leave = with(payments_input(1), "services", json!(["payments-api"]));

    let left = call(&app, ADMIN, "updateDeliveryGroup", leave, Some("ledger moves"), &key()).await;
    let in_between = service(&app, "ledger").await;
    let joined =
        call(&app, ADMIN, "updateDeliveryGroup", storefront_input(&["checkout-web", "ledger"]), None, &key()).await;

    assert_eq!(answer(&left, "updateDeliveryGroup")["services"], json!(["payments-api"]));
    assert!(in_between["deliveryGroupId"].is_null(), "between the two updates ledger is in no group: {in_between}");
    assert_eq!(answer(&joined, "updateDeliveryGroup")["services"], json!(["checkout-web", "ledger"]));
    assert_eq!(service(&app, "ledger").await["deliveryGroupId"], "storefront");
    assert_eq!(group(&app, "payments").await["services"], json!(["payments-api"]));
    let response = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox")).await;
    assert_eq!(response.ok()["deploy"]["deliveryGroupId"], "storefront", "deploys follow the move at once");
}

#[tokio::test]
async fn raising_max_concurrent_deployments_lets_a_second_concurrent_deploy_in_at_once() {
    let app = TestApp::builder().catalog(&admin_catalog()).env("DXCP_SIMULATED_DURATION_MS", "120000").spawn().await;
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox")).await;
    assert!(first.ok()["deploy"]["id"].is_string(), "{}", first.body);
    let refused = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox")).await;
    assert_eq!(refused.first_code().as_deref(), Some("CONCURRENCY_LIMIT_REACHED"), "{}", refused.body);

    answer(&call(&app, ADMIN, "updateDeliveryGroup", payments_input(2), None, &key()).await, "updateDeliveryGroup");
    let second = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox")).await;

    let record = &second.ok()["deploy"];
    assert!(record["id"].is_string(), "{}", second.body);
    assert_ne!(record["id"], first.ok()["deploy"]["id"]);
}

#[tokio::test]
async fn delivery_group_validation_errors_are_invalid_request_audited_and_change_nothing() {
    let app = spawn().await;
    let payments_before = group(&app, "payments").await;
    let platform = platform_input;
    let cases = [
        ("a service of another group", with(platform(), "services", json!(["payments-api"]))),
        ("an unknown service", with(platform(), "services", json!(["ghost-service"]))),
        ("maxConcurrentDeployments 0", with(platform(), "guardrails", json!({ "maxConcurrentDeployments": 0 }))),
        ("dailyDeployQuota -1", with(platform(), "guardrails", json!({ "dailyDeployQuota": -1 }))),
        ("dailyRollbackQuota 0", with(platform(), "guardrails", json!({ "dailyRollbackQuota": 0 }))),
        (
            "an unknown recipe",
            with(with(platform(), "allowedRecipes", json!(["ghost"])), "defaultRecipeId", Value::Null),
        ),
        ("an unknown environment", with(platform(), "allowedEnvironments", json!(["prod"]))),
        ("a default recipe the group does not allow", with(platform(), "defaultRecipeId", json!("canary"))),
        ("an invalid id", with(platform(), "id", json!("Bad Id"))),
        ("an empty id", with(platform(), "id", json!(""))),
        ("a blank name", with(platform(), "name", json!("   "))),
        ("an existing id", with(with(platform(), "id", json!("payments")), "services", json!([]))),
    ];

    for (what, input) in cases {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, "createDeliveryGroup", input.clone(), None, &key()).await;

        assert_refused(&response, "createDeliveryGroup", "INVALID_REQUEST", what);
        let event = one_new_event(&app, &before, what).await;
        assert_denied(&event, "ADMIN_CREATE", "DELIVERY_GROUP", "admin", "INVALID_REQUEST");
        assert_eq!(event["targetId"], input["id"], "{what}");
        assert!(group(&app, "platform").await.is_null(), "{what}: no group is created");
        assert!(service(&app, "loose").await["deliveryGroupId"].is_null(), "{what}: loose stays groupless");
    }
    let before = audit_log(&app).await;
    let zero = with(payments_input(1), "guardrails", json!({ "maxConcurrentDeployments": 0 }));
    let update = call(&app, ADMIN, "updateDeliveryGroup", zero, None, &key()).await;
    assert_refused(&update, "updateDeliveryGroup", "INVALID_REQUEST", "an update with a guardrail of 0");
    let event = one_new_event(&app, &before, "an update with a guardrail of 0").await;
    assert_denied(&event, "ADMIN_UPDATE", "DELIVERY_GROUP", "admin", "INVALID_REQUEST");
    assert_eq!(group(&app, "payments").await, payments_before, "payments is unchanged");
}

#[tokio::test]
async fn updating_an_unknown_delivery_group_is_not_found_and_creates_nothing() {
    let app = spawn().await;
    let input = with(with(platform_input(), "id", json!("ghost-group")), "services", json!([]));
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", input, None, &key()).await;

    assert_refused(&response, "updateDeliveryGroup", "NOT_FOUND", "an unknown group");
    assert!(group(&app, "ghost-group").await.is_null());
    let event = one_new_event(&app, &before, "an unknown group").await;
    assert_denied(&event, "ADMIN_UPDATE", "DELIVERY_GROUP", "admin", "NOT_FOUND");
}

// ---------------------------------------------------------------------------
// Recipes

#[tokio::test]
async fn create_recipe_starts_active_at_revision_one_and_audits_each_given_field_once() {
    let app = spawn().await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "createRecipe", recipe_input("fresh"), Some("two waves"), &key()).await;

    let created = answer(&response, "createRecipe");
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["revision"], 1);
    for field in [
        "name",
        "description",
        "effectiveBehaviorSummary",
        "spinnakerApplication",
        "deployPipeline",
        "rollbackPipeline",
    ] {
        assert_eq!(created[field], recipe_input("fresh")[field], "{field}");
    }
    assert_eq!(created["createdBy"], "admin");
    assert_eq!(created["updatedBy"], "admin");
    assert_eq!(created["lastChangeReason"], "two waves");
    assert_eq!(recipe(&app, "fresh").await, created);
    let event = one_new_event(&app, &before, "createRecipe").await;
    assert_eq!(event["eventType"], "ADMIN_CREATE");
    assert_eq!(event["targetType"], "RECIPE");
    assert_eq!(event["targetId"], "fresh");
    let listed = changes(&event);
    for field in [
        "name",
        "description",
        "effectiveBehaviorSummary",
        "spinnakerApplication",
        "deployPipeline",
        "rollbackPipeline",
    ] {
        let (old, new) = listed.get(field).unwrap_or_else(|| panic!("{field} is listed: {event}"));
        assert!(old.is_null(), "{field}: a create has no old value");
        assert_eq!(new, &recipe_input("fresh")[field], "{field}");
    }
}

#[tokio::test]
async fn update_recipe_increments_the_revision_only_when_something_changed() {
    let app = spawn().await;
    let original = recipe(&app, "standard").await;
    let input = with(standard_input(), "name", json!("Standard (single pass)"));
    let before = audit_log(&app).await;

    let first = call(&app, ADMIN, "updateRecipe", input.clone(), Some("clearer name"), &key()).await;
    let after_first = audit_log(&app).await;
    let second = call(&app, ADMIN, "updateRecipe", input, Some("clearer name"), &key()).await;

    let changed = answer(&first, "updateRecipe");
    assert_eq!(changed["revision"], 2);
    assert_eq!(changed["name"], "Standard (single pass)");
    assert_eq!(changed["updatedBy"], "admin");
    assert_eq!(changed["lastChangeReason"], "clearer name");
    assert!(instant(&changed["updatedAt"]) > instant(&original["updatedAt"]));
    assert_eq!(changed["createdAt"], original["createdAt"]);
    let event = one_new_event(&app, &before, "updateRecipe").await;
    assert_eq!(event["eventType"], "ADMIN_UPDATE");
    assert_eq!(event["targetType"], "RECIPE");
    assert_eq!(event["targetId"], "standard");
    let listed = changes(&event);
    assert_eq!(listed["name"], (json!("Standard"), json!("Standard (single pass)")));
    for unchanged in [
        "description",
        "status",
        "effectiveBehaviorSummary",
        "spinnakerApplication",
        "deployPipeline",
        "rollbackPipeline",
    ] {
        assert!(!listed.contains_key(unchanged), "{unchanged} did not change: {event}");
    }
    let repeated = answer(&second, "updateRecipe");
    assert_eq!(repeated, changed, "the same input again changes nothing");
    assert_eq!(repeated["revision"], 2);
    assert!(new_events(&app, &after_first).await.is_empty(), "no second audit event");
}

#[tokio::test]
async fn changing_the_engine_mapping_of_a_recipe_a_group_allows_is_refused() {
    let app = spawn().await;
    let original = recipe(&app, "standard").await;

    for (field, value) in [
        ("spinnakerApplication", "other-app"),
        ("deployPipeline", "deploy-standard-v2"),
        ("rollbackPipeline", "rollback-standard-v2"),
    ] {
        let before = audit_log(&app).await;

        let response =
            call(&app, ADMIN, "updateRecipe", with(standard_input(), field, json!(value)), None, &key()).await;

        assert_refused(&response, "updateRecipe", "INVALID_REQUEST", field);
        assert_eq!(recipe(&app, "standard").await, original, "{field}: the recipe is unchanged");
        let event = one_new_event(&app, &before, field).await;
        assert_denied(&event, "ADMIN_UPDATE", "RECIPE", "admin", "INVALID_REQUEST");
    }
}

#[tokio::test]
async fn the_engine_mapping_of_a_recipe_no_group_allows_may_change() {
    let app = spawn().await;
    let before = audit_log(&app).await;

    let response = call(
        &app,
        ADMIN,
        "updateRecipe",
        with(spare_input(), "deployPipeline", json!("deploy-spare-v2")),
        None,
        &key(),
    )
    .await;

    let updated = answer(&response, "updateRecipe");
    assert_eq!(updated["deployPipeline"], "deploy-spare-v2");
    assert_eq!(updated["revision"], 2);
    let event = one_new_event(&app, &before, "updateRecipe").await;
    assert_eq!(changes(&event)["deployPipeline"], (json!("deploy-spare"), json!("deploy-spare-v2")));
    assert!(!changes(&event).contains_key("spinnakerApplication"), "{event}");
}

#[tokio::test]
async fn deprecate_recipe_is_a_change_and_a_deprecated_recipe_refuses_new_deploys() {
    let app = spawn().await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "deprecateRecipe", json!("canary"), Some("use standard"), &key()).await;

    let deprecated = answer(&response, "deprecateRecipe");
    assert_eq!(deprecated["status"], "DEPRECATED");
    assert_eq!(deprecated["revision"], 2);
    assert_eq!(deprecated["lastChangeReason"], "use standard");
    assert_eq!(deprecated["updatedBy"], "admin");
    let event = one_new_event(&app, &before, "deprecateRecipe").await;
    assert_eq!(event["eventType"], "ADMIN_UPDATE");
    assert_eq!(event["targetType"], "RECIPE");
    assert_eq!(event["targetId"], "canary");
    assert_eq!(changes(&event)["status"], (json!("ACTIVE"), json!("DEPRECATED")));
    let mut canary = intent("payments-api", "1.0.0", "sandbox");
    canary["recipeId"] = json!("canary");
    let refused = deploy(&app, OWNER, canary).await;
    assert_eq!(refused.first_code().as_deref(), Some("RECIPE_DEPRECATED"), "{}", refused.body);
    let standard = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox")).await;
    assert_eq!(standard.ok()["deploy"]["recipeId"], "standard", "other recipes still deploy");
}

#[tokio::test]
async fn recipe_validation_errors_are_invalid_request_audited_and_change_nothing() {
    let app = spawn().await;
    let fresh = || recipe_input("fresh");
    let cases = [
        ("an invalid id", with(fresh(), "id", json!("Bad Id"))),
        ("an empty name", with(fresh(), "name", json!(""))),
        ("a blank behaviour summary", with(fresh(), "effectiveBehaviorSummary", json!("   "))),
        ("an empty application", with(fresh(), "spinnakerApplication", json!(""))),
        ("an empty deploy pipeline", with(fresh(), "deployPipeline", json!(""))),
        ("an empty rollback pipeline", with(fresh(), "rollbackPipeline", json!(""))),
        ("an existing id", recipe_input("standard")),
    ];

    for (what, input) in cases {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, "createRecipe", input.clone(), None, &key()).await;

        assert_refused(&response, "createRecipe", "INVALID_REQUEST", what);
        let event = one_new_event(&app, &before, what).await;
        assert_denied(&event, "ADMIN_CREATE", "RECIPE", "admin", "INVALID_REQUEST");
        assert!(recipe(&app, "fresh").await.is_null(), "{what}: nothing is created");
    }
    assert_eq!(recipe(&app, "standard").await["name"], "Standard", "the existing recipe is untouched");
    let blank = call(&app, ADMIN, "updateRecipe", with(standard_input(), "name", json!(" ")), None, &key()).await;
    assert_refused(&blank, "updateRecipe", "INVALID_REQUEST", "an update with a blank name");
    assert_eq!(recipe(&app, "standard").await["revision"], 1);
}

#[tokio::test]
async fn updating_or_deprecating_an_unknown_recipe_is_not_found() {
    let app = spawn().await;

    for (mutation, argument) in
        [("updateRecipe", recipe_input("ghost-recipe")), ("deprecateRecipe", json!("ghost-recipe"))]
    {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, mutation, argument, None, &key()).await;

        assert_refused(&response, mutation, "NOT_FOUND", mutation);
        let event = one_new_event(&app, &before, mutation).await;
        assert_denied(&event, "ADMIN_UPDATE", "RECIPE", "admin", "NOT_FOUND");
        assert_eq!(event["targetId"], "ghost-recipe");
        assert!(recipe(&app, "ghost-recipe").await.is_null(), "{mutation} creates nothing");
    }
}

// ---------------------------------------------------------------------------
// Services and environments

#[tokio::test]
async fn upsert_service_creates_then_updates_a_service_and_audits_each_with_its_changes() {
    let app = spawn().await;
    let before = audit_log(&app).await;
    let create = json!({ "name": "new-svc", "description": "A new service", "compatibleRecipes": ["standard"] });

    let created = call(&app, ADMIN, "upsertService", create, Some("onboarding"), &key()).await;
    let updated =
        call(&app, ADMIN, "upsertService", json!({ "name": "new-svc", "description": "Renamed" }), None, &key()).await;

    assert_eq!(
        answer(&created, "upsertService"),
        json!({ "name": "new-svc", "description": "A new service", "deliveryGroupId": null, "compatibleRecipes": ["standard"] })
    );
    let events = new_events(&app, &before).await;
    assert_eq!(events.len(), 2, "one event per change, newest first: {events:#?}");
    let (updated_event, created_event) = (&events[0], &events[1]);
    assert_eq!(created_event["eventType"], "ADMIN_CREATE");
    assert_eq!(created_event["targetType"], "SERVICE");
    assert_eq!(created_event["targetId"], "new-svc");
    assert_eq!(created_event["serviceName"], "new-svc");
    assert_eq!(changed_fields(created_event), ["compatibleRecipes", "description"], "{created_event}");
    assert_eq!(
        answer(&updated, "upsertService"),
        json!({ "name": "new-svc", "description": "Renamed", "deliveryGroupId": null, "compatibleRecipes": ["standard"] }),
        "omitted compatibleRecipes keep their value"
    );
    assert_eq!(updated_event["eventType"], "ADMIN_UPDATE");
    assert_eq!(updated_event["targetType"], "SERVICE");
    assert_eq!(
        changes(updated_event),
        BTreeMap::from([("description".to_owned(), (json!("A new service"), json!("Renamed")))])
    );
}

#[tokio::test]
async fn upsert_service_keeps_the_group_of_a_grouped_service() {
    let app = spawn().await;

    let response =
        call(&app, ADMIN, "upsertService", json!({ "name": "ledger", "description": "Ledger" }), None, &key()).await;

    let updated = answer(&response, "upsertService");
    assert_eq!(updated["deliveryGroupId"], "payments");
    assert_eq!(updated["compatibleRecipes"], json!(["standard"]));
}

#[tokio::test]
async fn service_validation_errors_are_invalid_request_and_audited() {
    let app = spawn().await;
    let cases = [
        ("an invalid name", json!({ "name": "Bad_Name" })),
        ("an empty name", json!({ "name": "" })),
        ("an unknown compatible recipe", json!({ "name": "new-svc", "compatibleRecipes": ["ghost"] })),
        ("a recipe listed twice", json!({ "name": "new-svc", "compatibleRecipes": ["standard", "standard"] })),
    ];

    for (what, input) in cases {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, "upsertService", input, None, &key()).await;

        assert_refused(&response, "upsertService", "INVALID_REQUEST", what);
        let event = one_new_event(&app, &before, what).await;
        assert_denied(&event, "ADMIN_CREATE", "SERVICE", "admin", "INVALID_REQUEST");
        assert!(service(&app, "new-svc").await.is_null(), "{what}: nothing is created");
    }
}

#[tokio::test]
async fn upsert_environment_creates_then_updates_an_environment_and_audits_each_with_its_changes() {
    let app = spawn().await;
    let before = audit_log(&app).await;
    let create =
        json!({ "name": "prod", "displayName": "Production", "type": "PROD", "promotionOrder": 3, "enabled": true });

    let created = call(&app, ADMIN, "upsertEnvironment", create, Some("go live"), &key()).await;
    let update =
        json!({ "name": "prod", "displayName": "Production", "type": "PROD", "promotionOrder": 9, "enabled": true });
    let updated = call(&app, ADMIN, "upsertEnvironment", update, None, &key()).await;

    assert_eq!(
        answer(&created, "upsertEnvironment"),
        json!({ "name": "prod", "displayName": "Production", "type": "PROD", "promotionOrder": 3, "enabled": true })
    );
    let events = new_events(&app, &before).await;
    assert_eq!(events.len(), 2, "one event per change, newest first: {events:#?}");
    let (updated_event, created_event) = (&events[0], &events[1]);
    assert_eq!(created_event["eventType"], "ADMIN_CREATE");
    assert_eq!(created_event["targetType"], "ENVIRONMENT");
    assert_eq!(created_event["targetId"], "prod");
    assert_eq!(changed_fields(created_event), ["displayName", "enabled", "promotionOrder", "type"], "{created_event}");
    assert_eq!(answer(&updated, "upsertEnvironment")["promotionOrder"], 9);
    assert_eq!(environment(&app, "prod").await["promotionOrder"], 9);
    assert_eq!(updated_event["eventType"], "ADMIN_UPDATE");
    assert_eq!(updated_event["targetType"], "ENVIRONMENT");
    assert_eq!(changes(updated_event), BTreeMap::from([("promotionOrder".to_owned(), (json!("3"), json!("9")))]));
}

#[tokio::test]
async fn disabling_an_environment_refuses_deploys_there_at_once() {
    let app = spawn().await;
    let before = audit_log(&app).await;
    let disable = json!({ "name": "staging", "displayName": "Staging", "type": "NON_PROD", "promotionOrder": 2, "enabled": false });

    let response = call(&app, ADMIN, "upsertEnvironment", disable, Some("freeze"), &key()).await;
    let refused = deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging")).await;

    assert_eq!(answer(&response, "upsertEnvironment")["enabled"], false);
    let event =
        new_events(&app, &before).await.into_iter().find(|e| e["eventType"] == "ADMIN_UPDATE").expect("audited");
    assert_eq!(changes(&event), BTreeMap::from([("enabled".to_owned(), (json!("true"), json!("false")))]));
    assert_eq!(refused.first_code().as_deref(), Some("ENVIRONMENT_DISABLED"), "{}", refused.body);
    let sandbox = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox")).await;
    assert!(sandbox.ok()["deploy"]["id"].is_string(), "other environments still deploy");
}

#[tokio::test]
async fn environment_validation_errors_are_invalid_request_and_audited() {
    let app = spawn().await;
    let cases = [
        ("an invalid name", json!({ "name": "Prod Env", "type": "PROD", "enabled": true })),
        ("a blank display name", json!({ "name": "prod", "displayName": "  ", "type": "PROD", "enabled": true })),
    ];

    for (what, input) in cases {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, "upsertEnvironment", input, None, &key()).await;

        assert_refused(&response, "upsertEnvironment", "INVALID_REQUEST", what);
        let event = one_new_event(&app, &before, what).await;
        assert_denied(&event, "ADMIN_CREATE", "ENVIRONMENT", "admin", "INVALID_REQUEST");
        assert!(environment(&app, "prod").await.is_null(), "{what}: nothing is created");
    }
}

// ---------------------------------------------------------------------------
// System settings

#[tokio::test]
async fn update_system_settings_audits_one_change_per_changed_field() {
    let app = spawn().await;
    let original = settings(&app).await;
    let before = audit_log(&app).await;
    let input = json!({ "readRpm": 900, "mutateRpm": original["mutateRpm"], "dailyBuildRegisterQuota": 5 });

    let response = call(&app, ADMIN, "updateSystemSettings", input, Some("busier CI"), &key()).await;

    let updated = answer(&response, "updateSystemSettings");
    assert_eq!(updated["readRpm"], 900);
    assert_eq!(updated["dailyBuildRegisterQuota"], 5);
    assert_eq!(updated["mutateRpm"], original["mutateRpm"]);
    assert_eq!(updated["mutationsDisabled"], false);
    assert_eq!(settings(&app).await, updated, "the settings read back as answered");
    let event = one_new_event(&app, &before, "updateSystemSettings").await;
    assert_eq!(event["eventType"], "SETTINGS_UPDATE");
    assert_eq!(event["targetType"], "SETTINGS");
    assert_eq!(event["outcome"], "SUCCESS");
    let listed = changes(&event);
    assert_eq!(changed_fields(&event), ["dailyBuildRegisterQuota", "readRpm"], "{event}");
    assert_eq!(listed["readRpm"], (json!("600"), json!("900")));
    assert_eq!(listed["dailyBuildRegisterQuota"].1, "5");
}

#[tokio::test]
async fn rates_outside_1_to_100000_and_a_zero_build_quota_are_refused_with_invalid_request() {
    let app = spawn().await;
    let original = settings(&app).await;
    let cases = [
        ("readRpm 0", json!({ "readRpm": 0 })),
        ("readRpm 100001", json!({ "readRpm": 100_001 })),
        ("mutateRpm 0", json!({ "mutateRpm": 0 })),
        ("mutateRpm 100001", json!({ "mutateRpm": 100_001 })),
        ("dailyBuildRegisterQuota 0", json!({ "dailyBuildRegisterQuota": 0 })),
    ];

    for (what, input) in cases {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, "updateSystemSettings", input, None, &key()).await;

        assert_refused(&response, "updateSystemSettings", "INVALID_REQUEST", what);
        let event = one_new_event(&app, &before, what).await;
        assert_denied(&event, "SETTINGS_UPDATE", "SETTINGS", "admin", "INVALID_REQUEST");
        assert_eq!(settings(&app).await, original, "{what}: settings are unchanged");
    }
    let bounds =
        call(&app, ADMIN, "updateSystemSettings", json!({ "readRpm": 100_000, "mutateRpm": 1 }), None, &key()).await;
    let accepted = answer(&bounds, "updateSystemSettings");
    assert_eq!((&accepted["readRpm"], &accepted["mutateRpm"]), (&json!(100_000), &json!(1)), "the bounds are valid");
}

// ---------------------------------------------------------------------------
// Idempotency

#[tokio::test]
async fn replaying_an_admin_mutation_with_its_key_returns_the_same_result_without_a_second_audit_event() {
    let app = spawn().await;
    let cases = [
        ("createDeliveryGroup", platform_input()),
        ("updateDeliveryGroup", payments_input(4)),
        ("createRecipe", recipe_input("fresh")),
        ("updateRecipe", with(standard_input(), "name", json!("Standard v2"))),
        ("deprecateRecipe", json!("canary")),
        ("upsertService", json!({ "name": "new-svc" })),
        ("upsertEnvironment", json!({ "name": "prod", "type": "PROD", "enabled": true })),
        ("updateSystemSettings", json!({ "readRpm": 700 })),
    ];

    for (mutation, argument) in cases {
        let reused = key();
        let first = call(&app, ADMIN, mutation, argument.clone(), Some("once"), &reused).await;
        let after_first = audit_log(&app).await;

        let replay = call(&app, ADMIN, mutation, argument, Some("once"), &reused).await;

        assert_eq!(answer(&replay, mutation), answer(&first, mutation), "{mutation}: the same result");
        assert!(new_events(&app, &after_first).await.is_empty(), "{mutation}: a replay writes no audit event");
    }
    assert_eq!(recipe(&app, "standard").await["revision"], 2, "the replayed update did not apply twice");
    assert_eq!(recipe(&app, "canary").await["revision"], 2, "the replayed deprecation did not apply twice");
}

#[tokio::test]
async fn the_same_key_with_a_different_input_is_an_idempotency_conflict() {
    let app = spawn().await;
    let reused = key();
    answer(&call(&app, ADMIN, "createRecipe", recipe_input("fresh"), None, &reused).await, "createRecipe");
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "createRecipe", recipe_input("other"), None, &reused).await;

    assert_refused(&response, "createRecipe", "IDEMPOTENCY_CONFLICT", "another input under the same key");
    assert!(recipe(&app, "other").await.is_null(), "the second input is not applied");
    assert_eq!(recipe(&app, "fresh").await["revision"], 1);
    let event = one_new_event(&app, &before, "idempotency conflict").await;
    assert_denied(&event, "ADMIN_CREATE", "RECIPE", "admin", "IDEMPOTENCY_CONFLICT");
    let settings_key = key();
    answer(
        &call(&app, ADMIN, "updateSystemSettings", json!({ "readRpm": 700 }), None, &settings_key).await,
        "updateSystemSettings",
    );
    let conflict = call(&app, ADMIN, "updateSystemSettings", json!({ "readRpm": 800 }), None, &settings_key).await;
    assert_refused(&conflict, "updateSystemSettings", "IDEMPOTENCY_CONFLICT", "settings under a used key");
    assert_eq!(settings(&app).await["readRpm"], 700);
}
