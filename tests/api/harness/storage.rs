//! The one way a test reads storage directly, not through GraphQL: for the
//! few checks the API cannot make (what a refusal did NOT write, engine
//! execution ids, checks that must not draw from a rate-limit bucket).

// A shared harness: each test module uses only some of these.
#![allow(dead_code)]

use std::collections::HashSet;

use dxcp::domain::{
    audit::{AuditEvent, AuditFilter, AuditOutcome},
    deployment::{DeploymentFilter, DeploymentRecord},
    page::PageRequest,
    Role,
};
use dxcp::store::deployments::GroupScope;
use uuid::Uuid;

use super::{fake_gate::FakeGate, GqlResponse, TestApp};

/// The stored record.
pub async fn stored(app: &TestApp, id: &str) -> DeploymentRecord {
    let uuid = Uuid::parse_str(id).expect("a UUID");
    app.services.store().deployment(uuid).await.expect("store read").expect("the record exists")
}

/// The stored build `service@version`, if any.
pub async fn stored_build(app: &TestApp, service: &str, version: &str) -> Option<dxcp::domain::build::Build> {
    app.services.store().build(service, version).await.expect("store read")
}

/// The stored system settings.
pub async fn stored_settings(app: &TestApp) -> dxcp::domain::settings::SystemSettings {
    app.services.store().settings().await.expect("settings")
}

/// The Gate execution id of a deployment.
pub async fn execution_of(app: &TestApp, id: &str) -> String {
    stored(app, id).await.engine_execution_id.unwrap_or_else(|| panic!("deployment {id} has an execution"))
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
    /// `DEPLOY_SUBMIT`, `ROLLBACK_SUBMIT`, `PROMOTION_SUBMIT` or `DEPLOY_CANCEL`.
    pub event_type: &'a str,
    pub code: &'a str,
    pub actor: &'a str,
    pub role: Role,
    pub service: Option<&'a str>,
    pub environment: Option<&'a str>,
}

/// Takes a `Snapshot`, then runs `act` (a mutation's future, which does
/// nothing until awaited) and asserts the refusal `denial`
/// (`Snapshot::assert_refused`); returns its audit event.
pub async fn assert_act_refused(
    app: &TestApp,
    gate: &FakeGate,
    act: impl std::future::Future<Output = GqlResponse>,
    denial: Denial<'_>,
) -> AuditEvent {
    let before = Snapshot::take(app, gate).await;
    let response = act.await;
    before.assert_refused(app, gate, &response, denial).await
}

impl<'a> Denial<'a> {
    /// A refused `deploy` by `actor` in `role`, for `(service, environment)`
    /// when the request named them.
    pub fn deploy(code: &'a str, (actor, role): (&'a str, Role), scope: Option<(&'a str, &'a str)>) -> Self {
        Self::of("DEPLOY_SUBMIT", code, (actor, role), scope)
    }

    /// A refused `rollback`, as `deploy`.
    pub fn rollback(code: &'a str, (actor, role): (&'a str, Role), scope: Option<(&'a str, &'a str)>) -> Self {
        Self::of("ROLLBACK_SUBMIT", code, (actor, role), scope)
    }

    /// A refused `promote`, as `deploy` (scope: service and *target*).
    pub fn promote(code: &'a str, (actor, role): (&'a str, Role), scope: Option<(&'a str, &'a str)>) -> Self {
        Self::of("PROMOTION_SUBMIT", code, (actor, role), scope)
    }

    /// A refused `cancelDeployment`, as `deploy`.
    pub fn cancel(code: &'a str, (actor, role): (&'a str, Role), scope: Option<(&'a str, &'a str)>) -> Self {
        Self::of("DEPLOY_CANCEL", code, (actor, role), scope)
    }

    pub fn of(
        event_type: &'a str,
        code: &'a str,
        (actor, role): (&'a str, Role),
        scope: Option<(&'a str, &'a str)>,
    ) -> Self {
        Denial {
            event_type,
            code,
            actor,
            role,
            service: scope.map(|(service, _)| service),
            environment: scope.map(|(_, environment)| environment),
        }
    }
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
            "PROMOTION_SUBMIT" => "promote",
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
