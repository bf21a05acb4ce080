//! GraphQL documents and one call per operation, for every test that
//! deploys, rolls back, cancels or reads deployments: intents, idempotency
//! keys, driving deployments through the fake Gate and polling them.

// A shared harness: each test module uses only some of these.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

use super::{fake_gate::FakeGate, storage::execution_of, GqlResponse, TestApp, TestAppBuilder, ADMIN};

/// The demo service, group and environment most flows deploy to. The demo
/// catalogue allows one deployment at a time there.
pub const SERVICE: &str = "payments-api";
pub const GROUP: &str = "payments";
pub const ENVIRONMENT: &str = "sandbox";

/// Actor ids behind the dev tokens `ADMIN` and `OWNER`.
pub const ADMIN_ACTOR: &str = "admin";
pub const OWNER_ACTOR: &str = "owner";

/// The default dev tokens plus `outsider`, a DELIVERY_OWNER who is a member
/// of no delivery group.
pub const DEV_TOKENS_WITH_OUTSIDER: &str = "dxcp-dev-admin=admin:PLATFORM_ADMIN,dxcp-dev-owner=owner:DELIVERY_OWNER,\
dxcp-dev-observer=observer:OBSERVER,dxcp-dev-ci=ci:CI_PUBLISHER,outsider-token=outsider:DELIVERY_OWNER";
pub const OUTSIDER: &str = "outsider-token";

/// Adds the `outsider` owner to the dev tokens.
pub fn with_outsider(builder: TestAppBuilder) -> TestAppBuilder {
    builder.env("DXCP_DEV_TOKENS", DEV_TOKENS_WITH_OUTSIDER)
}

macro_rules! deployment_fields {
    () => {
        "id service environment version recipeId recipeRevision effectiveBehaviorSummary state deploymentKind \
         outcome changeSummary createdAt updatedAt deliveryGroupId createdBy rollbackOf supersededBy engineType \
         failures { category summary detail actionHint observedAt } timeline { key label occurredAt detail }"
    };
}

/// Fields of a `Deployment` every reader may select.
pub const FIELDS: &str = deployment_fields!();

/// `FIELDS` plus the PLATFORM_ADMIN-only engine reference.
pub const ADMIN_FIELDS: &str = concat!(deployment_fields!(), " engineExecutionId engineExecutionUrl");

/// The fields a caller holding `token` may select.
pub fn fields_for(token: &str) -> &'static str {
    if token == ADMIN {
        ADMIN_FIELDS
    } else {
        FIELDS
    }
}

pub const DEPLOY: &str = concat!(
    "mutation($intent: DeploymentIntentInput!, $key: String!) { deploy(intent: $intent, idempotencyKey: $key) { ",
    deployment_fields!(),
    " } }"
);

pub const ROLLBACK: &str = concat!(
    "mutation($id: ID!, $summary: String, $key: String!) { ",
    "rollback(deploymentId: $id, changeSummary: $summary, idempotencyKey: $key) { ",
    deployment_fields!(),
    " } }"
);

pub const CANCEL: &str = concat!(
    "mutation($id: ID!, $key: String!) { cancelDeployment(id: $id, idempotencyKey: $key) { ",
    deployment_fields!(),
    " } }"
);

pub const DEPLOYMENT: &str = concat!("query($id: ID!) { deployment(id: $id) { ", deployment_fields!(), " } }");

macro_rules! preflight_fields {
    () => {
        "allowed violations { code message } service environment version recipeId deliveryGroupId \
         versionRegistered maxConcurrentDeployments inFlightDeployments dailyQuota usedToday remainingToday"
    };
}

pub const VALIDATE_DEPLOYMENT: &str = concat!(
    "query($intent: DeploymentIntentInput!) { validateDeployment(intent: $intent) { ",
    preflight_fields!(),
    " } }"
);

pub const VALIDATE_ROLLBACK: &str =
    concat!("query($id: ID!) { validateRollback(deploymentId: $id) { ", preflight_fields!(), " } }");

/// An intent with a plain change summary and the group's default recipe.
pub fn intent(service: &str, version: &str, environment: &str) -> Value {
    json!({
        "service": service,
        "version": version,
        "environment": environment,
        "changeSummary": format!("ship {service} {version} to {environment}"),
    })
}

/// `intent` with an explicit recipe.
pub fn intent_with_recipe(service: &str, version: &str, environment: &str, recipe: &str) -> Value {
    let mut value = intent(service, version, environment);
    value["recipeId"] = json!(recipe);
    value
}

pub async fn deploy(app: &TestApp, token: &str, intent: Value, key: &str) -> GqlResponse {
    app.gql_as(Some(token), DEPLOY, json!({ "intent": intent, "key": key })).await
}

pub async fn rollback(app: &TestApp, token: &str, id: &str, key: &str) -> GqlResponse {
    app.gql_as(Some(token), ROLLBACK, json!({ "id": id, "key": key })).await
}

pub async fn cancel(app: &TestApp, token: &str, id: &str, key: &str) -> GqlResponse {
    app.gql_as(Some(token), CANCEL, json!({ "id": id, "key": key })).await
}

pub async fn validate_deployment(app: &TestApp, token: &str, intent: Value) -> Value {
    let response = app.gql_as(Some(token), VALIDATE_DEPLOYMENT, json!({ "intent": intent })).await;
    response.ok()["validateDeployment"].clone()
}

pub async fn validate_rollback(app: &TestApp, token: &str, id: &str) -> Value {
    let response = app.gql_as(Some(token), VALIDATE_ROLLBACK, json!({ "id": id })).await;
    response.ok()["validateRollback"].clone()
}

/// The codes of a preflight's violations, in order.
pub fn violation_codes(preflight: &Value) -> Vec<String> {
    preflight["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["code"].as_str().expect("code").to_owned())
        .collect()
}

/// A unique idempotency key.
pub fn key() -> String {
    format!("key-{}", Uuid::new_v4())
}

/// Deploys as the admin and returns the record (which must be accepted).
pub async fn deployed(app: &TestApp, service: &str, version: &str, environment: &str) -> Value {
    let response = deploy(app, ADMIN, intent(service, version, environment), &key()).await;
    response.ok()["deploy"].clone()
}

/// The id of a record as answered.
pub fn id_of(record: &Value) -> String {
    record["id"].as_str().unwrap_or_else(|| panic!("a deployment with an id: {record}")).to_owned()
}

/// A server whose requests may last 1 s while an engine call may take 20 s,
/// and one deployment the engine reports RUNNING: inject a delay on
/// `GetExecution` and a read of it outlives the request deadline.
pub async fn running_behind_a_slow_engine(gate: &FakeGate) -> (TestApp, String) {
    let app = TestApp::builder()
        .gate(gate)
        .env("DXCP_REQUEST_TIMEOUT_MS", "1000")
        .env("DXCP_ENGINE_TIMEOUT_MS", "20000")
        .spawn()
        .await;
    let id = id_of(&deployed(&app, "payments-api", "1.0.0", "sandbox").await);
    gate.set_status(&execution_of(&app, &id).await, "RUNNING");
    (app, id)
}

/// Polls `deployment(id)` as the admin (which refreshes it from the engine)
/// until it reaches `state`; panics after 15 s. Answers the fields every
/// reader may select (`FIELDS`).
pub async fn wait_for_state(app: &TestApp, id: &str, state: &str) -> Value {
    poll_for_state(app, id, state, FIELDS, Duration::from_secs(15)).await
}

/// `wait_for_state` within `within`, answering the admin's fields
/// (`ADMIN_FIELDS`, with the engine reference).
pub async fn wait_for_state_within(app: &TestApp, id: &str, state: &str, within: Duration) -> Value {
    poll_for_state(app, id, state, ADMIN_FIELDS, within).await
}

async fn poll_for_state(app: &TestApp, id: &str, state: &str, fields: &str, within: Duration) -> Value {
    let document = format!("query($id: ID!) {{ deployment(id: $id) {{ {fields} }} }}");
    let deadline = Instant::now() + within;
    loop {
        let response = app.admin(&document, json!({ "id": id })).await;
        let record = response.ok()["deployment"].clone();
        if record["state"] == state {
            return record;
        }
        assert!(Instant::now() < deadline, "deployment {id} did not reach {state} within {within:?}: {record}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Lets the Gate finish a deployment successfully and waits until DXCP
/// has read it.
pub async fn finish(app: &TestApp, gate: &FakeGate, id: &str) -> Value {
    gate.succeed(&execution_of(app, id).await);
    wait_for_state(app, id, "SUCCEEDED").await
}

/// Deploys as the admin through the Gate and lets it succeed; returns the id.
pub async fn deployed_and_succeeded(
    app: &TestApp,
    gate: &FakeGate,
    service: &str,
    version: &str,
    environment: &str,
) -> String {
    let id = id_of(&deployed(app, service, version, environment).await);
    finish(app, gate, &id).await;
    id
}

/// `deploy(intent, key)` selecting every field the caller holding `token`
/// may see (the engine reference for the admin).
pub async fn deploy_seen_by(app: &TestApp, token: &str, intent: Value, key: &str) -> GqlResponse {
    let document = format!(
        "mutation($intent: DeploymentIntentInput!, $key: String!) {{
            deploy(intent: $intent, idempotencyKey: $key) {{ {} }}
        }}",
        fields_for(token)
    );
    app.gql_as(Some(token), &document, json!({ "intent": intent, "key": key })).await
}

/// Deploys `version` of the demo service to sandbox (`deploy_seen_by`).
pub async fn deploy_demo(app: &TestApp, token: &str, version: &str, key: &str) -> GqlResponse {
    deploy_seen_by(app, token, intent(SERVICE, version, ENVIRONMENT), key).await
}

/// The record a mutation answered with; panics with the body on errors.
pub fn answered<'a>(response: &'a GqlResponse, field: &str) -> &'a Value {
    let record = &response.ok()[field];
    assert!(record.is_object(), "{field} answered no record: {}", response.body);
    record
}

/// The id of the record a mutation answered with.
pub fn answered_id(response: &GqlResponse, field: &str) -> String {
    answered(response, field)["id"].as_str().expect("the record has an id").to_owned()
}

/// `rollback(deploymentId, changeSummary, key)` selecting every field the
/// caller holding `token` may see.
pub async fn rollback_seen_by(app: &TestApp, token: &str, deployment_id: &str, key: &str) -> GqlResponse {
    let document = format!(
        "mutation($id: ID!, $key: String!) {{
            rollback(deploymentId: $id, changeSummary: \"roll back {deployment_id}\", idempotencyKey: $key) {{ {} }}
        }}",
        fields_for(token)
    );
    app.gql_as(Some(token), &document, json!({ "id": deployment_id, "key": key })).await
}

/// `cancelDeployment(id, key)` selecting every field the caller holding
/// `token` may see.
pub async fn cancel_seen_by(app: &TestApp, token: &str, deployment_id: &str, key: &str) -> GqlResponse {
    let document = format!(
        "mutation($id: ID!, $key: String!) {{ cancelDeployment(id: $id, idempotencyKey: $key) {{ {} }} }}",
        fields_for(token)
    );
    app.gql_as(Some(token), &document, json!({ "id": deployment_id, "key": key })).await
}

/// `deployment(id)` as the caller holding `token` (which refreshes an
/// in-flight record from the engine); panics on errors or an unknown id.
pub async fn read(app: &TestApp, token: &str, id: &str) -> Value {
    let document = format!("query($id: ID!) {{ deployment(id: $id) {{ {} }} }}", fields_for(token));
    let response = app.gql_as(Some(token), &document, json!({ "id": id })).await;
    let record = response.ok()["deployment"].clone();
    assert!(record.is_object(), "deployment {id} not found: {}", response.body);
    record
}

/// `runningState(service, environment)` as the admin (`null` when none).
pub async fn running_state(app: &TestApp, service: &str, environment: &str) -> Value {
    let response = app
        .admin(
            "query($service: String!, $environment: String!) {
                runningState(service: $service, environment: $environment) {
                    service environment scope version deploymentId deploymentKind derivedAt
                }
            }",
            json!({ "service": service, "environment": environment }),
        )
        .await;
    response.ok()["runningState"].clone()
}

/// Timeline keys of a deployment, in the order served.
pub fn timeline_keys(record: &Value) -> Vec<String> {
    record["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|event| event["key"].as_str().expect("a timeline key").to_owned())
        .collect()
}

/// Failure categories of a deployment, in the order observed.
pub fn failure_categories(record: &Value) -> Vec<String> {
    record["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .map(|failure| failure["category"].as_str().expect("a category").to_owned())
        .collect()
}

/// Audit events matching `filter` (an `AuditEventFilter`), newest first.
pub async fn audit_events(app: &TestApp, filter: Value) -> Vec<Value> {
    let response = app
        .admin(
            "query($filter: AuditEventFilter) {
                auditEvents(filter: $filter, first: 100) {
                    nodes { id eventType actorId actorRole targetType targetId outcome summary
                            deliveryGroupId serviceName environment requestId repeatCount }
                    pageInfo { hasNextPage }
                }
            }",
            json!({ "filter": filter }),
        )
        .await;
    let connection = &response.ok()["auditEvents"];
    assert_eq!(connection["pageInfo"]["hasNextPage"], false, "more than 100 audit events match {filter}");
    connection["nodes"].as_array().expect("audit nodes").clone()
}

/// The DENIED audit events matching `filter`, once their `repeatCount`s
/// account for `refusals` refusals (a burst of identical refusals is written
/// as a few events and one aggregate when its window closes); panics after
/// a deadline.
pub async fn denials_counting(app: &TestApp, filter: Value, refusals: i64) -> Vec<Value> {
    let mut filter = filter;
    filter["outcome"] = json!("DENIED");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let events = audit_events(app, filter.clone()).await;
        let counted: i64 = events.iter().map(|e| e["repeatCount"].as_i64().expect("repeatCount")).sum();
        if counted >= refusals {
            assert_eq!(counted, refusals, "every refusal is counted once: {events:#?}");
            return events;
        }
        assert!(Instant::now() < deadline, "{counted} of {refusals} refusals audited: {events:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Walks every page of the connection `field` answered by `document` (which
/// takes `$filter`, `$first` and `$after`) as `token`, checking each page's
/// shape on the way: nodes and edges list the same ids, every page but the
/// last is full and ends at its last edge's cursor. Returns the nodes in the
/// order served; panics when `most` items have not ended the walk.
pub async fn walk_pages(
    app: &TestApp,
    token: &str,
    (document, field): (&str, &str),
    filter: Value,
    first: usize,
    most: usize,
) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..=(most / first + 1) {
        let response =
            app.gql_as(Some(token), document, json!({ "filter": filter, "first": first, "after": after })).await;
        let connection = &response.ok()[field];
        let edges = connection["edges"].as_array().expect("edges");
        let node_ids: Vec<&Value> = connection["nodes"].as_array().expect("nodes").iter().map(|n| &n["id"]).collect();
        let edge_ids: Vec<&Value> = edges.iter().map(|e| &e["node"]["id"]).collect();
        assert_eq!(node_ids, edge_ids, "nodes and edges list the same items");
        let has_next = connection["pageInfo"]["hasNextPage"].as_bool().expect("hasNextPage");
        if has_next {
            assert_eq!(edges.len(), first, "every page but the last is full");
            assert_eq!(connection["pageInfo"]["endCursor"], edges[edges.len() - 1]["cursor"]);
        }
        nodes.extend(edges.iter().map(|e| e["node"].clone()));
        if !has_next {
            return nodes;
        }
        after = Some(connection["pageInfo"]["endCursor"].as_str().expect("endCursor").to_owned());
    }
    panic!("hasNextPage never became false");
}

/// The `id`s of nodes, in order.
pub fn ids(nodes: &[Value]) -> Vec<String> {
    nodes.iter().map(|n| n["id"].as_str().expect("id").to_owned()).collect()
}
