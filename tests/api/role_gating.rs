//! What each role may read (DESIGN §3): admin-only engine fields are null
//! with one ROLE_FORBIDDEN error per field path for everyone else, CI
//! publishers read only the viewer, services and builds, and the audit log
//! and settings are for admins.

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use chrono::Duration;
use serde_json::{json, Value};

use crate::harness::{
    seed::{self, base_time},
    GqlResponse, TestApp, ADMIN, OBSERVER, OWNER,
};

/// Every field that exposes the engine behind DXCP, as `Type.field`.
const ENGINE_FIELDS: [&str; 5] = [
    "Deployment.engineExecutionId",
    "Deployment.engineExecutionUrl",
    "Recipe.deployPipeline",
    "Recipe.rollbackPipeline",
    "Recipe.spinnakerApplication",
];

const ENGINE_QUERY: &str = "query($id: ID!) {
    deployments(first: 10) { nodes { id service engineExecutionId engineExecutionUrl } }
    deployment(id: $id) { id version engineExecutionId engineExecutionUrl }
    recipes { id name spinnakerApplication deployPipeline rollbackPipeline }
    recipe(id: \"canary\") { id revision spinnakerApplication deployPipeline rollbackPipeline }
}";

/// Two payments deployments (the dev owner is a member), newest first.
async fn two_deployments(app: &TestApp) -> [dxcp::domain::deployment::DeploymentRecord; 2] {
    let mut newer = seed::succeeded("payments-api", "sandbox", base_time());
    newer.engine_execution_id = Some("exec-newer".into());
    newer.engine_execution_url = Some("https://spinnaker.example/executions/exec-newer".into());
    let mut older = seed::record("payments-api", "sandbox", "payments", base_time() - Duration::hours(1));
    older.engine_execution_id = Some("exec-older".into());
    older.engine_execution_url = Some("https://spinnaker.example/executions/exec-older".into());
    seed::insert(app, &[newer.clone(), older.clone()]).await;
    [newer, older]
}

/// Error paths as compact JSON text, sorted, for set comparisons.
fn error_paths(response: &GqlResponse) -> Vec<String> {
    let mut paths: Vec<String> = response.errors().iter().map(|e| e["path"].to_string()).collect();
    paths.sort();
    paths
}

#[tokio::test]
async fn a_platform_admin_reads_every_engine_field() {
    let app = TestApp::spawn().await;
    let [newer, older] = two_deployments(&app).await;

    let response = app.admin(ENGINE_QUERY, json!({ "id": newer.id.to_string() })).await;

    let data = response.ok();
    assert_eq!(
        data["deployments"]["nodes"],
        json!([
            { "id": newer.id.to_string(), "service": "payments-api", "engineExecutionId": "exec-newer",
              "engineExecutionUrl": "https://spinnaker.example/executions/exec-newer" },
            { "id": older.id.to_string(), "service": "payments-api", "engineExecutionId": "exec-older",
              "engineExecutionUrl": "https://spinnaker.example/executions/exec-older" },
        ])
    );
    assert_eq!(data["deployment"]["engineExecutionId"], "exec-newer");
    assert_eq!(data["deployment"]["engineExecutionUrl"], "https://spinnaker.example/executions/exec-newer");
    let standard = data["recipes"].as_array().expect("recipes").iter().find(|r| r["id"] == "standard").cloned();
    assert_eq!(
        standard,
        Some(json!({ "id": "standard", "name": "Standard", "spinnakerApplication": "dxcp-demo",
                     "deployPipeline": "deploy-standard", "rollbackPipeline": "rollback-standard" }))
    );
    assert_eq!(
        data["recipe"],
        json!({ "id": "canary", "revision": 1, "spinnakerApplication": "dxcp-demo",
                "deployPipeline": "deploy-canary", "rollbackPipeline": "rollback-canary" })
    );
}

#[tokio::test]
async fn owners_and_observers_get_null_engine_fields_with_one_role_forbidden_per_field_path() {
    let app = TestApp::spawn().await;
    let [newer, older] = two_deployments(&app).await;
    let mut expected_paths: Vec<String> = Vec::new();
    for (at, field) in
        [(0, "engineExecutionId"), (0, "engineExecutionUrl"), (1, "engineExecutionId"), (1, "engineExecutionUrl")]
    {
        expected_paths.push(json!(["deployments", "nodes", at, field]).to_string());
    }
    for field in ["engineExecutionId", "engineExecutionUrl"] {
        expected_paths.push(json!(["deployment", field]).to_string());
    }
    for field in ["spinnakerApplication", "deployPipeline", "rollbackPipeline"] {
        for at in 0..2 {
            expected_paths.push(json!(["recipes", at, field]).to_string());
        }
        expected_paths.push(json!(["recipe", field]).to_string());
    }
    expected_paths.sort();

    for token in [OWNER, OBSERVER] {
        let response = app.gql_as(Some(token), ENGINE_QUERY, json!({ "id": newer.id.to_string() })).await;

        assert_eq!(error_paths(&response), expected_paths, "{token}: one error per guarded field path");
        assert!(response.codes().iter().all(|c| c == "ROLE_FORBIDDEN"), "{token}: {}", response.body);
        assert_eq!(response.codes().len(), expected_paths.len(), "{token}: every error is coded");
        let data = response.data();
        assert_eq!(
            data["deployments"]["nodes"],
            json!([
                { "id": newer.id.to_string(), "service": "payments-api",
                  "engineExecutionId": null, "engineExecutionUrl": null },
                { "id": older.id.to_string(), "service": "payments-api",
                  "engineExecutionId": null, "engineExecutionUrl": null },
            ]),
            "{token}"
        );
        assert_eq!(
            data["deployment"],
            json!({ "id": newer.id.to_string(), "version": "1.0.0",
                    "engineExecutionId": null, "engineExecutionUrl": null }),
            "{token}"
        );
        let mut recipe_ids: Vec<&str> =
            data["recipes"].as_array().expect("recipes").iter().map(|r| r["id"].as_str().expect("id")).collect();
        recipe_ids.sort_unstable();
        assert_eq!(recipe_ids, ["canary", "standard"], "{token}");
        assert_eq!(data["recipe"]["revision"], 1, "{token}: the rest of the recipe is returned");
        for recipe in data["recipes"].as_array().expect("recipes").iter().chain([&data["recipe"]]) {
            for field in ["spinnakerApplication", "deployPipeline", "rollbackPipeline"] {
                assert_eq!(recipe[field], Value::Null, "{token}: {field} of {}", recipe["id"]);
            }
        }
    }
}

#[tokio::test]
async fn engine_fields_are_nullable_and_documented_as_admin_only_in_the_sdl() {
    let sdl = dxcp::graphql::sdl();
    let document = async_graphql::parser::parse_schema(&sdl).expect("the SDL parses");

    let mut engine_fields: Vec<(String, bool, String)> = Vec::new();
    for definition in &document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else { continue };
        let TypeKind::Object(object) = &ty.node.kind else { continue };
        for field in &object.fields {
            let name = field.node.name.node.as_str();
            if name.starts_with("engineExecution") || name.starts_with("spinnaker") || name.ends_with("Pipeline") {
                engine_fields.push((
                    format!("{}.{name}", ty.node.name.node),
                    field.node.ty.node.nullable,
                    field.node.description.as_ref().map(|d| d.node.clone()).unwrap_or_default(),
                ));
            }
        }
    }
    engine_fields.sort();

    let names: Vec<&str> = engine_fields.iter().map(|(name, _, _)| name.as_str()).collect();
    assert_eq!(names, ENGINE_FIELDS, "the engine-level fields of the schema");
    for (name, nullable, description) in &engine_fields {
        assert!(nullable, "{name} must be nullable so it can resolve to null with ROLE_FORBIDDEN");
        assert!(description.contains("PLATFORM_ADMIN only"), "{name} must say it is PLATFORM_ADMIN only");
    }
}

#[tokio::test]
async fn a_ci_publisher_reads_the_viewer_services_and_builds() {
    let app = TestApp::spawn().await;

    let response = app
        .ci(
            "{ viewer { actorId role deliveryGroups { id } } services { name }
               builds(service: \"ledger\", first: 10) { nodes { version } } }",
            json!({}),
        )
        .await;

    let data = response.ok();
    assert_eq!(data["viewer"], json!({ "actorId": "ci", "role": "CI_PUBLISHER", "deliveryGroups": [] }));
    assert_eq!(data["services"].as_array().expect("services").len(), 4);
    assert_eq!(data["builds"]["nodes"].as_array().expect("builds").len(), 4);
}

#[tokio::test]
async fn a_ci_publisher_is_forbidden_every_other_query() {
    let app = TestApp::spawn().await;
    let [record, _] = two_deployments(&app).await;
    let id = record.id.to_string();
    let queries = [
        ("deployments", "{ deployments { nodes { id } } }".to_owned()),
        ("deployment", format!("{{ deployment(id: \"{id}\") {{ id }} }}")),
        (
            "runningState",
            "{ runningState(service: \"payments-api\", environment: \"sandbox\") { version } }".to_owned(),
        ),
        ("runningStates", "{ runningStates { version } }".to_owned()),
        ("deliveryGroups", "{ deliveryGroups { id } }".to_owned()),
        ("deliveryGroup", "{ deliveryGroup(id: \"payments\") { id } }".to_owned()),
        ("recipes", "{ recipes { id } }".to_owned()),
        ("recipe", "{ recipe(id: \"standard\") { id } }".to_owned()),
        ("environments", "{ environments { name } }".to_owned()),
        ("auditEvents", "{ auditEvents { nodes { id } } }".to_owned()),
        ("systemSettings", "{ systemSettings { readRpm } }".to_owned()),
    ];

    for (field, query) in queries {
        let response = app.ci(&query, json!({})).await;

        assert_forbidden(&response, field);
    }
}

#[tokio::test]
async fn owners_and_observers_are_forbidden_the_audit_log_and_system_settings() {
    let app = TestApp::spawn().await;
    seed::insert_audit(&app, &[seed::audit_event("SETTINGS_UPDATE", "admin", base_time())]).await;

    for token in [OWNER, OBSERVER] {
        let audit = app.gql_as(Some(token), "{ auditEvents { nodes { id summary } } }", json!({})).await;
        let settings = app.gql_as(Some(token), "{ systemSettings { readRpm ciPublishers } }", json!({})).await;

        assert_forbidden(&audit, "auditEvents");
        assert_forbidden(&settings, "systemSettings");
    }
}

#[tokio::test]
async fn observers_read_deployments_of_every_group_and_the_catalogue() {
    let app = TestApp::spawn().await;
    let at = base_time();
    let payments = seed::failed("ledger", "sandbox", at);
    let storefront = seed::failed("checkout-web", "sandbox", at - Duration::minutes(1));
    seed::insert(&app, &[payments.clone(), storefront.clone()]).await;

    let response = app
        .observer(
            "{ deployments { nodes { id } } deliveryGroups { id } recipes { id } environments { name }
               runningStates { version } }",
            json!({}),
        )
        .await;

    let data = response.ok();
    assert_eq!(
        data["deployments"]["nodes"],
        json!([{ "id": payments.id.to_string() }, { "id": storefront.id.to_string() }])
    );
    assert_eq!(data["deliveryGroups"].as_array().expect("groups").len(), 2);
    assert_eq!(data["recipes"].as_array().expect("recipes").len(), 2);
    assert_eq!(data["environments"].as_array().expect("environments").len(), 3);
}

/// One ROLE_FORBIDDEN error at `field`, and nothing of it in the data.
fn assert_forbidden(response: &GqlResponse, field: &str) {
    assert_eq!(response.status, 200, "{field}: {}", response.body);
    assert_eq!(response.codes(), ["ROLE_FORBIDDEN"], "{field}: {}", response.body);
    assert_eq!(response.errors()[0]["path"], json!([field]), "{field}");
    let data = response.data();
    assert!(data.is_null() || data[field].is_null(), "{field} leaked data: {}", response.body);
}

#[tokio::test]
async fn the_admin_token_is_not_forbidden_anything() {
    let app = TestApp::spawn().await;
    two_deployments(&app).await;

    let response = app
        .gql_as(
            Some(ADMIN),
            "{ deployments { nodes { id } } runningStates { version } deliveryGroups { id } recipes { id }
               environments { name } auditEvents { nodes { id } } systemSettings { readRpm } }",
            json!({}),
        )
        .await;

    let data = response.ok();
    assert_eq!(data["deployments"]["nodes"].as_array().expect("deployments").len(), 2);
    assert_eq!(data["systemSettings"]["readRpm"], 600);
}
