//! The audit log: newest first with the id as tie-breaker, every filter,
//! and PLATFORM_ADMIN only.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use dxcp::domain::{
    audit::{AuditEvent, AuditOutcome, FieldChange},
    Role,
};
use serde_json::{json, Value};

use crate::harness::{
    graphql::{ids, walk_pages},
    seed::{self, base_time},
    TestApp, ADMIN, OBSERVER, OWNER,
};

/// Events that share one timestamp with the first of their run.
const SHARED_INSTANTS: [std::ops::RangeInclusive<usize>; 2] = [3..=9, 30..=33];

fn timestamp(i: usize) -> DateTime<Utc> {
    let t = SHARED_INSTANTS.iter().find(|run| run.contains(&i)).map_or(i, |run| *run.start());
    base_time() - Duration::seconds(t as i64 * 90) + Duration::microseconds((t as i64 * 131) % 1_000)
}

/// `n` events over several types, actors, targets, outcomes, groups and
/// services, newest first.
fn varied_audit(n: usize) -> Vec<AuditEvent> {
    (0..n)
        .map(|i| {
            let (event_type, target_type) = [
                ("DEPLOY_SUBMIT", "DEPLOYMENT"),
                ("ROLLBACK_SUBMIT", "DEPLOYMENT"),
                ("BUILD_REGISTER", "BUILD"),
                ("ADMIN_UPDATE", "DELIVERY_GROUP"),
            ][i % 4];
            let (actor, role) =
                [("admin", Role::PlatformAdmin), ("owner", Role::DeliveryOwner), ("ci", Role::CiPublisher)][i % 3];
            let mut event = seed::audit_event(event_type, actor, timestamp(i));
            event.actor_role = role;
            event.target_type = target_type.to_owned();
            event.target_id = format!("target-{}", i % 6);
            event.outcome = [AuditOutcome::Success, AuditOutcome::Denied, AuditOutcome::Failed][i % 5 % 3];
            event.delivery_group_id = [Some("payments"), Some("storefront"), None][i % 3].map(str::to_owned);
            event.service_name = [Some("ledger"), None, Some("checkout-web"), Some("payments-api")][i % 4]
                .map(str::to_owned)
                .filter(|_| i % 7 != 0);
            event.environment = Some(if i % 2 == 0 { "sandbox" } else { "staging" }.to_owned());
            event
        })
        .collect()
}

fn newest_first(events: &[&AuditEvent]) -> Vec<String> {
    let mut keys: Vec<(DateTime<Utc>, String)> = events.iter().map(|e| (e.timestamp, e.id.to_string())).collect();
    keys.sort_by(|a, b| b.cmp(a));
    keys.into_iter().map(|(_, id)| id).collect()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

const PAGE: &str = "query($filter: AuditEventFilter, $first: Int!, $after: String) {
    auditEvents(filter: $filter, first: $first, after: $after) {
        edges { cursor node { id eventType actorId actorRole targetType targetId timestamp outcome
                              deliveryGroupId serviceName environment } }
        nodes { id }
        pageInfo { hasNextPage endCursor }
    }
}";

/// Every page of the audit log as the admin, in the order served.
async fn walk(app: &TestApp, filter: Value, first: usize) -> Vec<Value> {
    walk_pages(app, ADMIN, (PAGE, "auditEvents"), filter, first, 200).await
}

#[tokio::test]
async fn the_audit_log_is_walked_newest_first_exactly_once_whatever_the_page_size() {
    let app = TestApp::spawn().await;
    let events = varied_audit(60);
    seed::insert_audit(&app, &events).await;
    let expected = newest_first(&events.iter().collect::<Vec<_>>());

    for first in [4, 7, 50] {
        let walked = ids(&walk(&app, Value::Null, first).await);

        assert_eq!(walked, expected, "page size {first}: timestamp desc, id desc, each event once");
    }
}

#[tokio::test]
async fn an_audit_event_is_returned_as_written() {
    let app = TestApp::spawn().await;
    let mut event = seed::audit_event("ADMIN_UPDATE", "admin", base_time());
    event.target_type = "DELIVERY_GROUP".into();
    event.target_id = "payments".into();
    event.delivery_group_id = Some("payments".into());
    event.summary = "raised the deploy quota".into();
    event.request_id = Some("req-42".into());
    event.changes = vec![
        FieldChange {
            field: "guardrails.dailyDeployQuota".into(),
            old_value: Some("25".into()),
            new_value: Some("30".into()),
        },
        FieldChange { field: "description".into(), old_value: None, new_value: Some("Payments".into()) },
    ];
    seed::insert_audit(&app, &[event.clone()]).await;

    let response = app
        .admin(
            "{ auditEvents { nodes { id eventType actorId actorRole targetType targetId timestamp outcome summary
                                    deliveryGroupId serviceName environment requestId
                                    changes { field oldValue newValue } } } }",
            json!({}),
        )
        .await;

    assert_eq!(
        response.ok()["auditEvents"]["nodes"],
        json!([{
            "id": event.id.to_string(), "eventType": "ADMIN_UPDATE", "actorId": "admin",
            "actorRole": "PLATFORM_ADMIN", "targetType": "DELIVERY_GROUP", "targetId": "payments",
            "timestamp": "2026-02-01T12:00:00Z", "outcome": "SUCCESS", "summary": "raised the deploy quota",
            "deliveryGroupId": "payments", "serviceName": null, "environment": null, "requestId": "req-42",
            "changes": [
                { "field": "guardrails.dailyDeployQuota", "oldValue": "25", "newValue": "30" },
                { "field": "description", "oldValue": null, "newValue": "Payments" },
            ],
        }])
    );
}

/// Checks that `filter` returns exactly the seeded events `matches` accepts,
/// newest first, and that it narrows the log at all.
async fn assert_filter(app: &TestApp, events: &[AuditEvent], filter: Value, matches: impl Fn(&AuditEvent) -> bool) {
    let expected: Vec<&AuditEvent> = events.iter().filter(|e| matches(e)).collect();
    assert!(!expected.is_empty() && expected.len() < events.len(), "{filter} must narrow the seeded log");

    let nodes = walk(app, filter.clone(), 100).await;

    assert_eq!(nodes.len(), expected.len(), "{filter}");
    assert_eq!(ids(&nodes), newest_first(&expected), "{filter}");
    for node in &nodes {
        let event = events.iter().find(|e| e.id.to_string() == node["id"]).expect("a seeded event");
        assert!(matches(event), "{filter} returned {node}");
    }
}

#[tokio::test]
async fn each_audit_filter_returns_exactly_the_matching_events() {
    let app = TestApp::spawn().await;
    let events = varied_audit(60);
    seed::insert_audit(&app, &events).await;
    let since = timestamp(30);
    let until = timestamp(5);

    assert_filter(&app, &events, json!({ "eventType": "BUILD_REGISTER" }), |e| e.event_type == "BUILD_REGISTER").await;
    assert_filter(&app, &events, json!({ "actorId": "owner" }), |e| e.actor_id == "owner").await;
    assert_filter(&app, &events, json!({ "targetType": "DEPLOYMENT" }), |e| e.target_type == "DEPLOYMENT").await;
    assert_filter(&app, &events, json!({ "targetId": "target-4" }), |e| e.target_id == "target-4").await;
    assert_filter(&app, &events, json!({ "outcome": "DENIED" }), |e| e.outcome == AuditOutcome::Denied).await;
    assert_filter(&app, &events, json!({ "deliveryGroupId": "storefront" }), |e| {
        e.delivery_group_id.as_deref() == Some("storefront")
    })
    .await;
    assert_filter(&app, &events, json!({ "serviceName": "ledger" }), |e| e.service_name.as_deref() == Some("ledger"))
        .await;
    // `since` includes its instant, `until` excludes it; both bounds sit on
    // runs of events sharing one timestamp.
    assert_filter(&app, &events, json!({ "since": rfc3339(since) }), |e| e.timestamp >= since).await;
    assert_filter(&app, &events, json!({ "until": rfc3339(until) }), |e| e.timestamp < until).await;
    assert_filter(
        &app,
        &events,
        json!({ "eventType": "DEPLOY_SUBMIT", "actorId": "admin", "since": rfc3339(timestamp(50)),
                "until": rfc3339(until) }),
        |e| {
            e.event_type == "DEPLOY_SUBMIT"
                && e.actor_id == "admin"
                && e.timestamp >= timestamp(50)
                && e.timestamp < until
        },
    )
    .await;
}

#[tokio::test]
async fn only_a_platform_admin_reads_the_audit_log() {
    let app = TestApp::spawn().await;
    seed::insert_audit(&app, &varied_audit(3)).await;

    for token in [OWNER, OBSERVER, crate::harness::CI] {
        let response = app.gql_as(Some(token), PAGE, json!({ "first": 10 })).await;

        assert_eq!(response.codes(), ["ROLE_FORBIDDEN"], "{token}: {}", response.body);
        assert!(response.data().is_null() || response.data()["auditEvents"].is_null(), "{token}");
    }
}

#[tokio::test]
async fn audit_paging_refuses_a_negative_first_and_a_foreign_cursor() {
    let app = TestApp::spawn().await;

    let negative = app.admin(PAGE, json!({ "first": -1 })).await;
    let garbage = app.admin(PAGE, json!({ "first": 10, "after": "not-a-cursor!" })).await;

    assert_eq!(negative.first_code().as_deref(), Some("INVALID_REQUEST"), "{}", negative.body);
    assert_eq!(garbage.first_code().as_deref(), Some("INVALID_REQUEST"), "{}", garbage.body);
}
