//! CORS (`DXCP_CORS_ORIGINS`): only the configured browser origins may call
//! the API, a preflight needs no token, and credentials are never allowed
//! (DXCP authenticates with a bearer header, not cookies).

use reqwest::{header::HeaderMap, Method, StatusCode};
use serde_json::json;

use crate::harness::{TestApp, OWNER};

const CONSOLE: &str = "https://console.example.com";
const OTHER: &str = "https://evil.example.net";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A browser's preflight for a POST with `Authorization` and `Content-Type`.
async fn preflight(app: &TestApp, origin: &str) -> (StatusCode, HeaderMap) {
    let response = app
        .client
        .request(Method::OPTIONS, app.graphql_url())
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .expect("preflight sent");
    (response.status(), response.headers().clone())
}

/// A real cross-origin POST as the owner.
async fn post_from(app: &TestApp, origin: &str) -> (StatusCode, HeaderMap, serde_json::Value) {
    let response = app
        .client
        .post(app.graphql_url())
        .header("origin", origin)
        .bearer_auth(OWNER)
        .json(&json!({ "query": "{ viewer { actorId } }" }))
        .send()
        .await
        .expect("request sent");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.expect("json body"))
}

async fn console_app() -> TestApp {
    TestApp::builder().env("DXCP_CORS_ORIGINS", CONSOLE).spawn().await
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_succeeds_without_a_token_and_allows_no_credentials() {
    let app = console_app().await;

    let (status, headers) = preflight(&app, CONSOLE).await;

    assert!(status.is_success(), "preflight answered {status}");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(CONSOLE));
    assert!(headers.get("access-control-allow-credentials").is_none(), "credentials are never allowed");
    let methods = header(&headers, "access-control-allow-methods").unwrap_or("").to_ascii_uppercase();
    assert!(methods.contains("POST"), "allowed methods: {methods}");
    let allowed = header(&headers, "access-control-allow-headers").unwrap_or("").to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "allowed headers: {allowed}");
}

#[tokio::test]
async fn a_request_from_an_allowed_origin_carries_the_cors_headers() {
    let app = console_app().await;

    let (status, headers, body) = post_from(&app, CONSOLE).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["viewer"]["actorId"], "owner");
    assert_eq!(header(&headers, "access-control-allow-origin"), Some(CONSOLE));
    assert!(headers.get("access-control-allow-credentials").is_none(), "credentials are never allowed");
    let exposed = header(&headers, "access-control-expose-headers").unwrap_or("").to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "the console can read the request id: {exposed:?}");
    let vary = headers.get_all("vary").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    assert!(vary.to_ascii_lowercase().contains("origin"), "caches key on the origin: {vary:?}");
}

#[tokio::test]
async fn a_preflight_and_a_request_from_another_origin_get_no_allow_origin() {
    let app = console_app().await;

    let (_, preflight_headers) = preflight(&app, OTHER).await;
    assert!(preflight_headers.get("access-control-allow-origin").is_none(), "{preflight_headers:?}");
    assert!(preflight_headers.get("access-control-allow-credentials").is_none());

    let (_, headers, _) = post_from(&app, OTHER).await;
    assert!(headers.get("access-control-allow-origin").is_none(), "{headers:?}");

    // A look-alike of the allowed origin is another origin.
    let (_, lookalike) = preflight(&app, "https://console.example.com.evil.example.net").await;
    assert!(lookalike.get("access-control-allow-origin").is_none(), "{lookalike:?}");
    let (_, http_scheme) = preflight(&app, "http://console.example.com").await;
    assert!(http_scheme.get("access-control-allow-origin").is_none(), "{http_scheme:?}");
}

#[tokio::test]
async fn without_dxcp_cors_origins_no_origin_is_allowed() {
    let app = TestApp::spawn().await;

    for origin in [CONSOLE, OTHER, "null"] {
        let (_, preflight_headers) = preflight(&app, origin).await;
        assert!(preflight_headers.get("access-control-allow-origin").is_none(), "{origin}: {preflight_headers:?}");
        let (status, headers, _) = post_from(&app, origin).await;
        assert_eq!(status, StatusCode::OK, "same-origin tools keep working");
        assert!(headers.get("access-control-allow-origin").is_none(), "{origin}: {headers:?}");
    }
}
