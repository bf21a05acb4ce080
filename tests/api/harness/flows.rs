//! Deployment flows shared by the race, engine-fault and end-to-end tests:
//! GraphQL documents, deploy / rollback / cancel / read calls, audit and
//! store look-ups, catalogue variants, and short polls with a deadline.

// A shared harness: each test file uses only some of these helpers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use dxcp::{
    domain::{
        deployment::{DeploymentFilter, DeploymentRecord},
        page::PageRequest,
    },
    store::deployments::GroupScope,
};
use serde_json::{json, Value};

use super::{GqlResponse, TestApp, ADMIN};

/// The demo service, group and environment most flows deploy to. The demo
/// catalogue allows one deployment at a time there.
pub const SERVICE: &str = "payments-api";
pub const GROUP: &str = "payments";
pub const ENVIRONMENT: &str = "sandbox";

/// Actor ids behind the dev tokens `ADMIN` and `OWNER`.
pub const ADMIN_ACTOR: &str = "admin";
pub const OWNER_ACTOR: &str = "owner";

/// Fields of a `Deployment` every reader may select.
pub const FIELDS: &str = "id service environment version recipeId recipeRevision effectiveBehaviorSummary
    state outcome deploymentKind rollbackOf supersededBy engineType createdBy deliveryGroupId
    changeSummary createdAt updatedAt
    failures { category summary detail actionHint observedAt }
    timeline { key label occurredAt detail }";

/// `FIELDS` plus the PLATFORM_ADMIN-only engine reference.
pub const ADMIN_FIELDS: &str = "id service environment version recipeId recipeRevision effectiveBehaviorSummary
    state outcome deploymentKind rollbackOf supersededBy engineType createdBy deliveryGroupId
    changeSummary createdAt updatedAt
    failures { category summary detail actionHint observedAt }
    timeline { key label occurredAt detail }
    engineExecutionId engineExecutionUrl";

/// The fields a caller holding `token` may select.
pub fn fields_for(token: &str) -> &'static str {
    if token == ADMIN {
        ADMIN_FIELDS
    } else {
        FIELDS
    }
}

/// A deployment intent with a change summary.
pub fn intent(service: &str, version: &str, environment: &str) -> Value {
    json!({
        "service": service,
        "version": version,
        "environment": environment,
        "changeSummary": format!("ship {service} {version} to {environment}"),
    })
}

pub fn deploy_document(token: &str) -> String {
    format!(
        "mutation($intent: DeploymentIntentInput!, $key: String!) {{
            deploy(intent: $intent, idempotencyKey: $key) {{ {} }}
        }}",
        fields_for(token)
    )
}

/// `deploy(intent, key)` as the caller holding `token`.
pub async fn deploy_intent(app: &TestApp, token: &str, intent: Value, key: &str) -> GqlResponse {
    app.gql_as(Some(token), &deploy_document(token), json!({ "intent": intent, "key": key })).await
}

/// Deploys `version` of the demo service to sandbox.
pub async fn deploy(app: &TestApp, token: &str, version: &str, key: &str) -> GqlResponse {
    deploy_intent(app, token, intent(SERVICE, version, ENVIRONMENT), key).await
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

/// `rollback(deploymentId, changeSummary, key)` as the caller holding `token`.
pub async fn rollback(app: &TestApp, token: &str, deployment_id: &str, key: &str) -> GqlResponse {
    let document = format!(
        "mutation($id: ID!, $key: String!) {{
            rollback(deploymentId: $id, changeSummary: \"roll back {deployment_id}\", idempotencyKey: $key) {{ {} }}
        }}",
        fields_for(token)
    );
    app.gql_as(Some(token), &document, json!({ "id": deployment_id, "key": key })).await
}

/// `cancelDeployment(id, key)` as the caller holding `token`.
pub async fn cancel(app: &TestApp, token: &str, deployment_id: &str, key: &str) -> GqlResponse {
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

/// Reads `deployment(id)` as the admin until it is in `state`; panics with
/// the last answer when `within` runs out.
pub async fn wait_for_state(app: &TestApp, id: &str, state: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let record = read(app, ADMIN, id).await;
        if record["state"] == state {
            return record;
        }
        assert!(Instant::now() < deadline, "deployment {id} did not reach {state} within {within:?}: {record}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// Every deployment record in the store (read directly, not through the API).
pub async fn stored_records(app: &TestApp) -> Vec<DeploymentRecord> {
    let page = app
        .services
        .store()
        .deployments_page(&DeploymentFilter::default(), &GroupScope::All, &PageRequest::new(100, None))
        .await
        .expect("the store answers");
    assert!(!page.has_next_page, "more than 100 records in the store");
    page.items
}

/// The demo catalogue with the payments group's concurrency and daily
/// deploy quota replaced.
pub fn catalog_with_payments_guardrails(max_concurrent: u32, daily_deploy_quota: u32) -> String {
    const DEMO_GUARDRAILS: &str =
        "guardrails = { max_concurrent_deployments = 1, daily_deploy_quota = 25, daily_rollback_quota = 10 }";
    let demo = dxcp::catalog::DEMO_CATALOG;
    assert_eq!(demo.matches(DEMO_GUARDRAILS).count(), 1, "the demo catalogue's payments guardrails changed");
    demo.replacen(
        DEMO_GUARDRAILS,
        &format!(
            "guardrails = {{ max_concurrent_deployments = {max_concurrent}, \
             daily_deploy_quota = {daily_deploy_quota}, daily_rollback_quota = 10 }}"
        ),
        1,
    )
}

/// `http://127.0.0.1:<port>` of a port nothing listens on (bound, then freed).
pub fn unused_local_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free local port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
