//! `rollbackTargets(service, environment, first)` (DESIGN §11.1): the
//! distinct versions that SUCCEEDED in a service+environment other than the
//! running one, newest first, each with its newest successful deployment;
//! `first` at least 1 and capped at 50; read-only and never audited.

use chrono::Duration;
use dxcp::domain::deployment::{DeploymentOutcome, DeploymentState};
use serde_json::{json, Value};

use crate::harness::{
    fake_gate::FakeGate,
    graphql::{
        audit_events, deployed, deployed_and_succeeded, finish, id_of, key, read, rollback, wait_for_state,
        with_outsider, ENVIRONMENT, OUTSIDER, SERVICE,
    },
    seed,
    storage::execution_of,
    GqlResponse, TestApp, ADMIN, CI, OBSERVER, OWNER,
};

const ROLLBACK_TARGETS: &str = "query($service: String!, $environment: String!, $first: Int) {
    rollbackTargets(service: $service, environment: $environment, first: $first) {
        version deploymentId succeededAt
    }
}";

/// `rollbackTargets` of the demo service in sandbox as `token`; `first`
/// null asks for the default.
async fn ask(app: &TestApp, token: &str, first: Value) -> GqlResponse {
    ask_about(app, token, SERVICE, ENVIRONMENT, first).await
}

async fn ask_about(app: &TestApp, token: &str, service: &str, environment: &str, first: Value) -> GqlResponse {
    let variables = json!({ "service": service, "environment": environment, "first": first });
    app.gql_as(Some(token), ROLLBACK_TARGETS, variables).await
}

/// The targets answered; panics with the body on errors.
fn targets(response: &GqlResponse) -> Vec<Value> {
    response.ok()["rollbackTargets"].as_array().expect("a list of targets").clone()
}

/// (version, deploymentId) of each target, in the order served.
fn versions_and_ids(targets: &[Value]) -> Vec<(String, String)> {
    targets
        .iter()
        .map(|t| {
            (t["version"].as_str().expect("version").to_owned(), t["deploymentId"].as_str().expect("id").to_owned())
        })
        .collect()
}

/// When the deployment's SUCCEEDED timeline entry says it succeeded.
fn succeeded_entry(record: &Value) -> Value {
    let timeline = record["timeline"].as_array().expect("a timeline");
    timeline.iter().find(|e| e["key"] == "SUCCEEDED").expect("a SUCCEEDED entry")["occurredAt"].clone()
}

/// Lets the Gate fail a deployment and waits until DXCP has read it.
async fn fail(app: &TestApp, gate: &FakeGate, id: &str) {
    gate.fail_execution(&execution_of(app, id).await, &["Health check failed: container exited with code 1"]);
    wait_for_state(app, id, "FAILED").await;
}

#[tokio::test]
async fn each_version_that_succeeded_is_listed_once_newest_first_with_its_newest_deployment_and_the_running_version_left_out(
) {
    // Arrange: 1.0.0 three times, 1.1.0 twice (running now), 1.2.0 once.
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let mut ids = Vec::new();
    for version in ["1.0.0", "1.1.0", "1.0.0", "1.2.0", "1.0.0", "1.1.0"] {
        ids.push(deployed_and_succeeded(&app, &gate, SERVICE, version, ENVIRONMENT).await);
    }
    let newest_1_0_0 = &ids[4];
    let only_1_2_0 = &ids[3];

    // Act
    let answers =
        [ask(&app, ADMIN, Value::Null).await, ask(&app, OWNER, json!(10)).await, ask(&app, OBSERVER, json!(5)).await];

    // Assert
    let expected = vec![("1.0.0".to_owned(), newest_1_0_0.clone()), ("1.2.0".to_owned(), only_1_2_0.clone())];
    for answer in &answers {
        assert_eq!(versions_and_ids(&targets(answer)), expected, "{}", answer.body);
    }
    let listed = targets(&answers[0]);
    for target in &listed {
        let record = read(&app, ADMIN, target["deploymentId"].as_str().expect("id")).await;
        assert_eq!(target["succeededAt"], succeeded_entry(&record), "when it succeeded: {record}");
        assert_eq!(record["outcome"], "SUPERSEDED");
        assert_ne!(target["succeededAt"], record["updatedAt"], "not when it was superseded: {record}");
    }
    assert!(ask_about(&app, ADMIN, SERVICE, "staging", json!(10)).await.ok()["rollbackTargets"] == json!([]));
}

#[tokio::test]
async fn failed_deployments_and_rolled_back_versions_are_not_targets() {
    // Arrange: 1.0.0 succeeds; 1.3.0-fail and a redeploy of 1.0.0 fail;
    // 1.1.0 succeeds and is then rolled back to 1.0.0.
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).spawn().await;
    let first_success = deployed_and_succeeded(&app, &gate, SERVICE, "1.0.0", ENVIRONMENT).await;
    for version in ["1.3.0-fail", "1.0.0"] {
        let failed = id_of(&deployed(&app, SERVICE, version, ENVIRONMENT).await);
        fail(&app, &gate, &failed).await;
    }
    let later = deployed_and_succeeded(&app, &gate, SERVICE, "1.1.0", ENVIRONMENT).await;

    // Act
    let before_rollback = targets(&ask(&app, ADMIN, json!(10)).await);
    let restore = rollback(&app, ADMIN, &later, &key()).await;
    finish(&app, &gate, &id_of(&restore.ok()["rollback"])).await;
    let after_rollback = targets(&ask(&app, ADMIN, json!(10)).await);

    // Assert
    assert_eq!(
        versions_and_ids(&before_rollback),
        vec![("1.0.0".to_owned(), first_success)],
        "failed deployments neither list a version nor stand for one"
    );
    assert_eq!(read(&app, ADMIN, &later).await["state"], "ROLLED_BACK");
    assert_eq!(after_rollback, Vec::<Value>::new(), "1.0.0 runs again and 1.1.0 was rolled back");
}

#[tokio::test]
async fn first_picks_the_newest_is_capped_at_fifty_and_must_be_at_least_one() {
    // Arrange: 60 superseded versions and a running 9.9.9, straight to storage.
    let app = TestApp::spawn().await;
    let start = seed::base_time();
    let mut records: Vec<_> = (0..60)
        .map(|i| {
            let mut r = seed::record(SERVICE, ENVIRONMENT, "payments", start + Duration::minutes(i));
            r.version = format!("2.0.{i}");
            r.updated_at = r.created_at + Duration::seconds(90);
            r
        })
        .collect();
    let mut running = seed::succeeded(SERVICE, ENVIRONMENT, start + Duration::minutes(60));
    running.version = "9.9.9".into();
    records.push(running);
    let mut failed = seed::finished(
        SERVICE,
        ENVIRONMENT,
        start + Duration::minutes(61),
        DeploymentState::Failed,
        DeploymentOutcome::Failed,
    );
    failed.version = "3.0.0".into();
    records.push(failed);
    seed::insert(&app, &records).await;

    // Act
    let one = targets(&ask(&app, ADMIN, json!(1)).await);
    let default = targets(&ask(&app, ADMIN, Value::Null).await);
    let capped = targets(&ask(&app, ADMIN, json!(100)).await);
    let refused = [ask(&app, ADMIN, json!(0)).await, ask(&app, OWNER, json!(-3)).await];

    // Assert
    let newest = &records[59];
    assert_eq!(versions_and_ids(&one), vec![("2.0.59".to_owned(), newest.id.to_string())]);
    let no_entry = chrono::DateTime::parse_from_rfc3339(one[0]["succeededAt"].as_str().expect("succeededAt"))
        .expect("an RFC 3339 instant");
    assert_eq!(no_entry, newest.updated_at, "a record without a SUCCEEDED entry falls back to its last update");
    assert_eq!(default.len(), 10);
    assert_eq!(capped.len(), 50, "first is capped at 50");
    let versions: Vec<String> = capped.iter().map(|t| t["version"].as_str().expect("version").to_owned()).collect();
    let expected: Vec<String> = (10..60).rev().map(|i| format!("2.0.{i}")).collect();
    assert_eq!(versions, expected, "newest first, without the running 9.9.9 or the failed 3.0.0");
    for response in &refused {
        assert_eq!(response.first_code().as_deref(), Some("INVALID_REQUEST"), "{}", response.body);
    }
}

#[tokio::test]
async fn owners_outside_the_group_and_ci_publishers_are_refused_and_nothing_is_audited() {
    // Arrange
    let gate = FakeGate::start().await;
    let app = with_outsider(TestApp::builder().gate(&gate)).spawn().await;
    for version in ["1.0.0", "1.1.0"] {
        deployed_and_succeeded(&app, &gate, SERVICE, version, ENVIRONMENT).await;
    }
    let audited_before = audit_events(&app, json!({})).await;

    // Act
    let outsider = ask(&app, OUTSIDER, json!(10)).await;
    let ci = ask(&app, CI, json!(10)).await;
    let member = ask(&app, OWNER, json!(10)).await;
    let unknown = [
        ask_about(&app, OUTSIDER, "no-such-service", ENVIRONMENT, json!(10)).await,
        ask_about(&app, ADMIN, "no-such-service", ENVIRONMENT, json!(10)).await,
    ];

    // Assert
    assert_eq!(outsider.first_code().as_deref(), Some("DELIVERY_GROUP_SCOPE_REQUIRED"), "{}", outsider.body);
    assert!(outsider.data()["rollbackTargets"].is_null(), "nothing of the service is answered: {}", outsider.body);
    assert_eq!(ci.first_code().as_deref(), Some("ROLE_FORBIDDEN"), "{}", ci.body);
    assert_eq!(targets(&member).len(), 1, "a member of the group is answered: {}", member.body);
    for response in &unknown {
        assert_eq!(targets(response), Vec::<Value>::new(), "an unknown service has no targets");
    }
    let audited_after = audit_events(&app, json!({})).await;
    assert_eq!(audited_after, audited_before, "reads and refused reads write no audit event");
}
