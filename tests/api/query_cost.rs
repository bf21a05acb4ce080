//! A page of deployments with failures and timelines costs a constant,
//! small number of SQL statements (DataLoaders, no N+1), for every role.
//!
//! The connection resolver prefetches a page's failures and timelines in one
//! batch each (src/graphql/loaders.rs). Besides the page itself, a request
//! may re-read the system settings (rate limits) at most once per 500 ms
//! per process; the size comparison takes the cheapest of three runs so
//! that periodic read does not blur it, while the bound holds for any run.

use chrono::Duration;
use serde_json::json;

use crate::harness::{
    seed::{self, base_time},
    TestApp, ADMIN, OWNER,
};

/// Most statements one history page may cost, whatever its size.
const MAX_STATEMENTS_PER_PAGE: u64 = 5;

const PAGE: &str = "query($first: Int!) {
    deployments(first: $first) {
        nodes {
            id service state deliveryGroupId
            failures { category summary detail actionHint observedAt }
            timeline { key label occurredAt detail }
        }
        pageInfo { hasNextPage endCursor }
    }
}";

/// 120 records across both groups, every other one FAILED (with a failure),
/// each with a two-event timeline.
async fn seeded_app() -> TestApp {
    let app = TestApp::spawn().await;
    let services = ["payments-api", "ledger", "checkout-web", "catalog-api"];
    let records: Vec<_> = (0..120)
        .map(|i| {
            let at = base_time() - Duration::minutes(i as i64);
            let service = services[i % services.len()];
            if i % 2 == 0 {
                seed::failed(service, "sandbox", at)
            } else {
                seed::record(service, "sandbox", seed::group_of(service), at)
            }
        })
        .collect();
    seed::insert(&app, &records).await;
    app
}

/// Statements the server ran to answer one page of `first` as `token`.
async fn statements_for_page(app: &TestApp, token: &str, first: usize) -> u64 {
    let before = app.statements();
    let response = app.gql_as(Some(token), PAGE, json!({ "first": first })).await;
    let after = app.statements();

    let nodes = response.ok()["deployments"]["nodes"].as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), first, "{token}: a full page");
    for node in &nodes {
        let failures = node["failures"].as_array().expect("failures").len();
        let expected_failures = usize::from(node["state"] == "FAILED");
        assert_eq!(failures, expected_failures, "{token}: failures of {}", node["id"]);
        assert_eq!(node["timeline"].as_array().expect("timeline").len(), 2, "{token}: timeline of {}", node["id"]);
    }
    after - before
}

#[tokio::test]
async fn a_page_of_100_with_failures_and_timelines_costs_at_most_5_statements_for_the_admin() {
    let app = seeded_app().await;

    let statements = statements_for_page(&app, ADMIN, 100).await;

    assert!(statements <= MAX_STATEMENTS_PER_PAGE, "the admin's page of 100 ran {statements} statements");
    assert!(statements > 0, "the counter sees the server's statements");
}

#[tokio::test]
async fn a_page_of_100_with_failures_and_timelines_costs_at_most_5_statements_for_an_owner() {
    let app = seeded_app().await;

    let statements = statements_for_page(&app, OWNER, 100).await;

    assert!(statements <= MAX_STATEMENTS_PER_PAGE, "the owner's page of 100 ran {statements} statements");
}

#[tokio::test]
async fn a_page_of_10_costs_as_many_statements_as_a_page_of_100() {
    let app = seeded_app().await;

    for token in [ADMIN, OWNER] {
        let mut small = u64::MAX;
        let mut large = u64::MAX;
        for _ in 0..3 {
            small = small.min(statements_for_page(&app, token, 10).await);
            large = large.min(statements_for_page(&app, token, 100).await);
        }

        assert_eq!(small, large, "{token}: the cost does not grow with the page size");
    }
}
