//! `registerBuild` (DESIGN §2 Build, §3 CI_PUBLISHER, §10 Builds): who may
//! register, what a well-formed build is, replay versus conflict, the daily
//! quota per publisher, and that a registered build becomes deployable.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use dxcp::domain::{
    audit::{AuditEvent, AuditOutcome},
    Role,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{
    storage::{audit_events, stored_build},
    GqlResponse, TestApp, ADMIN, CI, OWNER,
};

const BUILD_FIELDS: &str = "service version artifactRef sha256 sizeBytes contentType gitSha gitBranch \
    ciProvider ciRunId builtAt repo registeredAt registeredBy";

/// Dev tokens with a CI identity (`rogue`) that is not on the allowlist.
const TOKENS_WITH_ROGUE: &str = "dxcp-dev-admin=admin:PLATFORM_ADMIN,dxcp-dev-owner=owner:DELIVERY_OWNER,\
dxcp-dev-ci=ci:CI_PUBLISHER,rogue-token=rogue:CI_PUBLISHER";
const ROGUE: &str = "rogue-token";

/// Dev tokens with a second CI identity (`ci2`).
const TOKENS_WITH_SECOND_CI: &str =
    "dxcp-dev-admin=admin:PLATFORM_ADMIN,dxcp-dev-owner=owner:DELIVERY_OWNER,dxcp-dev-ci=ci:CI_PUBLISHER,\
ci2-token=ci2:CI_PUBLISHER";
const CI2: &str = "ci2-token";

fn key() -> String {
    format!("build-{}", Uuid::new_v4())
}

/// A deterministic 64-hex digest for a (service, version, salt).
fn digest(parts: &[&str]) -> String {
    let mut out = String::new();
    for round in 0..4u8 {
        let mut hasher = DefaultHasher::new();
        round.hash(&mut hasher);
        parts.hash(&mut hasher);
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out
}

/// A well-formed build of `service` at `version`.
fn build_input(service: &str, version: &str) -> Value {
    json!({
        "service": service,
        "version": version,
        "artifactRef": format!("s3://ci-artifacts/{service}/{version}.zip"),
        "sha256": digest(&[service, version]),
        "sizeBytes": 4096,
        "contentType": "application/zip",
        "gitSha": &digest(&[service, version, "git"])[..40],
        "gitBranch": "main",
        "ciProvider": "github",
        "ciRunId": "4242",
        "builtAt": "2026-03-01T10:00:00Z",
        "repo": format!("github.com/example/{service}"),
    })
}

fn with(mut input: Value, field: &str, value: Value) -> Value {
    input[field] = value;
    input
}

async fn register(app: &TestApp, token: &str, input: &Value, key: &str) -> GqlResponse {
    let document = format!(
        "mutation($input: BuildInput!, $key: String!) {{ registerBuild(input: $input, idempotencyKey: $key) {{ {BUILD_FIELDS} }} }}"
    );
    app.gql_as(Some(token), &document, json!({ "input": input, "key": key })).await
}

/// The build a successful registration answered with.
fn registered(response: &GqlResponse) -> Value {
    let build = response.ok()["registerBuild"].clone();
    assert!(build.is_object(), "registerBuild answered no build: {}", response.body);
    build
}

/// Asserts a refusal: a null field and `code` as the first error.
fn assert_refused(response: &GqlResponse, code: &str, what: &str) {
    assert_eq!(response.first_code().as_deref(), Some(code), "{what}: {}", response.body);
    assert!(response.data().is_null() || response.data()["registerBuild"].is_null(), "{what}: {}", response.body);
}

async fn build_register_events(app: &TestApp) -> Vec<AuditEvent> {
    audit_events(app).await.into_iter().filter(|e| e.event_type == "BUILD_REGISTER").collect()
}

/// Asserts that exactly one DENIED BUILD_REGISTER event of `actor` carries
/// `code` for `service@version`, among the events written after `before`.
async fn assert_one_denial(app: &TestApp, before: &[AuditEvent], actor: &str, role: Role, code: &str, target: &str) {
    let known: Vec<Uuid> = before.iter().map(|e| e.id).collect();
    let new: Vec<AuditEvent> = audit_events(app).await.into_iter().filter(|e| !known.contains(&e.id)).collect();
    assert_eq!(new.len(), 1, "one audit event per refusal ({code}): {new:#?}");
    let event = &new[0];
    assert_eq!(event.event_type, "BUILD_REGISTER");
    assert_eq!(event.outcome, AuditOutcome::Denied);
    assert_eq!(event.actor_id, actor);
    assert_eq!(event.actor_role, role);
    assert_eq!(event.target_type, "BUILD");
    assert_eq!(event.target_id, target);
    assert!(event.summary.contains(code), "the summary names {code}: {}", event.summary);
}

#[tokio::test]
async fn an_allowlisted_ci_publisher_registers_a_build_and_one_build_register_event_is_audited() {
    let app = TestApp::spawn().await;
    let input = build_input("payments-api", "2.0.0");

    let response = register(&app, CI, &input, &key()).await;

    let build = registered(&response);
    for field in [
        "service",
        "version",
        "artifactRef",
        "sha256",
        "sizeBytes",
        "contentType",
        "gitSha",
        "gitBranch",
        "ciProvider",
        "ciRunId",
        "repo",
    ] {
        assert_eq!(build[field], input[field], "{field} is answered as registered");
    }
    assert_eq!(build["registeredBy"], "ci");
    let registered_at = build["registeredAt"].as_str().expect("registeredAt");
    assert!(registered_at.ends_with('Z'), "RFC 3339 in UTC: {registered_at}");
    assert!(stored_build(&app, "payments-api", "2.0.0").await.is_some(), "the build is stored");
    let events = build_register_events(&app).await;
    assert_eq!(events.len(), 1, "one BUILD_REGISTER event: {events:#?}");
    let event = &events[0];
    assert_eq!(event.outcome, AuditOutcome::Success);
    assert_eq!(event.target_type, "BUILD");
    assert_eq!(event.target_id, "payments-api@2.0.0");
    assert_eq!(event.actor_id, "ci");
    assert_eq!(event.actor_role, Role::CiPublisher);
    assert_eq!(event.service_name.as_deref(), Some("payments-api"));
}

#[tokio::test]
async fn the_registered_build_is_listed_by_the_builds_query() {
    let app = TestApp::spawn().await;
    let build = registered(&register(&app, CI, &build_input("ledger", "2.1.0"), &key()).await);

    let response = app
        .ci(
            "query { builds(service: \"ledger\", first: 100) { nodes { version registeredAt registeredBy sha256 } } }",
            json!({}),
        )
        .await;

    let nodes = response.ok()["builds"]["nodes"].as_array().expect("nodes").clone();
    let listed = nodes.iter().find(|n| n["version"] == "2.1.0").expect("the new build is listed");
    assert_eq!(listed["registeredAt"], build["registeredAt"]);
    assert_eq!(listed["registeredBy"], "ci");
    assert_eq!(listed["sha256"], build["sha256"]);
}

#[tokio::test]
async fn owners_admins_and_ci_identities_outside_the_allowlist_get_ci_only_and_each_refusal_is_audited_denied() {
    let app = TestApp::builder().env("DXCP_DEV_TOKENS", TOKENS_WITH_ROGUE).spawn().await;
    let callers = [
        (OWNER, "owner", Role::DeliveryOwner, "3.0.0"),
        (ADMIN, "admin", Role::PlatformAdmin, "3.0.1"),
        (ROGUE, "rogue", Role::CiPublisher, "3.0.2"),
    ];

    for (token, actor, role, version) in callers {
        let before = audit_events(&app).await;

        let response = register(&app, token, &build_input("payments-api", version), &key()).await;

        assert_refused(&response, "CI_ONLY", actor);
        assert!(stored_build(&app, "payments-api", version).await.is_none(), "{actor}'s build is not stored");
        assert_one_denial(&app, &before, actor, role, "CI_ONLY", &format!("payments-api@{version}")).await;
    }
}

#[tokio::test]
async fn a_publisher_removed_from_the_allowlist_gets_ci_only_at_once() {
    let app = TestApp::spawn().await;
    registered(&register(&app, CI, &build_input("payments-api", "2.0.0"), &key()).await);
    let settings = app
        .admin(
            "mutation($key: String!) {
                updateSystemSettings(input: { ciPublishers: [] }, idempotencyKey: $key) { ciPublishers }
            }",
            json!({ "key": key() }),
        )
        .await;
    assert_eq!(settings.ok()["updateSystemSettings"]["ciPublishers"], json!([]));
    let before = audit_events(&app).await;

    let response = register(&app, CI, &build_input("payments-api", "2.0.1"), &key()).await;

    assert_refused(&response, "CI_ONLY", "a publisher no longer on the allowlist");
    assert!(stored_build(&app, "payments-api", "2.0.1").await.is_none());
    assert_one_denial(&app, &before, "ci", Role::CiPublisher, "CI_ONLY", "payments-api@2.0.1").await;
}

#[tokio::test]
async fn a_malformed_version_is_refused_with_invalid_version_and_audited_denied() {
    let app = TestApp::spawn().await;

    for version in ["2.0", "v2.0.0", "2.0.0-", "2.0.0+build"] {
        let before = audit_events(&app).await;
        let input = build_input("payments-api", version);

        let response = register(&app, CI, &input, &key()).await;

        assert_refused(&response, "INVALID_VERSION", version);
        assert!(stored_build(&app, "payments-api", version).await.is_none());
        assert_one_denial(
            &app,
            &before,
            "ci",
            Role::CiPublisher,
            "INVALID_VERSION",
            &format!("payments-api@{version}"),
        )
        .await;
    }
}

#[tokio::test]
async fn each_malformed_artifact_fact_is_refused_with_invalid_artifact_and_audited_denied() {
    let app = TestApp::spawn().await;
    let base = build_input("payments-api", "2.0.0");
    let sha_63 = base["sha256"].as_str().expect("sha")[..63].to_owned();
    let sha_non_hex = format!("{}g", &sha_63);
    let cases = [
        ("artifactRef over https", with(base.clone(), "artifactRef", json!("https://bucket/key.zip"))),
        ("artifactRef without a key", with(base.clone(), "artifactRef", json!("s3://bucket"))),
        ("artifactRef with an empty key", with(base.clone(), "artifactRef", json!("s3://bucket/"))),
        ("artifactRef without a bucket", with(base.clone(), "artifactRef", json!("s3:///key.zip"))),
        ("sha256 of 63 characters", with(base.clone(), "sha256", json!(sha_63))),
        ("sha256 with a non-hex character", with(base.clone(), "sha256", json!(sha_non_hex))),
        ("sizeBytes 0", with(base.clone(), "sizeBytes", json!(0))),
        ("sizeBytes 209715201", with(base.clone(), "sizeBytes", json!(209_715_201))),
        ("contentType text/plain", with(base.clone(), "contentType", json!("text/plain"))),
    ];

    for (what, input) in cases {
        let before = audit_events(&app).await;

        let response = register(&app, CI, &input, &key()).await;

        assert_refused(&response, "INVALID_ARTIFACT", what);
        assert!(stored_build(&app, "payments-api", "2.0.0").await.is_none(), "{what}: nothing is stored");
        assert_one_denial(&app, &before, "ci", Role::CiPublisher, "INVALID_ARTIFACT", "payments-api@2.0.0").await;
    }
}

#[tokio::test]
async fn an_unknown_service_is_refused_with_service_not_allowlisted_and_audited_denied() {
    let app = TestApp::spawn().await;
    let before = audit_events(&app).await;

    let response = register(&app, CI, &build_input("ghost-service", "1.0.0"), &key()).await;

    assert_refused(&response, "SERVICE_NOT_ALLOWLISTED", "unknown service");
    assert!(stored_build(&app, "ghost-service", "1.0.0").await.is_none());
    assert_one_denial(&app, &before, "ci", Role::CiPublisher, "SERVICE_NOT_ALLOWLISTED", "ghost-service@1.0.0").await;
}

#[tokio::test]
async fn gzip_and_x_gzip_content_types_and_the_size_bounds_are_accepted() {
    let app = TestApp::spawn().await;
    let cases = [
        ("2.0.0", "contentType", json!("application/gzip")),
        ("2.0.1", "contentType", json!("application/x-gzip")),
        ("2.0.2", "sizeBytes", json!(1)),
        ("2.0.3", "sizeBytes", json!(209_715_200)),
    ];

    for (version, field, value) in cases {
        let input = with(build_input("payments-api", version), field, value.clone());

        let response = register(&app, CI, &input, &key()).await;

        let build = registered(&response);
        assert_eq!(build[field], value, "{field} {value} is accepted and kept");
        let stored = stored_build(&app, "payments-api", version).await.expect("the build is stored");
        assert_eq!(stored.registration.version, version);
    }
    assert_eq!(build_register_events(&app).await.len(), 4, "one BUILD_REGISTER event per new build");
}

#[tokio::test]
async fn registering_the_same_build_again_returns_the_stored_build_whatever_the_key_and_audits_nothing_new() {
    let app = TestApp::spawn().await;
    let input = build_input("payments-api", "2.0.0");
    let first_key = key();
    let original = registered(&register(&app, CI, &input, &first_key).await);
    tokio::time::sleep(Duration::from_millis(20)).await;

    let with_new_key = register(&app, CI, &input, &key()).await;
    let with_same_key = register(&app, CI, &input, &first_key).await;
    let with_other_run = register(&app, CI, &with(input.clone(), "ciRunId", json!("4243")), &key()).await;

    for (what, response) in
        [("a new key", with_new_key), ("the same key", with_same_key), ("another run", with_other_run)]
    {
        let replayed = registered(&response);
        assert_eq!(replayed, original, "{what}: the stored build is returned unchanged");
        assert_eq!(replayed["registeredAt"], original["registeredAt"], "{what}: the same registeredAt");
    }
    let events = build_register_events(&app).await;
    assert_eq!(events.len(), 1, "a replay writes no audit event: {events:#?}");
}

#[tokio::test]
async fn a_different_sha256_git_sha_or_artifact_ref_for_a_registered_version_is_a_build_registration_conflict() {
    let app = TestApp::spawn().await;
    let input = build_input("payments-api", "2.0.0");
    let original = registered(&register(&app, CI, &input, &key()).await);
    let cases = [
        ("sha256", json!(digest(&["something", "else"]))),
        ("gitSha", json!("ffffffffffffffffffffffffffffffffffffffff")),
        ("artifactRef", json!("s3://ci-artifacts/payments-api/2.0.0-rebuilt.zip")),
    ];

    for (field, value) in cases {
        let before = audit_events(&app).await;

        let response = register(&app, CI, &with(input.clone(), field, value), &key()).await;

        assert_refused(&response, "BUILD_REGISTRATION_CONFLICT", field);
        let stored = stored_build(&app, "payments-api", "2.0.0").await.expect("the original is kept");
        assert_eq!(json!(stored.registration.sha256), original["sha256"], "{field}: the stored sha256 is untouched");
        assert_eq!(json!(stored.registration.git_sha), original["gitSha"], "{field}: the stored gitSha is untouched");
        assert_eq!(
            json!(stored.registration.artifact_ref),
            original["artifactRef"],
            "{field}: the stored artifactRef is untouched"
        );
        assert_one_denial(&app, &before, "ci", Role::CiPublisher, "BUILD_REGISTRATION_CONFLICT", "payments-api@2.0.0")
            .await;
    }
}

#[tokio::test]
async fn the_daily_build_quota_of_a_publisher_refuses_its_third_new_build_with_quota_exceeded() {
    let app = TestApp::builder().env("DXCP_DEV_TOKENS", TOKENS_WITH_SECOND_CI).spawn().await;
    let settings = app
        .admin(
            "mutation($key: String!) {
                updateSystemSettings(input: { dailyBuildRegisterQuota: 2, ciPublishers: [\"ci\", \"ci2\"] },
                                     idempotencyKey: $key) { dailyBuildRegisterQuota ciPublishers }
            }",
            json!({ "key": key() }),
        )
        .await;
    assert_eq!(settings.ok()["updateSystemSettings"]["dailyBuildRegisterQuota"], 2);
    let first = build_input("payments-api", "2.0.0");
    registered(&register(&app, CI, &first, &key()).await);
    registered(&register(&app, CI, &build_input("payments-api", "2.0.1"), &key()).await);
    let before = audit_events(&app).await;

    let third = register(&app, CI, &build_input("payments-api", "2.0.2"), &key()).await;

    assert_refused(&third, "QUOTA_EXCEEDED", "the third new build");
    assert!(stored_build(&app, "payments-api", "2.0.2").await.is_none(), "the third build is not stored");
    assert_one_denial(&app, &before, "ci", Role::CiPublisher, "QUOTA_EXCEEDED", "payments-api@2.0.2").await;
    let replay = register(&app, CI, &first, &key()).await;
    assert_eq!(registered(&replay)["version"], "2.0.0", "a replay uses no quota and is still answered");
    let other_publisher = register(&app, CI2, &build_input("payments-api", "2.0.2"), &key()).await;
    assert_eq!(registered(&other_publisher)["registeredBy"], "ci2", "the quota is counted per publisher");
}

#[tokio::test]
async fn a_registered_build_becomes_deployable() {
    let app = TestApp::spawn().await;
    let intent = json!({
        "service": "payments-api",
        "version": "2.0.0",
        "environment": "sandbox",
        "changeSummary": "ship the new build",
    });
    let document = "query($intent: DeploymentIntentInput!) {
        validateDeployment(intent: $intent) { allowed versionRegistered violations { code } }
    }";
    let before = app.owner(document, json!({ "intent": intent })).await;
    let before = before.ok()["validateDeployment"].clone();
    assert_eq!(before["versionRegistered"], false, "not registered yet: {before}");
    assert_eq!(before["violations"][0]["code"], "VERSION_NOT_FOUND");

    registered(&register(&app, CI, &build_input("payments-api", "2.0.0"), &key()).await);

    let after = app.owner(document, json!({ "intent": intent })).await;
    let after = after.ok()["validateDeployment"].clone();
    assert_eq!(after["versionRegistered"], true, "{after}");
    assert_eq!(after["allowed"], true, "{after}");
    assert_eq!(after["violations"], json!([]));
}
