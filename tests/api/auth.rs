//! Authentication at the edge: 401 before parsing, request ids everywhere.

use serde_json::json;

use crate::harness::{TestApp, ADMIN};

const VIEWER: &str = "{ viewer { actorId role } }";

#[tokio::test]
async fn the_dev_admin_token_is_the_platform_admin() {
    let app = TestApp::spawn().await;
    let response = app.admin(VIEWER, json!({})).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.ok()["viewer"], json!({ "actorId": "admin", "role": "PLATFORM_ADMIN" }));
}

#[tokio::test]
async fn each_dev_token_maps_to_its_role() {
    let app = TestApp::spawn().await;
    for (token, actor, role) in [
        ("dxcp-dev-owner", "owner", "DELIVERY_OWNER"),
        ("dxcp-dev-observer", "observer", "OBSERVER"),
        ("dxcp-dev-ci", "ci", "CI_PUBLISHER"),
    ] {
        let response = app.gql_as(Some(token), VIEWER, json!({})).await;
        assert_eq!(response.ok()["viewer"], json!({ "actorId": actor, "role": role }));
    }
}

#[tokio::test]
async fn a_missing_malformed_or_unknown_token_gets_401_unauthorized() {
    let app = TestApp::spawn().await;
    for header in
        [None, Some("Bearer"), Some("Basic YWRtaW46YWRtaW4="), Some("Bearer not-a-token"), Some("dxcp-dev-admin")]
    {
        let mut request = app.client.post(app.graphql_url()).json(&json!({ "query": VIEWER }));
        if let Some(value) = header {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), 401, "header {header:?}");
        assert!(response.headers().contains_key("x-request-id"));
        let body: serde_json::Value = response.json().await.expect("json body");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHORIZED", "header {header:?}");
        assert!(body.get("data").is_none());
    }
}

#[tokio::test]
async fn authentication_comes_before_parsing() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.graphql_url())
        .header("content-type", "application/json")
        .body("{ this is not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_client_request_id_is_echoed_on_the_response_and_in_errors() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.graphql_url())
        .bearer_auth("dxcp-dev-observer")
        .header("x-request-id", "trace-123")
        .json(&json!({ "query": "{ auditEvents { nodes { id } } }" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.headers()["x-request-id"], "trace-123");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "ROLE_FORBIDDEN");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "trace-123");
}

#[tokio::test]
async fn a_request_id_is_generated_when_the_client_sends_none() {
    let app = TestApp::spawn().await;
    let response = app.gql_as(Some(ADMIN), VIEWER, json!({})).await;
    let id = response.headers["x-request-id"].to_str().expect("ascii");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "generated id {id}");
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let app = TestApp::spawn().await;
    let health = app.client.get(format!("{}/healthz", app.address)).send().await.expect("sent");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = app.client.get(format!("{}/readyz", app.address)).send().await.expect("sent");
    assert_eq!(ready.status(), 200);
}
