//! The administrative mutations as the tests drive them: one document and
//! call for every admin mutation, the inputs that fit `catalog::admin_catalog`,
//! readers of each entity, the audit log as the API serves it, and the
//! "nothing changed" check.

// A shared harness: each test module uses only some of these.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{graphql::key, GqlResponse, TestApp, ADMIN};

pub const GROUP_FIELDS: &str = "id name description owner members services allowedRecipes \
    allowedEnvironments defaultRecipeId guardrails { maxConcurrentDeployments dailyDeployQuota dailyRollbackQuota } \
    createdAt createdBy updatedAt updatedBy lastChangeReason";
pub const RECIPE_FIELDS: &str = "id name description status revision effectiveBehaviorSummary \
    spinnakerApplication deployPipeline rollbackPipeline createdAt createdBy updatedAt updatedBy lastChangeReason";
pub const SERVICE_FIELDS: &str = "name description deliveryGroupId compatibleRecipes";
pub const ENVIRONMENT_FIELDS: &str = "name displayName type promotionOrder enabled";
pub const SETTINGS_FIELDS: &str = "mutationsDisabled readRpm mutateRpm dailyBuildRegisterQuota ciPublishers";

pub async fn spawn() -> TestApp {
    TestApp::builder().catalog(&super::catalog::admin_catalog()).spawn().await
}

/// The document of one admin mutation, selecting every field of its answer.
pub fn document(mutation: &str) -> String {
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
pub async fn call(
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
pub fn answer(response: &GqlResponse, mutation: &str) -> Value {
    let value = response.ok()[mutation].clone();
    assert!(value.is_object(), "{mutation} answered nothing: {}", response.body);
    value
}

/// Asserts a refusal: `code` as the first error and a null field.
pub fn assert_refused(response: &GqlResponse, mutation: &str, code: &str, what: &str) {
    assert_eq!(response.first_code().as_deref(), Some(code), "{what}: {}", response.body);
    let data = response.data();
    assert!(data.is_null() || data[mutation].is_null(), "{what}: the field is null: {}", response.body);
}

/// Every audit event (newest first) as the API serves it, changes included.
pub async fn audit_log(app: &TestApp) -> Vec<Value> {
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
pub async fn new_events(app: &TestApp, before: &[Value]) -> Vec<Value> {
    let known: Vec<&Value> = before.iter().map(|e| &e["id"]).collect();
    audit_log(app).await.into_iter().filter(|e| !known.contains(&&e["id"])).collect()
}

/// The one event written after `before`.
pub async fn one_new_event(app: &TestApp, before: &[Value], what: &str) -> Value {
    let events = new_events(app, before).await;
    assert_eq!(events.len(), 1, "{what}: exactly one audit event: {events:#?}");
    events.into_iter().next().expect("one event")
}

/// Runs the admin `mutation` with `input` and asserts an INVALID_REQUEST
/// refusal (`what` names the case) with exactly one DENIED `ADMIN_CREATE`
/// event on `target_type`; returns that event.
pub async fn assert_invalid_create(
    app: &TestApp,
    mutation: &str,
    target_type: &str,
    what: &str,
    input: Value,
) -> Value {
    let before = audit_log(app).await;
    let response = call(app, ADMIN, mutation, input, None, &key()).await;
    assert_refused(&response, mutation, "INVALID_REQUEST", what);
    let event = one_new_event(app, &before, what).await;
    assert_denied(&event, "ADMIN_CREATE", target_type, "admin", "INVALID_REQUEST");
    event
}

/// Asserts a DENIED event of `actor` with `code` in its summary.
pub fn assert_denied(event: &Value, event_type: &str, target_type: &str, actor: &str, code: &str) {
    assert_eq!(event["eventType"], event_type, "{event}");
    assert_eq!(event["targetType"], target_type, "{event}");
    assert_eq!(event["outcome"], "DENIED", "{event}");
    assert_eq!(event["actorId"], actor, "{event}");
    let summary = event["summary"].as_str().expect("summary");
    assert!(summary.contains(code), "the summary names {code}: {summary}");
}

/// The changes of an event by field; panics when a field is listed twice.
pub fn changes(event: &Value) -> BTreeMap<String, (Value, Value)> {
    let mut by_field = BTreeMap::new();
    for change in event["changes"].as_array().expect("changes") {
        let field = change["field"].as_str().expect("field").to_owned();
        let previous = by_field.insert(field.clone(), (change["oldValue"].clone(), change["newValue"].clone()));
        assert!(previous.is_none(), "{field} is listed twice: {event}");
    }
    by_field
}

pub fn changed_fields(event: &Value) -> Vec<String> {
    changes(event).into_keys().collect()
}

pub fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a timestamp")).expect("RFC 3339").with_timezone(&Utc)
}

/// The payments group as the catalogue has it, with `max_concurrent`.
pub fn payments_input(max_concurrent: i32) -> Value {
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
pub fn storefront_input(services: &[&str]) -> Value {
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
pub fn platform_input() -> Value {
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

pub fn recipe_input(id: &str) -> Value {
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
pub fn standard_input() -> Value {
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

pub fn spare_input() -> Value {
    json!({
        "id": "spare",
        "name": "Spare",
        "effectiveBehaviorSummary": "Allowed by no group.",
        "spinnakerApplication": "spare-app",
        "deployPipeline": "deploy-spare",
        "rollbackPipeline": "rollback-spare",
    })
}

pub fn with(mut value: Value, field: &str, new: Value) -> Value {
    value[field] = new;
    value
}

pub async fn group(app: &TestApp, id: &str) -> Value {
    let response = app
        .admin(&format!("query($id: ID!) {{ deliveryGroup(id: $id) {{ {GROUP_FIELDS} }} }}"), json!({ "id": id }))
        .await;
    response.body["data"]["deliveryGroup"].clone()
}

pub async fn recipe(app: &TestApp, id: &str) -> Value {
    let response =
        app.admin(&format!("query($id: ID!) {{ recipe(id: $id) {{ {RECIPE_FIELDS} }} }}"), json!({ "id": id })).await;
    response.body["data"]["recipe"].clone()
}

pub async fn service(app: &TestApp, name: &str) -> Value {
    let response = app
        .admin(
            &format!("query($name: String!) {{ service(name: $name) {{ {SERVICE_FIELDS} }} }}"),
            json!({ "name": name }),
        )
        .await;
    response.body["data"]["service"].clone()
}

pub async fn environment(app: &TestApp, name: &str) -> Value {
    let response = app.admin(&format!("query {{ environments {{ {ENVIRONMENT_FIELDS} }} }}"), json!({})).await;
    let all = response.ok()["environments"].as_array().expect("environments").clone();
    all.into_iter().find(|e| e["name"] == name).unwrap_or(Value::Null)
}

pub async fn settings(app: &TestApp) -> Value {
    app.admin(&format!("query {{ systemSettings {{ {SETTINGS_FIELDS} }} }}"), json!({})).await.ok()["systemSettings"]
        .clone()
}

/// One admin mutation with an input an admin could apply, and what its
/// audit event says.
pub struct AdminCase {
    pub mutation: &'static str,
    pub argument: Value,
    pub event_type: &'static str,
    pub target_type: &'static str,
    pub target_id: &'static str,
}

/// Every admin mutation, each with an input that would succeed for an admin
/// on `admin_catalog()`.
pub fn every_admin_mutation() -> Vec<AdminCase> {
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
            argument: json!({ "name": "perf", "displayName": "Performance", "type": "PROD", "enabled": true }),
            event_type: "ADMIN_CREATE",
            target_type: "ENVIRONMENT",
            target_id: "perf",
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
pub async fn assert_no_admin_change(app: &TestApp) {
    assert!(group(app, "platform").await.is_null(), "no group was created");
    assert_eq!(group(app, "payments").await["guardrails"]["maxConcurrentDeployments"], 1, "payments is unchanged");
    assert!(recipe(app, "fresh").await.is_null(), "no recipe was created");
    let standard = recipe(app, "standard").await;
    assert_eq!((&standard["name"], &standard["revision"]), (&json!("Standard"), &json!(1)), "standard is unchanged");
    let canary = recipe(app, "canary").await;
    assert_eq!((&canary["status"], &canary["revision"]), (&json!("ACTIVE"), &json!(1)), "canary is unchanged");
    assert!(service(app, "new-svc").await.is_null(), "no service was created");
    assert!(environment(app, "perf").await.is_null(), "no environment was created");
    assert_eq!(settings(app).await["readRpm"], 600, "settings are unchanged");
}
