//! Deployment history: keyset paging, filters, single records and the
//! delivery-group scope of owners.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use dxcp::domain::deployment::{DeploymentKind, DeploymentOutcome, DeploymentRecord, DeploymentState};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{
    graphql::{ids, walk_pages},
    seed::{self, base_time},
    TestApp, ADMIN, OWNER,
};

const SERVICES: [&str; 4] = ["payments-api", "ledger", "checkout-web", "catalog-api"];

/// Records that share one `createdAt` with the first of their run, so the
/// id has to break ties; the runs straddle page boundaries of 7, 20 and 100.
const SHARED_INSTANTS: [std::ops::RangeInclusive<usize>; 4] = [5..=6, 38..=42, 100..=111, 198..=202];

fn created_at(i: usize) -> DateTime<Utc> {
    let t = SHARED_INSTANTS.iter().find(|run| run.contains(&i)).map_or(i, |run| *run.start());
    // Sub-second parts on some instants: stored precision is microseconds.
    let micros = if t % 3 == 0 { 0 } else { (t as i64 * 7_919) % 1_000_000 };
    base_time() - Duration::minutes(t as i64) + Duration::microseconds(micros)
}

/// `n` finished records spread over every service, environment, state,
/// outcome and kind; the newest success of each service and environment is
/// its current one (outcome SUCCEEDED), older ones are SUPERSEDED.
fn varied_history(n: usize) -> Vec<DeploymentRecord> {
    let mut records: Vec<DeploymentRecord> = (0..n)
        .map(|i| {
            let service = SERVICES[i % SERVICES.len()];
            let environment = if i % 3 == 0 { "staging" } else { "sandbox" };
            let (state, outcome) = match i % 5 {
                0 => (DeploymentState::Failed, DeploymentOutcome::Failed),
                1 => (DeploymentState::Canceled, DeploymentOutcome::Canceled),
                2 => (DeploymentState::RolledBack, DeploymentOutcome::RolledBack),
                _ => (DeploymentState::Succeeded, DeploymentOutcome::Superseded),
            };
            let mut r = seed::finished(service, environment, created_at(i), state, outcome);
            r.version = format!("1.{}.0", i % 10);
            if i % 7 == 0 {
                r.kind = DeploymentKind::Rollback;
                r.rollback_of = Some(Uuid::new_v4());
            }
            r
        })
        .collect();
    // `records` is newest first, so the first success seen is the current one.
    let mut current: Vec<(String, String)> = Vec::new();
    for r in records.iter_mut().filter(|r| r.state == DeploymentState::Succeeded) {
        let key = (r.service.clone(), r.environment.clone());
        if !current.contains(&key) {
            r.outcome = Some(DeploymentOutcome::Succeeded);
            current.push(key);
        }
    }
    records
}

/// Ids in the contract's order: createdAt descending, then id descending.
fn newest_first(records: &[&DeploymentRecord]) -> Vec<String> {
    let mut sorted: Vec<(DateTime<Utc>, String)> = records.iter().map(|r| (r.created_at, r.id.to_string())).collect();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.into_iter().map(|(_, id)| id).collect()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

const PAGE: &str = "query($filter: DeploymentFilter, $first: Int!, $after: String) {
    deployments(filter: $filter, first: $first, after: $after) {
        edges { cursor node { id service environment state outcome deploymentKind deliveryGroupId createdAt } }
        nodes { id }
        pageInfo { hasNextPage endCursor }
    }
}";

/// Walks every page of `deployments` as `token` (`walk_pages`).
async fn walk(app: &TestApp, token: &str, filter: Value, first: usize) -> Vec<Value> {
    walk_pages(app, token, (PAGE, "deployments"), filter, first, 300).await
}

#[tokio::test]
async fn a_history_of_250_is_walked_exactly_once_in_order_whatever_the_page_size() {
    let app = TestApp::spawn().await;
    let history = varied_history(250);
    seed::insert(&app, &history).await;
    let expected = newest_first(&history.iter().collect::<Vec<_>>());

    for first in [7, 20, 100] {
        let walked = ids(&walk(&app, ADMIN, Value::Null, first).await);

        assert_eq!(walked.len(), 250, "page size {first}");
        assert_eq!(walked, expected, "page size {first}: createdAt desc, id desc, each record once");
    }
}

#[tokio::test]
async fn first_is_capped_at_100() {
    let app = TestApp::spawn().await;
    seed::insert(&app, &varied_history(150)).await;

    let response = app.admin(PAGE, json!({ "first": 500 })).await;

    let connection = &response.ok()["deployments"];
    assert_eq!(connection["edges"].as_array().expect("edges").len(), 100);
    assert_eq!(connection["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn a_negative_first_is_an_invalid_request() {
    let app = TestApp::spawn().await;

    let response = app.admin(PAGE, json!({ "first": -1 })).await;

    assert_eq!(response.first_code().as_deref(), Some("INVALID_REQUEST"), "{}", response.body);
    assert_eq!(response.data()["deployments"], Value::Null);
}

#[tokio::test]
async fn a_cursor_the_api_did_not_issue_is_an_invalid_request() {
    let app = TestApp::spawn().await;
    seed::insert(&app, &varied_history(5)).await;

    for garbage in ["not-a-cursor!", "bm9kZWxpbWl0ZXI", "", "MjAyNi0wMi0wMVQxMjowMDowMFp8"] {
        let response = app.admin(PAGE, json!({ "first": 5, "after": garbage })).await;

        assert_eq!(response.first_code().as_deref(), Some("INVALID_REQUEST"), "after {garbage:?}: {}", response.body);
        assert_eq!(response.data()["deployments"], Value::Null);
    }
}

/// Checks that `filter` returns exactly the seeded records `matches`
/// accepts, newest first, and that it narrows the history at all.
async fn assert_filter(app: &TestApp, history: &[DeploymentRecord], filter: Value, matches: impl Fn(&Value) -> bool) {
    let expected: Vec<&DeploymentRecord> = history.iter().filter(|r| matches(&node_of(r))).collect();
    assert!(!expected.is_empty() && expected.len() < history.len(), "{filter} must narrow the seeded history");

    let nodes = walk(app, ADMIN, filter.clone(), 100).await;

    for node in &nodes {
        assert!(matches(node), "{filter} returned a record it does not match: {node}");
    }
    assert_eq!(nodes.len(), expected.len(), "{filter}");
    assert_eq!(ids(&nodes), newest_first(&expected), "{filter}");
}

/// A seeded record as the API presents it, for the filter predicates.
fn node_of(r: &DeploymentRecord) -> Value {
    json!({
        "id": r.id.to_string(),
        "service": r.service,
        "environment": r.environment,
        "state": r.state.as_str(),
        "outcome": r.outcome.map(|o| o.as_str()),
        "deploymentKind": r.kind.as_str(),
        "deliveryGroupId": r.delivery_group_id,
        "createdAt": rfc3339(r.created_at),
    })
}

fn created(node: &Value) -> DateTime<Utc> {
    node["createdAt"].as_str().expect("createdAt").parse().expect("RFC 3339 createdAt")
}

#[tokio::test]
async fn each_deployment_filter_returns_exactly_the_matching_records() {
    let app = TestApp::spawn().await;
    let history = varied_history(120);
    seed::insert(&app, &history).await;
    let boundary_after = created_at(40);
    let boundary_before = created_at(100);

    assert_filter(&app, &history, json!({ "service": "ledger" }), |n| n["service"] == "ledger").await;
    assert_filter(&app, &history, json!({ "environment": "staging" }), |n| n["environment"] == "staging").await;
    assert_filter(&app, &history, json!({ "state": "CANCELED" }), |n| n["state"] == "CANCELED").await;
    assert_filter(&app, &history, json!({ "state": "SUCCEEDED" }), |n| n["state"] == "SUCCEEDED").await;
    assert_filter(&app, &history, json!({ "outcome": "SUCCEEDED" }), |n| n["outcome"] == "SUCCEEDED").await;
    assert_filter(&app, &history, json!({ "outcome": "SUPERSEDED" }), |n| n["outcome"] == "SUPERSEDED").await;
    assert_filter(&app, &history, json!({ "deploymentKind": "ROLLBACK" }), |n| n["deploymentKind"] == "ROLLBACK").await;
    assert_filter(&app, &history, json!({ "deliveryGroupId": "storefront" }), |n| n["deliveryGroupId"] == "storefront")
        .await;
    assert_filter(&app, &history, json!({ "createdAfter": rfc3339(boundary_after) }), |n| created(n) > boundary_after)
        .await;
    assert_filter(&app, &history, json!({ "createdBefore": rfc3339(boundary_before) }), |n| {
        created(n) < boundary_before
    })
    .await;
    assert_filter(
        &app,
        &history,
        json!({
            "service": "payments-api",
            "environment": "sandbox",
            "state": "SUCCEEDED",
            "deploymentKind": "ROLL_FORWARD",
            "deliveryGroupId": "payments",
            "createdAfter": rfc3339(created_at(110)),
            "createdBefore": rfc3339(created_at(2)),
        }),
        |n| {
            n["service"] == "payments-api"
                && n["environment"] == "sandbox"
                && n["state"] == "SUCCEEDED"
                && n["deploymentKind"] == "ROLL_FORWARD"
                && created(n) > created_at(110)
                && created(n) < created_at(2)
        },
    )
    .await;
}

#[tokio::test]
async fn outcome_succeeded_lists_one_current_success_per_service_and_environment() {
    let app = TestApp::spawn().await;
    let history = varied_history(120);
    seed::insert(&app, &history).await;

    let nodes = walk(&app, ADMIN, json!({ "outcome": "SUCCEEDED" }), 100).await;

    let mut pairs: Vec<String> = nodes
        .iter()
        .map(|n| format!("{}/{}", n["service"].as_str().unwrap_or("?"), n["environment"].as_str().unwrap_or("?")))
        .collect();
    pairs.sort();
    let total = pairs.len();
    pairs.dedup();
    assert_eq!(pairs.len(), total, "at most one current success per service and environment");
    assert_eq!(total, SERVICES.len() * 2, "every service succeeded in both environments");
}

const ONE: &str = "query($id: ID!) {
    deployment(id: $id) {
        id service environment version recipeId recipeRevision effectiveBehaviorSummary state deploymentKind
        outcome changeSummary createdAt updatedAt deliveryGroupId createdBy rollbackOf supersededBy engineType
        failures { category summary detail actionHint observedAt }
        timeline { key label occurredAt detail }
    }
}";

#[tokio::test]
async fn deployment_by_id_returns_the_stored_record_with_failures_and_timeline() {
    let app = TestApp::spawn().await;
    let mut target = seed::failed("ledger", "staging", base_time());
    target.version = "2.3.4".into();
    target.change_summary = "fix the rounding".into();
    seed::insert(&app, &[target.clone(), seed::succeeded("ledger", "staging", base_time() - Duration::hours(1))]).await;

    let response = app.observer(ONE, json!({ "id": target.id.to_string() })).await;

    assert_eq!(
        response.ok()["deployment"],
        json!({
            "id": target.id.to_string(), "service": "ledger", "environment": "staging", "version": "2.3.4",
            "recipeId": "standard", "recipeRevision": 1,
            "effectiveBehaviorSummary": "Deploys the version in one pass.",
            "state": "FAILED", "deploymentKind": "ROLL_FORWARD", "outcome": "FAILED",
            "changeSummary": "fix the rounding",
            "createdAt": "2026-02-01T12:00:00Z", "updatedAt": "2026-02-01T12:00:00Z",
            "deliveryGroupId": "payments", "createdBy": "owner", "rollbackOf": null, "supersededBy": null,
            "engineType": "SIMULATED",
            "failures": [{
                "category": "APP", "summary": "Health check failed", "detail": "container exited with code 1",
                "actionHint": "Check the application logs", "observedAt": "2026-02-01T12:00:00Z",
            }],
            "timeline": [
                { "key": "SUBMITTED", "label": "Submitted", "occurredAt": "2026-02-01T12:00:00Z", "detail": null },
                { "key": "ENGINE_ACCEPTED", "label": "Engine accepted",
                  "occurredAt": "2026-02-01T12:00:00.005Z", "detail": null },
            ],
        })
    );
}

#[tokio::test]
async fn deployment_by_an_unknown_or_malformed_id_is_null() {
    let app = TestApp::spawn().await;
    seed::insert(&app, &varied_history(3)).await;

    for id in [Uuid::new_v4().to_string(), "not-a-uuid".to_owned(), "".to_owned()] {
        let response = app.admin(ONE, json!({ "id": id })).await;

        assert_eq!(response.data()["deployment"], Value::Null, "id {id:?}: {}", response.body);
        assert!(response.codes().iter().all(|c| c == "NOT_FOUND"), "id {id:?}: {}", response.body);
    }
}

const SCOPED_TOKENS: &str =
    "dxcp-dev-admin=admin:PLATFORM_ADMIN,dxcp-dev-owner=owner:DELIVERY_OWNER,outsider-token=outsider:DELIVERY_OWNER";

#[tokio::test]
async fn an_owner_in_no_group_sees_no_deployments_and_is_refused_a_record_by_id() {
    let app = TestApp::builder().env("DXCP_DEV_TOKENS", SCOPED_TOKENS).spawn().await;
    let history = varied_history(30);
    seed::insert(&app, &history).await;
    let payments_record = history.iter().find(|r| r.delivery_group_id == "payments").expect("a payments record");

    let outsider_list = walk(&app, "outsider-token", Value::Null, 20).await;
    let outsider_one = app.gql_as(Some("outsider-token"), ONE, json!({ "id": payments_record.id.to_string() })).await;
    let member_list = walk(&app, OWNER, Value::Null, 20).await;

    assert_eq!(outsider_list, Vec::<Value>::new());
    assert_eq!(outsider_one.first_code().as_deref(), Some("DELIVERY_GROUP_SCOPE_REQUIRED"), "{}", outsider_one.body);
    assert_eq!(outsider_one.data()["deployment"], Value::Null);
    assert_eq!(ids(&member_list), newest_first(&history.iter().collect::<Vec<_>>()), "owner is in both groups");
}

#[tokio::test]
async fn an_owner_in_one_group_sees_only_that_groups_deployments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.toml");
    let storefront_members = "owner = \"team-storefront\"\nmembers = [\"owner\"]";
    assert!(dxcp::catalog_file::DEMO_CATALOG.contains(storefront_members), "the demo catalogue changed shape");
    let text = dxcp::catalog_file::DEMO_CATALOG
        .replace(storefront_members, "owner = \"team-storefront\"\nmembers = [\"someone-else\"]");
    std::fs::write(&path, text).expect("catalogue written");
    let app = TestApp::builder().env("DXCP_CATALOG", path.display().to_string()).spawn().await;
    let history = varied_history(40);
    seed::insert(&app, &history).await;
    let payments: Vec<&DeploymentRecord> = history.iter().filter(|r| r.delivery_group_id == "payments").collect();
    let storefront_record = history.iter().find(|r| r.delivery_group_id == "storefront").expect("a storefront record");

    let listed = walk(&app, OWNER, Value::Null, 20).await;
    let storefront_only = walk(&app, OWNER, json!({ "deliveryGroupId": "storefront" }), 20).await;
    let refused = app.owner(ONE, json!({ "id": storefront_record.id.to_string() })).await;
    let viewer = app.owner("{ viewer { deliveryGroups { id } } }", json!({})).await;

    assert_eq!(ids(&listed), newest_first(&payments));
    assert_eq!(storefront_only, Vec::<Value>::new());
    assert_eq!(refused.first_code().as_deref(), Some("DELIVERY_GROUP_SCOPE_REQUIRED"), "{}", refused.body);
    assert_eq!(viewer.ok()["viewer"]["deliveryGroups"], json!([{ "id": "payments" }]));
}
