//! Group scope of the paths that resolve a deployment by id (DESIGN §3;
//! security review, issue 11 item 6): a DELIVERY_OWNER who is not a member
//! of a record's group gets `DELIVERY_GROUP_SCOPE_REQUIRED` before anything
//! else happens: no refresh, no engine call, nothing of the record in the
//! answer. Refused reads are not audited (docs/decisions/0005).

use dxcp::domain::Role;
use serde_json::{json, Value};

use crate::harness::{
    catalog::{test_catalog, Limits},
    fake_gate::FakeGate,
    graphql::{
        cancel, deploy, id_of, intent_with_recipe, key, rollback, wait_for_state, DEPLOYMENT, VALIDATE_ROLLBACK,
    },
    storage::{execution_of, Denial, Snapshot},
    GqlResponse, TestApp, ADMIN, OBSERVER, OWNER,
};

/// The test catalogue, with `owner` a member of `payments` only: group
/// `batch` (service `batch-job`) belongs to `batch-owner`.
fn catalog_with_owner_outside_batch() -> String {
    let catalog = test_catalog(Limits::default());
    let batch = "id = \"batch\"\nname = \"Batch\"\nmembers = [\"owner\"]";
    assert!(catalog.contains(batch), "the test catalogue lists the batch group's members");
    catalog.replace(batch, "id = \"batch\"\nname = \"Batch\"\nmembers = [\"batch-owner\"]")
}

async fn app_with_owner_outside_batch() -> (FakeGate, TestApp) {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).catalog(&catalog_with_owner_outside_batch()).spawn().await;
    (gate, app)
}

/// A batch-job deployment the engine runs (IN_PROGRESS), deployed by the admin.
async fn running_batch_deployment(app: &TestApp, gate: &FakeGate) -> String {
    let response = deploy(app, ADMIN, intent_with_recipe("batch-job", "1.0.0", "sandbox", "standard"), &key()).await;
    let id = id_of(&response.ok()["deploy"]);
    gate.set_status(&execution_of(app, &id).await, "RUNNING");
    wait_for_state(app, &id, "IN_PROGRESS").await;
    id
}

/// The answer names nothing of the record: not its service, version,
/// group, recipe or quota figures.
fn assert_reveals_nothing(response: &GqlResponse, field: &str) {
    assert!(response.data().is_null() || response.data()[field].is_null(), "{}", response.body);
    let text = response.body.to_string();
    for secret in ["batch-job", "batch", "1.0.0", "standard", "sandbox"] {
        assert!(!text.contains(secret), "the answer reveals '{secret}': {text}");
    }
}

fn scope_denial(event_type: &str) -> Denial<'_> {
    Denial {
        event_type,
        code: "DELIVERY_GROUP_SCOPE_REQUIRED",
        actor: "owner",
        role: Role::DeliveryOwner,
        service: Some("batch-job"),
        environment: Some("sandbox"),
    }
}

#[tokio::test]
async fn validate_rollback_of_another_groups_deployment_is_refused_without_revealing_it_or_asking_the_engine() {
    let (gate, app) = app_with_owner_outside_batch().await;
    let id = running_batch_deployment(&app, &gate).await;
    let engine_calls = gate.requests().len();

    let response = app.gql_as(Some(OWNER), VALIDATE_ROLLBACK, json!({ "id": id })).await;

    assert_eq!(response.first_code().as_deref(), Some("DELIVERY_GROUP_SCOPE_REQUIRED"), "{}", response.body);
    assert_reveals_nothing(&response, "validateRollback");
    assert_eq!(gate.requests().len(), engine_calls, "no engine call: {:?}", gate.requests().last());
}

#[tokio::test]
async fn rollback_of_another_groups_deployment_is_refused_before_its_in_flight_records_are_refreshed() {
    let (gate, app) = app_with_owner_outside_batch().await;
    let id = running_batch_deployment(&app, &gate).await;
    let before = Snapshot::take(&app, &gate).await;
    let engine_calls = gate.requests().len();

    let response = rollback(&app, OWNER, &id, &key()).await;

    assert_eq!(gate.requests().len(), engine_calls, "no refresh of batch's records: {:?}", gate.requests().last());
    assert_reveals_nothing(&response, "rollback");
    before.assert_refused(&app, &gate, &response, scope_denial("ROLLBACK_SUBMIT")).await;
}

#[tokio::test]
async fn cancel_of_another_groups_deployment_is_refused_without_naming_its_group_or_asking_the_engine() {
    let (gate, app) = app_with_owner_outside_batch().await;
    let id = running_batch_deployment(&app, &gate).await;
    let before = Snapshot::take(&app, &gate).await;
    let engine_calls = gate.requests().len();

    let response = cancel(&app, OWNER, &id, &key()).await;

    assert_reveals_nothing(&response, "cancelDeployment");
    before.assert_refused(&app, &gate, &response, scope_denial("DEPLOY_CANCEL")).await;
    assert_eq!(gate.requests().len(), engine_calls, "no refresh and no cancel: {:?}", gate.requests().last());
}

/// Takes `owner` out of the `batch` group, as the admin.
async fn remove_owner_from_batch(app: &TestApp) {
    let members = app
        .admin(
            "mutation($input: DeliveryGroupInput!, $key: String!) {
                updateDeliveryGroup(input: $input, idempotencyKey: $key) { members }
            }",
            json!({ "key": key(), "input": {
                "id": "batch", "name": "Batch", "members": ["batch-owner"], "services": ["batch-job"],
                "allowedRecipes": ["standard"], "allowedEnvironments": ["sandbox"],
            }}),
        )
        .await;
    assert_eq!(members.ok()["updateDeliveryGroup"]["members"], json!(["batch-owner"]));
}

#[tokio::test]
async fn a_replayed_cancel_is_refused_once_the_owner_has_left_the_group() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).catalog(&test_catalog(Limits::default())).spawn().await;
    let id = running_batch_deployment(&app, &gate).await;
    let cancel_key = key();
    let first = cancel(&app, OWNER, &id, &cancel_key).await;
    assert_eq!(id_of(&first.ok()["cancelDeployment"]), id, "a member may cancel");
    remove_owner_from_batch(&app).await;
    let engine_calls = gate.requests().len();

    let replay = cancel(&app, OWNER, &id, &cancel_key).await;

    assert_eq!(replay.first_code().as_deref(), Some("DELIVERY_GROUP_SCOPE_REQUIRED"), "{}", replay.body);
    assert_reveals_nothing(&replay, "cancelDeployment");
    assert_eq!(gate.requests().len(), engine_calls, "no engine call: {:?}", gate.requests().last());
}

#[tokio::test]
async fn a_replayed_deploy_is_refused_once_the_owner_has_left_the_group() {
    let gate = FakeGate::start().await;
    let app = TestApp::builder().gate(&gate).catalog(&test_catalog(Limits::default())).spawn().await;
    let intent = intent_with_recipe("batch-job", "1.0.0", "sandbox", "standard");
    let deploy_key = key();
    let first = deploy(&app, OWNER, intent.clone(), &deploy_key).await;
    id_of(&first.ok()["deploy"]);
    remove_owner_from_batch(&app).await;
    let engine_calls = gate.requests().len();

    let replay = deploy(&app, OWNER, intent, &deploy_key).await;

    assert_eq!(replay.first_code().as_deref(), Some("DELIVERY_GROUP_SCOPE_REQUIRED"), "{}", replay.body);
    assert!(replay.data()["deploy"].is_null(), "{}", replay.body);
    assert!(!replay.body.to_string().contains("\"1.0.0\""), "nothing of the record: {}", replay.body);
    assert_eq!(gate.requests().len(), engine_calls, "no engine call: {:?}", gate.requests().last());
}

#[tokio::test]
async fn a_member_still_validates_and_reads_their_groups_deployment() {
    let (_gate, app) = app_with_owner_outside_batch().await;
    let response =
        deploy(&app, ADMIN, intent_with_recipe("payments-api", "1.0.0", "sandbox", "standard"), &key()).await;
    let id = id_of(&response.ok()["deploy"]);

    let preflight = app.gql_as(Some(OWNER), VALIDATE_ROLLBACK, json!({ "id": id })).await;

    let preflight: &Value = &preflight.ok()["validateRollback"];
    assert_eq!(preflight["service"], "payments-api");
    assert_eq!(preflight["deliveryGroupId"], "payments");
}

#[tokio::test]
async fn refused_reads_are_not_audited() {
    let (gate, app) = app_with_owner_outside_batch().await;
    let id = running_batch_deployment(&app, &gate).await;
    let before = Snapshot::take(&app, &gate).await;

    let refused = [
        app.gql_as(Some(OWNER), DEPLOYMENT, json!({ "id": id })).await,
        app.gql_as(Some(OWNER), VALIDATE_ROLLBACK, json!({ "id": id })).await,
        app.gql_as(Some(OBSERVER), "query { auditEvents(first: 1) { nodes { id } } }", json!({})).await,
        app.gql_as(Some(OBSERVER), "query { systemSettings { readRpm } }", json!({})).await,
    ];

    let codes: Vec<Option<String>> = refused.iter().map(GqlResponse::first_code).collect();
    assert_eq!(
        codes,
        ["DELIVERY_GROUP_SCOPE_REQUIRED", "DELIVERY_GROUP_SCOPE_REQUIRED", "ROLE_FORBIDDEN", "ROLE_FORBIDDEN"]
            .map(|c| Some(c.to_owned()))
    );
    before.assert_nothing_written(&app, &gate).await;
}
