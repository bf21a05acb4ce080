//! Catalogue reads return the demo catalogue (config/demo-catalog.toml),
//! and first-start settings come from the environment.

use chrono::Duration;
use serde_json::{json, Value};

use crate::harness::{
    seed::{self, base_time},
    TestApp, ADMIN, OBSERVER, OWNER,
};

/// The strings of a JSON array, sorted, for lists whose order is not part
/// of the contract.
fn sorted(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect();
    items.sort();
    items
}

/// Reads `field` as `token` with `$variable` set to `known`, then to
/// `unknown`: asserts the unknown one answers null with only NOT_FOUND
/// errors, and returns the known one's answer.
async fn known_and_unknown(
    app: &TestApp,
    token: &str,
    query: &str,
    (field, variable): (&str, &str),
    known: &str,
    unknown: &str,
) -> Value {
    let found = app.gql_as(Some(token), query, json!({ variable: known })).await;
    let missing = app.gql_as(Some(token), query, json!({ variable: unknown })).await;
    assert_eq!(missing.data()[field], Value::Null, "{}", missing.body);
    assert!(missing.codes().iter().all(|c| c == "NOT_FOUND"), "{}", missing.body);
    found.ok()[field].clone()
}

#[tokio::test]
async fn the_admin_viewer_is_in_no_group_and_the_owner_is_in_both_demo_groups() {
    let app = TestApp::spawn().await;
    let query = "{ viewer { actorId role deliveryGroups { id } } }";

    let admin = app.admin(query, json!({})).await;
    let owner = app.owner(query, json!({})).await;

    assert_eq!(admin.ok()["viewer"], json!({ "actorId": "admin", "role": "PLATFORM_ADMIN", "deliveryGroups": [] }));
    assert_eq!(owner.ok()["viewer"]["actorId"], "owner");
    assert_eq!(owner.ok()["viewer"]["role"], "DELIVERY_OWNER");
    let groups: Vec<Value> =
        owner.ok()["viewer"]["deliveryGroups"].as_array().expect("groups").iter().map(|g| g["id"].clone()).collect();
    assert_eq!(sorted(&Value::Array(groups)), ["payments", "storefront"]);
}

#[tokio::test]
async fn services_lists_the_four_demo_services_with_their_groups_and_recipes() {
    let app = TestApp::spawn().await;

    let response = app.observer("{ services { name description deliveryGroupId compatibleRecipes } }", json!({})).await;

    let mut services = response.ok()["services"].as_array().expect("list").clone();
    services.sort_by_key(|s| s["name"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        Value::Array(services),
        json!([
            { "name": "catalog-api", "description": "Product catalogue API",
              "deliveryGroupId": "storefront", "compatibleRecipes": [] },
            { "name": "checkout-web", "description": "Checkout web front end",
              "deliveryGroupId": "storefront", "compatibleRecipes": [] },
            { "name": "ledger", "description": "Double-entry ledger",
              "deliveryGroupId": "payments", "compatibleRecipes": ["standard"] },
            { "name": "payments-api", "description": "Card payments API",
              "deliveryGroupId": "payments", "compatibleRecipes": [] },
        ])
    );
}

#[tokio::test]
async fn service_by_name_returns_the_service_and_null_for_an_unknown_name() {
    let app = TestApp::spawn().await;
    let query = "query($name: String!) { service(name: $name) { name description deliveryGroupId compatibleRecipes } }";

    let known = known_and_unknown(&app, OBSERVER, query, ("service", "name"), "ledger", "no-such-service").await;

    assert_eq!(
        known,
        json!({ "name": "ledger", "description": "Double-entry ledger",
                "deliveryGroupId": "payments", "compatibleRecipes": ["standard"] })
    );
}

const GROUP_FIELDS: &str = "id name description owner members services allowedRecipes allowedEnvironments
    defaultRecipeId guardrails { maxConcurrentDeployments dailyDeployQuota dailyRollbackQuota }
    createdBy updatedBy lastChangeReason";

/// A delivery group with its list fields sorted.
fn normalized_group(group: &Value) -> Value {
    let mut group = group.clone();
    for field in ["members", "services", "allowedRecipes", "allowedEnvironments"] {
        group[field] = json!(sorted(&group[field]));
    }
    group
}

fn expected_payments() -> Value {
    json!({
        "id": "payments", "name": "Payments", "description": "Card payments and the ledger",
        "owner": "team-payments", "members": ["owner"], "services": ["ledger", "payments-api"],
        "allowedRecipes": ["canary", "standard"], "allowedEnvironments": ["prod", "sandbox", "staging"],
        "defaultRecipeId": "standard",
        "guardrails": { "maxConcurrentDeployments": 1, "dailyDeployQuota": 25, "dailyRollbackQuota": 10 },
        "createdBy": "catalog", "updatedBy": "catalog", "lastChangeReason": null,
    })
}

fn expected_storefront() -> Value {
    json!({
        "id": "storefront", "name": "Storefront", "description": "Customer-facing shop",
        "owner": "team-storefront", "members": ["owner"], "services": ["catalog-api", "checkout-web"],
        "allowedRecipes": ["standard"], "allowedEnvironments": ["sandbox", "staging"],
        "defaultRecipeId": "standard",
        "guardrails": { "maxConcurrentDeployments": 2, "dailyDeployQuota": 25, "dailyRollbackQuota": 10 },
        "createdBy": "catalog", "updatedBy": "catalog", "lastChangeReason": null,
    })
}

#[tokio::test]
async fn delivery_groups_lists_both_demo_groups_with_members_services_and_guardrails() {
    let app = TestApp::spawn().await;

    let response = app.observer(&format!("{{ deliveryGroups {{ {GROUP_FIELDS} }} }}"), json!({})).await;

    let mut groups: Vec<Value> =
        response.ok()["deliveryGroups"].as_array().expect("list").iter().map(normalized_group).collect();
    groups.sort_by_key(|g| g["id"].as_str().unwrap_or_default().to_owned());
    assert_eq!(groups, vec![expected_payments(), expected_storefront()]);
}

#[tokio::test]
async fn delivery_group_by_id_returns_the_group_and_null_for_an_unknown_id() {
    let app = TestApp::spawn().await;
    let query = format!("query($id: ID!) {{ deliveryGroup(id: $id) {{ {GROUP_FIELDS} }} }}");

    let known = known_and_unknown(&app, OWNER, &query, ("deliveryGroup", "id"), "storefront", "no-such-group").await;

    assert_eq!(normalized_group(&known), expected_storefront());
}

const RECIPE_FIELDS: &str = "id name description status revision effectiveBehaviorSummary
    spinnakerApplication deployPipeline rollbackPipeline createdBy updatedBy lastChangeReason";

fn expected_recipe(id: &str) -> Value {
    let (name, description, summary) = match id {
        "standard" => (
            "Standard",
            "Single-pass roll-forward",
            "Deploys the version in one pass; rollback restores the previous version.",
        ),
        "canary" => (
            "Canary",
            "Canary then full rollout",
            "Shifts 10% of traffic to the new version, checks health, then rolls out fully; rollback restores the previous version.",
        ),
        other => panic!("no demo recipe {other}"),
    };
    json!({
        "id": id, "name": name, "description": description,
        "status": "ACTIVE", "revision": 1,
        "effectiveBehaviorSummary": summary,
        "spinnakerApplication": "dxcp-demo", "deployPipeline": format!("deploy-{id}"),
        "rollbackPipeline": format!("rollback-{id}"),
        "createdBy": "catalog", "updatedBy": "catalog", "lastChangeReason": null,
    })
}

#[tokio::test]
async fn recipes_lists_both_demo_recipes_at_revision_one_and_active() {
    let app = TestApp::spawn().await;

    let response = app.admin(&format!("{{ recipes {{ {RECIPE_FIELDS} }} }}"), json!({})).await;

    let mut recipes = response.ok()["recipes"].as_array().expect("list").clone();
    recipes.sort_by_key(|r| r["id"].as_str().unwrap_or_default().to_owned());
    assert_eq!(recipes, vec![expected_recipe("canary"), expected_recipe("standard")]);
}

#[tokio::test]
async fn recipe_by_id_returns_the_recipe_and_null_for_an_unknown_id() {
    let app = TestApp::spawn().await;
    let query = format!("query($id: ID!) {{ recipe(id: $id) {{ {RECIPE_FIELDS} }} }}");

    let known = known_and_unknown(&app, ADMIN, &query, ("recipe", "id"), "canary", "no-such-recipe").await;

    assert_eq!(known, expected_recipe("canary"));
}

#[tokio::test]
async fn environments_lists_sandbox_staging_then_prod_with_type_order_and_enabled() {
    let app = TestApp::spawn().await;

    let response = app.observer("{ environments { name displayName type promotionOrder enabled } }", json!({})).await;

    assert_eq!(
        response.ok()["environments"],
        json!([
            { "name": "sandbox", "displayName": "Sandbox", "type": "NON_PROD", "promotionOrder": 1, "enabled": true },
            { "name": "staging", "displayName": "Staging", "type": "NON_PROD", "promotionOrder": 2, "enabled": true },
            { "name": "prod", "displayName": "Production", "type": "PROD", "promotionOrder": 3, "enabled": true },
        ])
    );
}

const BUILD_PAGE: &str = "query($service: String!, $first: Int!, $after: String) {
    builds(service: $service, first: $first, after: $after) {
        edges { cursor node { service version artifactRef sha256 sizeBytes contentType gitSha gitBranch
                              ciProvider ciRunId builtAt repo registeredAt registeredBy } }
        pageInfo { hasNextPage endCursor }
    }
}";

#[tokio::test]
async fn builds_of_a_service_are_walked_one_per_page_exactly_once_newest_first() {
    let app = TestApp::spawn().await;
    let whole = app.ci(BUILD_PAGE, json!({ "service": "payments-api", "first": 100 })).await;
    let whole_page: Vec<Value> =
        whole.ok()["builds"]["edges"].as_array().expect("edges").iter().map(|e| e["node"].clone()).collect();

    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let response = app.ci(BUILD_PAGE, json!({ "service": "payments-api", "first": 1, "after": after })).await;
        let connection = &response.ok()["builds"];
        let edges = connection["edges"].as_array().expect("edges");
        assert!(edges.len() <= 1, "a page of 1 holds at most one build: {connection}");
        walked.extend(edges.iter().map(|e| e["node"].clone()));
        if !connection["pageInfo"]["hasNextPage"].as_bool().expect("hasNextPage") {
            break;
        }
        after = Some(connection["pageInfo"]["endCursor"].as_str().expect("endCursor").to_owned());
    }

    let versions: Vec<&str> = walked.iter().map(|b| b["version"].as_str().expect("version")).collect();
    let mut distinct = versions.clone();
    distinct.sort_unstable();
    assert_eq!(distinct, ["1.0.0", "1.1.0", "1.2.0", "1.3.0-fail"], "every build exactly once: {versions:?}");
    assert_eq!(walked, whole_page, "paging by one gives the same order as one page");
    let registered: Vec<&str> = walked.iter().map(|b| b["registeredAt"].as_str().expect("registeredAt")).collect();
    let times: Vec<chrono::DateTime<chrono::Utc>> =
        registered.iter().map(|t| t.parse().expect("RFC 3339 registeredAt")).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {registered:?}");
    let first = walked.iter().find(|b| b["version"] == "1.0.0").expect("1.0.0 is listed");
    assert_eq!(
        first,
        &json!({
            "service": "payments-api", "version": "1.0.0",
            "artifactRef": "s3://dxcp-demo-artifacts/payments-api/1.0.0.zip",
            "sha256": "10c0c267ef7e4e311536bbd560332f4b75c49c5f0685efff9b638aea3ed526d2",
            "sizeBytes": 1048576, "contentType": "application/zip",
            "gitSha": "f1731398a88d794d41a984db295104fa8cadac95", "gitBranch": "main",
            "ciProvider": "github", "ciRunId": "101", "builtAt": "2026-01-03T12:00:00Z",
            "repo": "github.com/example/payments-api",
            "registeredAt": first["registeredAt"], "registeredBy": "catalog",
        })
    );
}

#[tokio::test]
async fn builds_of_an_unknown_service_are_an_empty_page() {
    let app = TestApp::spawn().await;

    let response = app.ci(BUILD_PAGE, json!({ "service": "no-such-service", "first": 20 })).await;

    assert_eq!(response.ok()["builds"]["edges"], json!([]));
    assert_eq!(response.ok()["builds"]["pageInfo"]["hasNextPage"], false);
}

const RUNNING_STATE: &str = "query($service: String!, $environment: String!) {
    runningState(service: $service, environment: $environment) {
        service environment scope version deploymentId deploymentKind derivedAt
    }
}";

#[tokio::test]
async fn running_state_is_null_when_nothing_has_succeeded() {
    let app = TestApp::spawn().await;
    seed::insert(&app, &[seed::failed("payments-api", "sandbox", base_time())]).await;

    let response = app.observer(RUNNING_STATE, json!({ "service": "payments-api", "environment": "sandbox" })).await;

    assert_eq!(response.ok()["runningState"], Value::Null);
}

#[tokio::test]
async fn running_state_is_the_record_whose_outcome_is_succeeded() {
    let app = TestApp::spawn().await;
    let mut older = seed::record("payments-api", "sandbox", "payments", base_time() - Duration::hours(2));
    older.version = "1.0.0".into();
    let mut current = seed::succeeded("payments-api", "sandbox", base_time() - Duration::hours(1));
    current.version = "1.1.0".into();
    let mut newer_failure = seed::failed("payments-api", "sandbox", base_time());
    newer_failure.version = "1.2.0".into();
    let mut elsewhere = seed::succeeded("payments-api", "staging", base_time());
    elsewhere.version = "1.2.0".into();
    seed::insert(&app, &[older, current.clone(), newer_failure, elsewhere]).await;

    let response = app.owner(RUNNING_STATE, json!({ "service": "payments-api", "environment": "sandbox" })).await;

    let state = &response.ok()["runningState"];
    assert_eq!(state["service"], "payments-api");
    assert_eq!(state["environment"], "sandbox");
    assert_eq!(state["scope"], "service");
    assert_eq!(state["version"], "1.1.0");
    assert_eq!(state["deploymentId"], current.id.to_string());
    assert_eq!(state["deploymentKind"], "ROLL_FORWARD");
    assert!(state["derivedAt"].as_str().expect("derivedAt").parse::<chrono::DateTime<chrono::Utc>>().is_ok());
}

#[tokio::test]
async fn running_states_are_narrowed_by_environment_and_by_delivery_group() {
    let app = TestApp::spawn().await;
    let at = base_time();
    seed::insert(
        &app,
        &[
            seed::succeeded("payments-api", "sandbox", at),
            seed::succeeded("payments-api", "staging", at),
            seed::succeeded("ledger", "sandbox", at),
            seed::succeeded("checkout-web", "sandbox", at),
            seed::succeeded("catalog-api", "staging", at),
            seed::record("ledger", "staging", "payments", at),
            seed::failed("checkout-web", "staging", at),
        ],
    )
    .await;
    let query = "query($environment: String, $group: ID) {
        runningStates(environment: $environment, deliveryGroupId: $group) { service environment }
    }";
    let pairs = |response: &crate::harness::GqlResponse| {
        let mut pairs: Vec<String> = response.ok()["runningStates"]
            .as_array()
            .expect("list")
            .iter()
            .map(|s| format!("{}/{}", s["service"].as_str().unwrap_or("?"), s["environment"].as_str().unwrap_or("?")))
            .collect();
        pairs.sort();
        pairs
    };

    let all = app.observer(query, json!({})).await;
    let sandbox = app.observer(query, json!({ "environment": "sandbox" })).await;
    let storefront = app.observer(query, json!({ "group": "storefront" })).await;
    let payments_staging = app.observer(query, json!({ "environment": "staging", "group": "payments" })).await;

    assert_eq!(
        pairs(&all),
        [
            "catalog-api/staging",
            "checkout-web/sandbox",
            "ledger/sandbox",
            "payments-api/sandbox",
            "payments-api/staging"
        ]
    );
    assert_eq!(pairs(&sandbox), ["checkout-web/sandbox", "ledger/sandbox", "payments-api/sandbox"]);
    assert_eq!(pairs(&storefront), ["catalog-api/staging", "checkout-web/sandbox"]);
    assert_eq!(pairs(&payments_staging), ["payments-api/staging"]);
}

const SETTINGS: &str =
    "{ systemSettings { mutationsDisabled readRpm mutateRpm dailyBuildRegisterQuota ciPublishers } }";

#[tokio::test]
async fn system_settings_start_from_the_defaults_and_the_catalogue_publishers() {
    let app = TestApp::spawn().await;

    let response = app.admin(SETTINGS, json!({})).await;

    let settings = &response.ok()["systemSettings"];
    assert_eq!(settings["mutationsDisabled"], false);
    assert_eq!(settings["readRpm"], 600);
    assert_eq!(settings["mutateRpm"], 60);
    assert_eq!(settings["ciPublishers"], json!(["ci"]));
    assert!(settings["dailyBuildRegisterQuota"].as_i64().expect("quota") > 0);
}

#[tokio::test]
async fn kill_switch_and_read_rate_from_the_environment_are_the_first_start_settings() {
    let app = TestApp::builder().env("DXCP_KILL_SWITCH", "true").env("DXCP_READ_RPM", "900").spawn().await;

    let response = app.admin(SETTINGS, json!({})).await;

    let settings = &response.ok()["systemSettings"];
    assert_eq!(settings["mutationsDisabled"], true);
    assert_eq!(settings["readRpm"], 900);
    assert_eq!(settings["mutateRpm"], 60);
}
