//! Shared helpers for the deploy / rollback / cancel tests: GraphQL
//! documents, a test catalogue, driving deployments through the fake Gate,
//! and the "a refusal writes nothing but its DENIED audit event" check.

// A shared harness: each test module uses only some of these.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use dxcp::domain::{
    catalog::{AuditEvent, AuditFilter, AuditOutcome},
    deployment::{DeploymentFilter, DeploymentRecord},
    page::PageRequest,
    Role,
};
use dxcp::store::deployments::GroupScope;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{fake_gate::FakeGate, GqlResponse, TestApp, TestAppBuilder, ADMIN};

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

/// The stored record.
pub async fn stored(app: &TestApp, id: &str) -> DeploymentRecord {
    let uuid = Uuid::parse_str(id).expect("a UUID");
    app.services.store().deployment(uuid).await.expect("store read").expect("the record exists")
}

/// The Gate execution id of a deployment.
pub async fn execution_of(app: &TestApp, id: &str) -> String {
    stored(app, id).await.engine_execution_id.unwrap_or_else(|| panic!("deployment {id} has an execution"))
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
/// until it reaches `state`; panics after a deadline.
pub async fn wait_for_state(app: &TestApp, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = app.admin(DEPLOYMENT, json!({ "id": id })).await;
        let record = response.ok()["deployment"].clone();
        if record["state"] == state {
            return record;
        }
        assert!(Instant::now() < deadline, "deployment {id} never reached {state}; last seen: {record}");
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

/// Every audit event, newest first.
pub async fn audit_events(app: &TestApp) -> Vec<AuditEvent> {
    let page = app
        .services
        .store()
        .audit_page(&AuditFilter::default(), &PageRequest::new(100, None))
        .await
        .expect("audit page");
    assert!(!page.has_next_page, "more audit events than these helpers expect");
    page.items
}

/// Every deployment record, newest first.
pub async fn records(app: &TestApp) -> Vec<DeploymentRecord> {
    let page = app
        .services
        .store()
        .deployments_page(&DeploymentFilter::default(), &GroupScope::All, &PageRequest::new(100, None))
        .await
        .expect("deployments page");
    assert!(!page.has_next_page, "more deployments than these helpers expect");
    page.items
}

/// What was written and sent before an act, to find what the act added.
pub struct Snapshot {
    audit_ids: HashSet<Uuid>,
    record_ids: HashSet<Uuid>,
    triggers: usize,
    cancels: usize,
}

/// What a refused request must have audited.
pub struct Denial<'a> {
    /// `DEPLOY_SUBMIT`, `ROLLBACK_SUBMIT` or `DEPLOY_CANCEL`.
    pub event_type: &'a str,
    pub code: &'a str,
    pub actor: &'a str,
    pub role: Role,
    pub service: Option<&'a str>,
    pub environment: Option<&'a str>,
}

impl Snapshot {
    pub async fn take(app: &TestApp, gate: &FakeGate) -> Snapshot {
        Snapshot {
            audit_ids: audit_events(app).await.iter().map(|e| e.id).collect(),
            record_ids: records(app).await.iter().map(|r| r.id).collect(),
            triggers: gate.triggers().len(),
            cancels: gate.cancels().len(),
        }
    }

    /// Audit events written since the snapshot.
    pub async fn new_audit_events(&self, app: &TestApp) -> Vec<AuditEvent> {
        audit_events(app).await.into_iter().filter(|e| !self.audit_ids.contains(&e.id)).collect()
    }

    /// Records created since the snapshot.
    pub async fn new_records(&self, app: &TestApp) -> Vec<DeploymentRecord> {
        records(app).await.into_iter().filter(|r| !self.record_ids.contains(&r.id)).collect()
    }

    /// Asserts DESIGN §10 "a refused mutation": null field, the code as the
    /// first error, no engine call, no record, and exactly one DENIED audit
    /// event describing the attempt. Returns that event.
    pub async fn assert_refused(
        &self,
        app: &TestApp,
        gate: &FakeGate,
        response: &GqlResponse,
        denial: Denial<'_>,
    ) -> AuditEvent {
        let field = match denial.event_type {
            "DEPLOY_SUBMIT" => "deploy",
            "ROLLBACK_SUBMIT" => "rollback",
            "DEPLOY_CANCEL" => "cancelDeployment",
            other => panic!("unexpected event type {other}"),
        };
        assert!(response.data()[field].is_null(), "{field} must be null: {}", response.body);
        assert_eq!(response.first_code().as_deref(), Some(denial.code), "first error code: {}", response.body);

        assert_eq!(gate.triggers().len(), self.triggers, "a refused request never triggers the engine");
        assert_eq!(gate.cancels().len(), self.cancels, "a refused request never cancels on the engine");
        let created = self.new_records(app).await;
        assert!(created.is_empty(), "a refused request creates no record: {created:?}");

        let events = self.new_audit_events(app).await;
        assert_eq!(events.len(), 1, "exactly one audit event for a refusal: {events:#?}");
        let event = events.into_iter().next().expect("one event");
        assert_eq!(event.outcome, AuditOutcome::Denied, "{event:?}");
        assert_eq!(event.event_type, denial.event_type, "{event:?}");
        assert!(event.summary.contains(denial.code), "the summary names {}: {:?}", denial.code, event.summary);
        assert_eq!(event.actor_id, denial.actor, "{event:?}");
        assert_eq!(event.actor_role, denial.role, "{event:?}");
        assert_eq!(event.service_name.as_deref(), denial.service, "{event:?}");
        assert_eq!(event.environment.as_deref(), denial.environment, "{event:?}");
        let request_id = response.headers.get("x-request-id").and_then(|v| v.to_str().ok());
        assert!(request_id.is_some(), "every response carries X-Request-Id");
        assert_eq!(event.request_id.as_deref(), request_id, "the audit event carries the request id");
        event
    }

    /// Asserts that nothing was written or sent since the snapshot.
    pub async fn assert_nothing_written(&self, app: &TestApp, gate: &FakeGate) {
        assert_eq!(self.new_audit_events(app).await, vec![], "no audit event");
        assert!(self.new_records(app).await.is_empty(), "no record");
        assert_eq!(gate.triggers().len(), self.triggers, "no engine trigger");
        assert_eq!(gate.cancels().len(), self.cancels, "no engine cancel");
    }
}

/// Guardrails of the test catalogue's `payments` group.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_concurrent: u32,
    pub deploy_quota: u32,
    pub rollback_quota: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_concurrent: 1, deploy_quota: 25, rollback_quota: 10 }
    }
}

fn build_entry(n: usize, service: &str, version: &str) -> String {
    format!(
        r#"
[[builds]]
service = "{service}"
version = "{version}"
artifact_ref = "s3://test-artifacts/{service}/{version}.zip"
sha256 = "{n:064x}"
size_bytes = 1048576
content_type = "application/zip"
git_sha = "{n:040x}"
git_branch = "main"
ci_provider = "github"
ci_run_id = "{n}"
built_at = "2026-01-01T12:00:00Z"
"#
    )
}

/// A catalogue with every kind of policy corner:
/// - environments `sandbox`, `staging` and `frozen` (disabled);
/// - recipes `standard`, `canary`, `legacy` (DEPRECATED) and `bluegreen`;
/// - group `payments` (member `owner`; services `payments-api`, `ledger`
///   (compatible with `standard` only); recipes standard, canary, legacy;
///   environments sandbox, staging, frozen; default `standard`; `limits`);
/// - group `batch` (member `owner`; service `batch-job`; no default recipe);
/// - service `orphan`, in no group;
/// - builds 1.0.0, 1.1.0, 1.2.0 of payments-api and 1.0.0 of the others.
pub fn test_catalog(limits: Limits) -> String {
    let Limits { max_concurrent, deploy_quota, rollback_quota } = limits;
    let mut toml = format!(
        r#"
ci_publishers = ["ci"]

[[environments]]
name = "sandbox"
display_name = "Sandbox"
type = "NON_PROD"
promotion_order = 1
enabled = true

[[environments]]
name = "staging"
display_name = "Staging"
type = "NON_PROD"
promotion_order = 2
enabled = true

[[environments]]
name = "frozen"
display_name = "Frozen"
type = "NON_PROD"
promotion_order = 3
enabled = false

[[recipes]]
id = "standard"
name = "Standard"
effective_behavior_summary = "Deploys the version in one pass."
spinnaker_application = "test-app"
deploy_pipeline = "deploy-standard"
rollback_pipeline = "rollback-standard"

[[recipes]]
id = "canary"
name = "Canary"
effective_behavior_summary = "Canary, then full rollout."
spinnaker_application = "test-app"
deploy_pipeline = "deploy-canary"
rollback_pipeline = "rollback-canary"

[[recipes]]
id = "legacy"
name = "Legacy"
status = "DEPRECATED"
effective_behavior_summary = "The old way."
spinnaker_application = "test-app"
deploy_pipeline = "deploy-legacy"
rollback_pipeline = "rollback-legacy"

[[recipes]]
id = "bluegreen"
name = "Blue/green"
effective_behavior_summary = "Switches traffic between two stacks."
spinnaker_application = "test-app"
deploy_pipeline = "deploy-bluegreen"
rollback_pipeline = "rollback-bluegreen"

[[delivery_groups]]
id = "payments"
name = "Payments"
members = ["owner"]
services = ["payments-api", "ledger"]
allowed_recipes = ["standard", "canary", "legacy"]
allowed_environments = ["sandbox", "staging", "frozen"]
default_recipe_id = "standard"
guardrails = {{ max_concurrent_deployments = {max_concurrent}, daily_deploy_quota = {deploy_quota}, daily_rollback_quota = {rollback_quota} }}

[[delivery_groups]]
id = "batch"
name = "Batch"
members = ["owner"]
services = ["batch-job"]
allowed_recipes = ["standard"]
allowed_environments = ["sandbox"]

[[services]]
name = "payments-api"
compatible_recipes = []

[[services]]
name = "ledger"
compatible_recipes = ["standard"]

[[services]]
name = "batch-job"

[[services]]
name = "orphan"
"#
    );
    let builds = [
        ("payments-api", "1.0.0"),
        ("payments-api", "1.1.0"),
        ("payments-api", "1.2.0"),
        ("ledger", "1.0.0"),
        ("batch-job", "1.0.0"),
        ("orphan", "1.0.0"),
    ];
    for (n, (service, version)) in builds.iter().enumerate() {
        toml.push_str(&build_entry(n + 1, service, version));
    }
    toml
}
