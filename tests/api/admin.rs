//! Administrative mutations (DESIGN §3, §7, §10 Administration): delivery
//! groups, recipes, services, environments and system settings. Only a
//! PLATFORM_ADMIN may change them; every change is validated as a whole,
//! audited field by field, takes effect at once, and is idempotent.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::{
    admin::*,
    catalog::admin_catalog,
    graphql::{deploy, intent, key},
    TestApp, ADMIN, CI, OBSERVER, OWNER,
};

// ---------------------------------------------------------------------------
// Roles

#[tokio::test]
async fn every_admin_mutation_is_forbidden_to_owners_observers_and_ci_publishers_and_each_refusal_is_audited() {
    let app = spawn().await;
    let callers = [(OWNER, "owner", "DELIVERY_OWNER"), (OBSERVER, "observer", "OBSERVER"), (CI, "ci", "CI_PUBLISHER")];

    for case in every_admin_mutation() {
        for (token, actor, role) in callers {
            let what = format!("{} by {actor}", case.mutation);
            let before = audit_log(&app).await;

            let response = call(&app, token, case.mutation, case.argument.clone(), Some("not mine"), &key()).await;

            assert_refused(&response, case.mutation, "ROLE_FORBIDDEN", &what);
            let event = one_new_event(&app, &before, &what).await;
            assert_denied(&event, case.event_type, case.target_type, actor, "ROLE_FORBIDDEN");
            assert_eq!(event["actorRole"], role, "{what}");
            if !case.target_id.is_empty() {
                assert_eq!(event["targetId"], case.target_id, "{what}");
            }
        }
    }
    assert_no_admin_change(&app).await;
}

#[tokio::test]
async fn an_admin_may_run_every_admin_mutation() {
    let app = spawn().await;

    for case in every_admin_mutation() {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, case.mutation, case.argument.clone(), Some("routine"), &key()).await;

        answer(&response, case.mutation);
        let event = one_new_event(&app, &before, case.mutation).await;
        assert_eq!(event["eventType"], case.event_type, "{event}");
        assert_eq!(event["targetType"], case.target_type, "{event}");
        assert_eq!(event["outcome"], "SUCCESS", "{event}");
        assert_eq!(event["actorId"], "admin");
        assert_eq!(event["actorRole"], "PLATFORM_ADMIN");
        if !case.target_id.is_empty() {
            assert_eq!(event["targetId"], case.target_id, "{event}");
        }
        assert!(!changed_fields(&event).is_empty(), "{}: the changes are listed: {event}", case.mutation);
    }
}

// ---------------------------------------------------------------------------
// Delivery groups

#[tokio::test]
async fn create_delivery_group_creates_the_group_places_its_services_and_audits_every_field_once() {
    let app = spawn().await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "createDeliveryGroup", platform_input(), Some("new platform team"), &key()).await;

    let created = answer(&response, "createDeliveryGroup");
    assert_eq!(created["id"], "platform");
    assert_eq!(created["name"], "Platform");
    assert_eq!(created["description"], "Internal platform");
    assert_eq!(created["owner"], "team-platform");
    assert_eq!(created["members"], json!(["owner"]));
    assert_eq!(created["services"], json!(["loose"]));
    assert_eq!(created["allowedRecipes"], json!(["standard"]));
    assert_eq!(created["allowedEnvironments"], json!(["sandbox"]));
    assert_eq!(created["defaultRecipeId"], "standard");
    assert_eq!(
        created["guardrails"],
        json!({ "maxConcurrentDeployments": 2, "dailyDeployQuota": 30, "dailyRollbackQuota": 5 })
    );
    assert_eq!(created["createdBy"], "admin");
    assert_eq!(created["updatedBy"], "admin");
    assert_eq!(created["lastChangeReason"], "new platform team");
    assert_eq!(group(&app, "platform").await, created, "the stored group is the answer");
    assert_eq!(service(&app, "loose").await["deliveryGroupId"], "platform", "the service is placed in the group");

    let event = one_new_event(&app, &before, "createDeliveryGroup").await;
    assert_eq!(event["eventType"], "ADMIN_CREATE");
    assert_eq!(event["targetType"], "DELIVERY_GROUP");
    assert_eq!(event["targetId"], "platform");
    assert_eq!(event["outcome"], "SUCCESS");
    assert_eq!(event["deliveryGroupId"], "platform");
    let listed = changes(&event);
    let expected = [
        "allowedEnvironments",
        "allowedRecipes",
        "defaultRecipeId",
        "description",
        "guardrails.dailyDeployQuota",
        "guardrails.dailyRollbackQuota",
        "guardrails.maxConcurrentDeployments",
        "members",
        "name",
        "owner",
        "services",
    ];
    assert_eq!(listed.keys().map(String::as_str).collect::<Vec<_>>(), expected, "{event}");
    assert!(listed.values().all(|(old, _)| old.is_null()), "a create has no old values: {event}");
    assert_eq!(listed["name"].1, "Platform");
    assert_eq!(listed["guardrails.maxConcurrentDeployments"].1, "2");
    assert_eq!(listed["guardrails.dailyDeployQuota"].1, "30");
    assert_eq!(listed["guardrails.dailyRollbackQuota"].1, "5");
    assert!(listed["services"].1.as_str().expect("text").contains("loose"), "{event}");
}

#[tokio::test]
async fn a_new_group_is_usable_at_once_by_its_members() {
    let app = spawn().await;
    let refused = deploy(&app, OWNER, intent("loose", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(refused.first_code().as_deref(), Some("SERVICE_NOT_IN_DELIVERY_GROUP"), "{}", refused.body);
    answer(&call(&app, ADMIN, "createDeliveryGroup", platform_input(), None, &key()).await, "createDeliveryGroup");

    let response = deploy(&app, OWNER, intent("loose", "1.0.0", "sandbox"), &key()).await;

    let record = &response.ok()["deploy"];
    assert_eq!(record["deliveryGroupId"], "platform", "{}", response.body);
    assert_eq!(record["recipeId"], "standard");
}

#[tokio::test]
async fn omitted_guardrails_take_the_defaults_of_1_25_and_10() {
    let app = spawn().await;
    let mut without = platform_input();
    without.as_object_mut().expect("an object").remove("guardrails");
    let partial = with(
        with(with(platform_input(), "id", json!("partial")), "services", json!([])),
        "guardrails",
        json!({ "dailyDeployQuota": 7 }),
    );

    let created = call(&app, ADMIN, "createDeliveryGroup", without, None, &key()).await;
    let partly = call(&app, ADMIN, "createDeliveryGroup", partial, None, &key()).await;

    assert_eq!(
        answer(&created, "createDeliveryGroup")["guardrails"],
        json!({ "maxConcurrentDeployments": 1, "dailyDeployQuota": 25, "dailyRollbackQuota": 10 })
    );
    assert_eq!(
        answer(&partly, "createDeliveryGroup")["guardrails"],
        json!({ "maxConcurrentDeployments": 1, "dailyDeployQuota": 7, "dailyRollbackQuota": 10 })
    );
}

#[tokio::test]
async fn update_delivery_group_lists_only_the_changed_fields_and_records_who_why_and_when() {
    let app = spawn().await;
    let original = group(&app, "payments").await;
    let input = with(payments_input(3), "description", json!("Card payments and the ledger"));
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", input, Some("more parallel deploys"), &key()).await;

    let updated = answer(&response, "updateDeliveryGroup");
    assert_eq!(updated["guardrails"]["maxConcurrentDeployments"], 3);
    assert_eq!(updated["description"], "Card payments and the ledger");
    assert_eq!(updated["updatedBy"], "admin");
    assert_eq!(updated["lastChangeReason"], "more parallel deploys");
    assert!(instant(&updated["updatedAt"]) > instant(&original["updatedAt"]), "updatedAt moves forward");
    assert_eq!(updated["createdAt"], original["createdAt"], "createdAt is kept");
    assert_eq!(updated["createdBy"], original["createdBy"], "createdBy is kept");
    assert_eq!(group(&app, "payments").await, updated, "the stored group is the answer");
    let event = one_new_event(&app, &before, "updateDeliveryGroup").await;
    assert_eq!(event["eventType"], "ADMIN_UPDATE");
    assert_eq!(event["targetType"], "DELIVERY_GROUP");
    assert_eq!(event["targetId"], "payments");
    assert_eq!(event["outcome"], "SUCCESS");
    let listed = changes(&event);
    assert_eq!(changed_fields(&event), ["description", "guardrails.maxConcurrentDeployments"], "{event}");
    assert_eq!(listed["guardrails.maxConcurrentDeployments"], (json!("1"), json!("3")));
    assert_eq!(listed["description"], (json!("Card payments"), json!("Card payments and the ledger")));
}

#[tokio::test]
async fn an_update_that_changes_nothing_writes_no_audit_event_and_keeps_the_group() {
    let app = spawn().await;
    let original = group(&app, "payments").await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", payments_input(1), Some("no-op"), &key()).await;

    assert_eq!(answer(&response, "updateDeliveryGroup"), original, "the group is answered unchanged");
    assert_eq!(group(&app, "payments").await, original);
    assert!(new_events(&app, &before).await.is_empty(), "nothing changed, nothing is audited");
}

#[tokio::test]
async fn listing_the_same_services_in_another_order_is_not_a_change() {
    let app = spawn().await;
    let original = group(&app, "payments").await;
    let reordered = with(payments_input(2), "services", json!(["payments-api", "ledger"]));
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", reordered, None, &key()).await;

    let updated = answer(&response, "updateDeliveryGroup");
    assert_eq!(updated["services"], original["services"], "the same services");
    let event = one_new_event(&app, &before, "updateDeliveryGroup").await;
    assert_eq!(changed_fields(&event), ["guardrails.maxConcurrentDeployments"], "services did not change: {event}");
}

#[tokio::test]
async fn repeating_an_update_whose_services_are_not_in_name_order_writes_no_second_audit_event() {
    let app = spawn().await;
    let reordered = with(payments_input(2), "services", json!(["payments-api", "ledger"]));
    answer(&call(&app, ADMIN, "updateDeliveryGroup", reordered.clone(), None, &key()).await, "updateDeliveryGroup");
    let current = group(&app, "payments").await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", reordered, None, &key()).await;

    assert_eq!(answer(&response, "updateDeliveryGroup"), current, "nothing changed");
    let events = new_events(&app, &before).await;
    assert!(events.is_empty(), "an update that changes nothing is not audited: {events:#?}");
}

#[tokio::test]
async fn a_service_moves_between_groups_by_leaving_one_and_joining_the_other() {
    let app = spawn().await;
    let taken =
        call(&app, ADMIN, "updateDeliveryGroup", storefront_input(&["checkout-web", "ledger"]), None, &key()).await;
    assert_refused(&taken, "updateDeliveryGroup", "INVALID_REQUEST", "ledger still belongs to payments");
    let leave = with(payments_input(1), "services", json!(["payments-api"]));

    let left = call(&app, ADMIN, "updateDeliveryGroup", leave, Some("ledger moves"), &key()).await;
    let in_between = service(&app, "ledger").await;
    let joined =
        call(&app, ADMIN, "updateDeliveryGroup", storefront_input(&["checkout-web", "ledger"]), None, &key()).await;

    assert_eq!(answer(&left, "updateDeliveryGroup")["services"], json!(["payments-api"]));
    assert!(in_between["deliveryGroupId"].is_null(), "between the two updates ledger is in no group: {in_between}");
    assert_eq!(answer(&joined, "updateDeliveryGroup")["services"], json!(["checkout-web", "ledger"]));
    assert_eq!(service(&app, "ledger").await["deliveryGroupId"], "storefront");
    assert_eq!(group(&app, "payments").await["services"], json!(["payments-api"]));
    let response = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(response.ok()["deploy"]["deliveryGroupId"], "storefront", "deploys follow the move at once");
}

#[tokio::test]
async fn raising_max_concurrent_deployments_lets_a_second_concurrent_deploy_in_at_once() {
    let app = TestApp::builder().catalog(&admin_catalog()).env("DXCP_SIMULATED_DURATION_MS", "120000").spawn().await;
    let first = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    assert!(first.ok()["deploy"]["id"].is_string(), "{}", first.body);
    let refused = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(refused.first_code().as_deref(), Some("CONCURRENCY_LIMIT_REACHED"), "{}", refused.body);

    answer(&call(&app, ADMIN, "updateDeliveryGroup", payments_input(2), None, &key()).await, "updateDeliveryGroup");
    let second = deploy(&app, OWNER, intent("ledger", "1.0.0", "sandbox"), &key()).await;

    let record = &second.ok()["deploy"];
    assert!(record["id"].is_string(), "{}", second.body);
    assert_ne!(record["id"], first.ok()["deploy"]["id"]);
}

#[tokio::test]
async fn delivery_group_validation_errors_are_invalid_request_audited_and_change_nothing() {
    let app = spawn().await;
    let payments_before = group(&app, "payments").await;
    let platform = platform_input;
    let cases = [
        ("a service of another group", with(platform(), "services", json!(["payments-api"]))),
        ("an unknown service", with(platform(), "services", json!(["ghost-service"]))),
        ("maxConcurrentDeployments 0", with(platform(), "guardrails", json!({ "maxConcurrentDeployments": 0 }))),
        ("dailyDeployQuota -1", with(platform(), "guardrails", json!({ "dailyDeployQuota": -1 }))),
        ("dailyRollbackQuota 0", with(platform(), "guardrails", json!({ "dailyRollbackQuota": 0 }))),
        (
            "an unknown recipe",
            with(with(platform(), "allowedRecipes", json!(["ghost"])), "defaultRecipeId", Value::Null),
        ),
        ("an unknown environment", with(platform(), "allowedEnvironments", json!(["prod"]))),
        ("a default recipe the group does not allow", with(platform(), "defaultRecipeId", json!("canary"))),
        ("an invalid id", with(platform(), "id", json!("Bad Id"))),
        ("an empty id", with(platform(), "id", json!(""))),
        ("a blank name", with(platform(), "name", json!("   "))),
        ("an existing id", with(with(platform(), "id", json!("payments")), "services", json!([]))),
    ];

    for (what, input) in cases {
        let event = assert_invalid_create(&app, "createDeliveryGroup", "DELIVERY_GROUP", what, input.clone()).await;
        assert_eq!(event["targetId"], input["id"], "{what}");
        assert!(group(&app, "platform").await.is_null(), "{what}: no group is created");
        assert!(service(&app, "loose").await["deliveryGroupId"].is_null(), "{what}: loose stays groupless");
    }
    let before = audit_log(&app).await;
    let zero = with(payments_input(1), "guardrails", json!({ "maxConcurrentDeployments": 0 }));
    let update = call(&app, ADMIN, "updateDeliveryGroup", zero, None, &key()).await;
    assert_refused(&update, "updateDeliveryGroup", "INVALID_REQUEST", "an update with a guardrail of 0");
    let event = one_new_event(&app, &before, "an update with a guardrail of 0").await;
    assert_denied(&event, "ADMIN_UPDATE", "DELIVERY_GROUP", "admin", "INVALID_REQUEST");
    assert_eq!(group(&app, "payments").await, payments_before, "payments is unchanged");
}

#[tokio::test]
async fn updating_an_unknown_delivery_group_is_not_found_and_creates_nothing() {
    let app = spawn().await;
    let input = with(with(platform_input(), "id", json!("ghost-group")), "services", json!([]));
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "updateDeliveryGroup", input, None, &key()).await;

    assert_refused(&response, "updateDeliveryGroup", "NOT_FOUND", "an unknown group");
    assert!(group(&app, "ghost-group").await.is_null());
    let event = one_new_event(&app, &before, "an unknown group").await;
    assert_denied(&event, "ADMIN_UPDATE", "DELIVERY_GROUP", "admin", "NOT_FOUND");
}

// ---------------------------------------------------------------------------
// Recipes

#[tokio::test]
async fn create_recipe_starts_active_at_revision_one_and_audits_each_given_field_once() {
    const RECIPE_INPUT_FIELDS: [&str; 6] = [
        "name",
        "description",
        "effectiveBehaviorSummary",
        "spinnakerApplication",
        "deployPipeline",
        "rollbackPipeline",
    ];
    let app = spawn().await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "createRecipe", recipe_input("fresh"), Some("two waves"), &key()).await;

    let created = answer(&response, "createRecipe");
    assert_eq!(created["status"], "ACTIVE");
    assert_eq!(created["revision"], 1);
    for field in RECIPE_INPUT_FIELDS {
        assert_eq!(created[field], recipe_input("fresh")[field], "{field}");
    }
    assert_eq!(created["createdBy"], "admin");
    assert_eq!(created["updatedBy"], "admin");
    assert_eq!(created["lastChangeReason"], "two waves");
    assert_eq!(recipe(&app, "fresh").await, created);
    let event = one_new_event(&app, &before, "createRecipe").await;
    assert_eq!(event["eventType"], "ADMIN_CREATE");
    assert_eq!(event["targetType"], "RECIPE");
    assert_eq!(event["targetId"], "fresh");
    let listed = changes(&event);
    for field in RECIPE_INPUT_FIELDS {
        let (old, new) = listed.get(field).unwrap_or_else(|| panic!("{field} is listed: {event}"));
        assert!(old.is_null(), "{field}: a create has no old value");
        assert_eq!(new, &recipe_input("fresh")[field], "{field}");
    }
}

#[tokio::test]
async fn update_recipe_increments_the_revision_only_when_something_changed() {
    let app = spawn().await;
    let original = recipe(&app, "standard").await;
    let input = with(standard_input(), "name", json!("Standard (single pass)"));
    let before = audit_log(&app).await;

    let first = call(&app, ADMIN, "updateRecipe", input.clone(), Some("clearer name"), &key()).await;
    let after_first = audit_log(&app).await;
    let second = call(&app, ADMIN, "updateRecipe", input, Some("clearer name"), &key()).await;

    let changed = answer(&first, "updateRecipe");
    assert_eq!(changed["revision"], 2);
    assert_eq!(changed["name"], "Standard (single pass)");
    assert_eq!(changed["updatedBy"], "admin");
    assert_eq!(changed["lastChangeReason"], "clearer name");
    assert!(instant(&changed["updatedAt"]) > instant(&original["updatedAt"]));
    assert_eq!(changed["createdAt"], original["createdAt"]);
    let event = one_new_event(&app, &before, "updateRecipe").await;
    assert_eq!(event["eventType"], "ADMIN_UPDATE");
    assert_eq!(event["targetType"], "RECIPE");
    assert_eq!(event["targetId"], "standard");
    let listed = changes(&event);
    assert_eq!(listed["name"], (json!("Standard"), json!("Standard (single pass)")));
    for unchanged in [
        "description",
        "status",
        "effectiveBehaviorSummary",
        "spinnakerApplication",
        "deployPipeline",
        "rollbackPipeline",
    ] {
        assert!(!listed.contains_key(unchanged), "{unchanged} did not change: {event}");
    }
    let repeated = answer(&second, "updateRecipe");
    assert_eq!(repeated, changed, "the same input again changes nothing");
    assert_eq!(repeated["revision"], 2);
    assert!(new_events(&app, &after_first).await.is_empty(), "no second audit event");
}

#[tokio::test]
async fn changing_the_engine_mapping_of_a_recipe_a_group_allows_is_refused() {
    let app = spawn().await;
    let original = recipe(&app, "standard").await;

    for (field, value) in [
        ("spinnakerApplication", "other-app"),
        ("deployPipeline", "deploy-standard-v2"),
        ("rollbackPipeline", "rollback-standard-v2"),
    ] {
        let before = audit_log(&app).await;

        let response =
            call(&app, ADMIN, "updateRecipe", with(standard_input(), field, json!(value)), None, &key()).await;

        assert_refused(&response, "updateRecipe", "INVALID_REQUEST", field);
        assert_eq!(recipe(&app, "standard").await, original, "{field}: the recipe is unchanged");
        let event = one_new_event(&app, &before, field).await;
        assert_denied(&event, "ADMIN_UPDATE", "RECIPE", "admin", "INVALID_REQUEST");
    }
}

#[tokio::test]
async fn the_engine_mapping_of_a_recipe_no_group_allows_may_change() {
    let app = spawn().await;
    let before = audit_log(&app).await;

    let response = call(
        &app,
        ADMIN,
        "updateRecipe",
        with(spare_input(), "deployPipeline", json!("deploy-spare-v2")),
        None,
        &key(),
    )
    .await;

    let updated = answer(&response, "updateRecipe");
    assert_eq!(updated["deployPipeline"], "deploy-spare-v2");
    assert_eq!(updated["revision"], 2);
    let event = one_new_event(&app, &before, "updateRecipe").await;
    assert_eq!(changes(&event)["deployPipeline"], (json!("deploy-spare"), json!("deploy-spare-v2")));
    assert!(!changes(&event).contains_key("spinnakerApplication"), "{event}");
}

#[tokio::test]
async fn deprecate_recipe_is_a_change_and_a_deprecated_recipe_refuses_new_deploys() {
    let app = spawn().await;
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "deprecateRecipe", json!("canary"), Some("use standard"), &key()).await;

    let deprecated = answer(&response, "deprecateRecipe");
    assert_eq!(deprecated["status"], "DEPRECATED");
    assert_eq!(deprecated["revision"], 2);
    assert_eq!(deprecated["lastChangeReason"], "use standard");
    assert_eq!(deprecated["updatedBy"], "admin");
    let event = one_new_event(&app, &before, "deprecateRecipe").await;
    assert_eq!(event["eventType"], "ADMIN_UPDATE");
    assert_eq!(event["targetType"], "RECIPE");
    assert_eq!(event["targetId"], "canary");
    assert_eq!(changes(&event)["status"], (json!("ACTIVE"), json!("DEPRECATED")));
    let mut canary = intent("payments-api", "1.0.0", "sandbox");
    canary["recipeId"] = json!("canary");
    let refused = deploy(&app, OWNER, canary, &key()).await;
    assert_eq!(refused.first_code().as_deref(), Some("RECIPE_DEPRECATED"), "{}", refused.body);
    let standard = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    assert_eq!(standard.ok()["deploy"]["recipeId"], "standard", "other recipes still deploy");
}

#[tokio::test]
async fn recipe_validation_errors_are_invalid_request_audited_and_change_nothing() {
    let app = spawn().await;
    let fresh = || recipe_input("fresh");
    let cases = [
        ("an invalid id", with(fresh(), "id", json!("Bad Id"))),
        ("an empty name", with(fresh(), "name", json!(""))),
        ("a blank behaviour summary", with(fresh(), "effectiveBehaviorSummary", json!("   "))),
        ("an empty application", with(fresh(), "spinnakerApplication", json!(""))),
        ("an empty deploy pipeline", with(fresh(), "deployPipeline", json!(""))),
        ("an empty rollback pipeline", with(fresh(), "rollbackPipeline", json!(""))),
        ("an existing id", recipe_input("standard")),
    ];

    for (what, input) in cases {
        assert_invalid_create(&app, "createRecipe", "RECIPE", what, input.clone()).await;
        assert!(recipe(&app, "fresh").await.is_null(), "{what}: nothing is created");
    }
    assert_eq!(recipe(&app, "standard").await["name"], "Standard", "the existing recipe is untouched");
    let blank = call(&app, ADMIN, "updateRecipe", with(standard_input(), "name", json!(" ")), None, &key()).await;
    assert_refused(&blank, "updateRecipe", "INVALID_REQUEST", "an update with a blank name");
    assert_eq!(recipe(&app, "standard").await["revision"], 1);
}

#[tokio::test]
async fn updating_or_deprecating_an_unknown_recipe_is_not_found() {
    let app = spawn().await;

    for (mutation, argument) in
        [("updateRecipe", recipe_input("ghost-recipe")), ("deprecateRecipe", json!("ghost-recipe"))]
    {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, mutation, argument, None, &key()).await;

        assert_refused(&response, mutation, "NOT_FOUND", mutation);
        let event = one_new_event(&app, &before, mutation).await;
        assert_denied(&event, "ADMIN_UPDATE", "RECIPE", "admin", "NOT_FOUND");
        assert_eq!(event["targetId"], "ghost-recipe");
        assert!(recipe(&app, "ghost-recipe").await.is_null(), "{mutation} creates nothing");
    }
}

// ---------------------------------------------------------------------------
// Services and environments

#[tokio::test]
async fn upsert_service_creates_then_updates_a_service_and_audits_each_with_its_changes() {
    let app = spawn().await;
    let before = audit_log(&app).await;
    let create = json!({ "name": "new-svc", "description": "A new service", "compatibleRecipes": ["standard"] });

    let created = call(&app, ADMIN, "upsertService", create, Some("onboarding"), &key()).await;
    let updated =
        call(&app, ADMIN, "upsertService", json!({ "name": "new-svc", "description": "Renamed" }), None, &key()).await;

    assert_eq!(
        answer(&created, "upsertService"),
        json!({ "name": "new-svc", "description": "A new service", "deliveryGroupId": null, "compatibleRecipes": ["standard"] })
    );
    let events = new_events(&app, &before).await;
    assert_eq!(events.len(), 2, "one event per change, newest first: {events:#?}");
    let (updated_event, created_event) = (&events[0], &events[1]);
    assert_eq!(created_event["eventType"], "ADMIN_CREATE");
    assert_eq!(created_event["targetType"], "SERVICE");
    assert_eq!(created_event["targetId"], "new-svc");
    assert_eq!(created_event["serviceName"], "new-svc");
    assert_eq!(changed_fields(created_event), ["compatibleRecipes", "description"], "{created_event}");
    assert_eq!(
        answer(&updated, "upsertService"),
        json!({ "name": "new-svc", "description": "Renamed", "deliveryGroupId": null, "compatibleRecipes": ["standard"] }),
        "omitted compatibleRecipes keep their value"
    );
    assert_eq!(updated_event["eventType"], "ADMIN_UPDATE");
    assert_eq!(updated_event["targetType"], "SERVICE");
    assert_eq!(
        changes(updated_event),
        BTreeMap::from([("description".to_owned(), (json!("A new service"), json!("Renamed")))])
    );
}

#[tokio::test]
async fn upsert_service_keeps_the_group_of_a_grouped_service() {
    let app = spawn().await;

    let response =
        call(&app, ADMIN, "upsertService", json!({ "name": "ledger", "description": "Ledger" }), None, &key()).await;

    let updated = answer(&response, "upsertService");
    assert_eq!(updated["deliveryGroupId"], "payments");
    assert_eq!(updated["compatibleRecipes"], json!(["standard"]));
}

#[tokio::test]
async fn upsert_environment_creates_then_updates_an_environment_and_audits_each_with_its_changes() {
    let app = spawn().await;
    let before = audit_log(&app).await;
    let create =
        json!({ "name": "prod", "displayName": "Production", "type": "PROD", "promotionOrder": 3, "enabled": true });

    let created = call(&app, ADMIN, "upsertEnvironment", create, Some("go live"), &key()).await;
    let update =
        json!({ "name": "prod", "displayName": "Production", "type": "PROD", "promotionOrder": 9, "enabled": true });
    let updated = call(&app, ADMIN, "upsertEnvironment", update, None, &key()).await;

    assert_eq!(
        answer(&created, "upsertEnvironment"),
        json!({ "name": "prod", "displayName": "Production", "type": "PROD", "promotionOrder": 3, "enabled": true })
    );
    let events = new_events(&app, &before).await;
    assert_eq!(events.len(), 2, "one event per change, newest first: {events:#?}");
    let (updated_event, created_event) = (&events[0], &events[1]);
    assert_eq!(created_event["eventType"], "ADMIN_CREATE");
    assert_eq!(created_event["targetType"], "ENVIRONMENT");
    assert_eq!(created_event["targetId"], "prod");
    assert_eq!(changed_fields(created_event), ["displayName", "enabled", "promotionOrder", "type"], "{created_event}");
    assert_eq!(answer(&updated, "upsertEnvironment")["promotionOrder"], 9);
    assert_eq!(environment(&app, "prod").await["promotionOrder"], 9);
    assert_eq!(updated_event["eventType"], "ADMIN_UPDATE");
    assert_eq!(updated_event["targetType"], "ENVIRONMENT");
    assert_eq!(changes(updated_event), BTreeMap::from([("promotionOrder".to_owned(), (json!("3"), json!("9")))]));
}

#[tokio::test]
async fn disabling_an_environment_refuses_deploys_there_at_once() {
    let app = spawn().await;
    let before = audit_log(&app).await;
    let disable = json!({ "name": "staging", "displayName": "Staging", "type": "NON_PROD", "promotionOrder": 2, "enabled": false });

    let response = call(&app, ADMIN, "upsertEnvironment", disable, Some("freeze"), &key()).await;
    let refused = deploy(&app, OWNER, intent("payments-api", "1.0.0", "staging"), &key()).await;

    assert_eq!(answer(&response, "upsertEnvironment")["enabled"], false);
    let event =
        new_events(&app, &before).await.into_iter().find(|e| e["eventType"] == "ADMIN_UPDATE").expect("audited");
    assert_eq!(changes(&event), BTreeMap::from([("enabled".to_owned(), (json!("true"), json!("false")))]));
    assert_eq!(refused.first_code().as_deref(), Some("ENVIRONMENT_DISABLED"), "{}", refused.body);
    let sandbox = deploy(&app, OWNER, intent("payments-api", "1.0.0", "sandbox"), &key()).await;
    assert!(sandbox.ok()["deploy"]["id"].is_string(), "other environments still deploy");
}

/// `upsertService` and `upsertEnvironment` refuse invalid input alike.
#[tokio::test]
async fn service_and_environment_validation_errors_are_invalid_request_and_audited() {
    let app = spawn().await;
    let cases = [
        ("upsertService", "an invalid name", json!({ "name": "Bad_Name" })),
        ("upsertService", "an empty name", json!({ "name": "" })),
        ("upsertService", "an unknown compatible recipe", json!({ "name": "new-svc", "compatibleRecipes": ["ghost"] })),
        (
            "upsertService",
            "a recipe listed twice",
            json!({ "name": "new-svc", "compatibleRecipes": ["standard", "standard"] }),
        ),
        ("upsertEnvironment", "an invalid name", json!({ "name": "Prod Env", "type": "PROD", "enabled": true })),
        (
            "upsertEnvironment",
            "a blank display name",
            json!({ "name": "prod", "displayName": "  ", "type": "PROD", "enabled": true }),
        ),
    ];

    for (mutation, what, input) in cases {
        if mutation == "upsertService" {
            assert_invalid_create(&app, mutation, "SERVICE", what, input).await;
            assert!(service(&app, "new-svc").await.is_null(), "{what}: nothing is created");
        } else {
            assert_invalid_create(&app, mutation, "ENVIRONMENT", what, input).await;
            assert!(environment(&app, "prod").await.is_null(), "{what}: nothing is created");
        }
    }
}

// ---------------------------------------------------------------------------
// System settings

#[tokio::test]
async fn update_system_settings_audits_one_change_per_changed_field() {
    let app = spawn().await;
    let original = settings(&app).await;
    let before = audit_log(&app).await;
    let input = json!({ "readRpm": 900, "mutateRpm": original["mutateRpm"], "dailyBuildRegisterQuota": 5 });

    let response = call(&app, ADMIN, "updateSystemSettings", input, Some("busier CI"), &key()).await;

    let updated = answer(&response, "updateSystemSettings");
    assert_eq!(updated["readRpm"], 900);
    assert_eq!(updated["dailyBuildRegisterQuota"], 5);
    assert_eq!(updated["mutateRpm"], original["mutateRpm"]);
    assert_eq!(updated["mutationsDisabled"], false);
    assert_eq!(settings(&app).await, updated, "the settings read back as answered");
    let event = one_new_event(&app, &before, "updateSystemSettings").await;
    assert_eq!(event["eventType"], "SETTINGS_UPDATE");
    assert_eq!(event["targetType"], "SETTINGS");
    assert_eq!(event["outcome"], "SUCCESS");
    let listed = changes(&event);
    assert_eq!(changed_fields(&event), ["dailyBuildRegisterQuota", "readRpm"], "{event}");
    assert_eq!(listed["readRpm"], (json!("600"), json!("900")));
    assert_eq!(listed["dailyBuildRegisterQuota"].1, "5");
}

#[tokio::test]
async fn rates_outside_1_to_100000_and_a_zero_build_quota_are_refused_with_invalid_request() {
    let app = spawn().await;
    let original = settings(&app).await;
    let cases = [
        ("readRpm 0", json!({ "readRpm": 0 })),
        ("readRpm 100001", json!({ "readRpm": 100_001 })),
        ("mutateRpm 0", json!({ "mutateRpm": 0 })),
        ("mutateRpm 100001", json!({ "mutateRpm": 100_001 })),
        ("dailyBuildRegisterQuota 0", json!({ "dailyBuildRegisterQuota": 0 })),
    ];

    for (what, input) in cases {
        let before = audit_log(&app).await;

        let response = call(&app, ADMIN, "updateSystemSettings", input, None, &key()).await;

        assert_refused(&response, "updateSystemSettings", "INVALID_REQUEST", what);
        let event = one_new_event(&app, &before, what).await;
        assert_denied(&event, "SETTINGS_UPDATE", "SETTINGS", "admin", "INVALID_REQUEST");
        assert_eq!(settings(&app).await, original, "{what}: settings are unchanged");
    }
    let bounds =
        call(&app, ADMIN, "updateSystemSettings", json!({ "readRpm": 100_000, "mutateRpm": 1 }), None, &key()).await;
    let accepted = answer(&bounds, "updateSystemSettings");
    assert_eq!((&accepted["readRpm"], &accepted["mutateRpm"]), (&json!(100_000), &json!(1)), "the bounds are valid");
}

// ---------------------------------------------------------------------------
// Idempotency

#[tokio::test]
async fn replaying_an_admin_mutation_with_its_key_returns_the_same_result_without_a_second_audit_event() {
    let app = spawn().await;
    let cases = [
        ("createDeliveryGroup", platform_input()),
        ("updateDeliveryGroup", payments_input(4)),
        ("createRecipe", recipe_input("fresh")),
        ("updateRecipe", with(standard_input(), "name", json!("Standard v2"))),
        ("deprecateRecipe", json!("canary")),
        ("upsertService", json!({ "name": "new-svc" })),
        ("upsertEnvironment", json!({ "name": "prod", "type": "PROD", "enabled": true })),
        ("updateSystemSettings", json!({ "readRpm": 700 })),
    ];

    for (mutation, argument) in cases {
        let reused = key();
        let first = call(&app, ADMIN, mutation, argument.clone(), Some("once"), &reused).await;
        let after_first = audit_log(&app).await;

        let replay = call(&app, ADMIN, mutation, argument, Some("once"), &reused).await;

        assert_eq!(answer(&replay, mutation), answer(&first, mutation), "{mutation}: the same result");
        assert!(new_events(&app, &after_first).await.is_empty(), "{mutation}: a replay writes no audit event");
    }
    assert_eq!(recipe(&app, "standard").await["revision"], 2, "the replayed update did not apply twice");
    assert_eq!(recipe(&app, "canary").await["revision"], 2, "the replayed deprecation did not apply twice");
}

#[tokio::test]
async fn the_same_key_with_a_different_input_is_an_idempotency_conflict() {
    let app = spawn().await;
    let reused = key();
    answer(&call(&app, ADMIN, "createRecipe", recipe_input("fresh"), None, &reused).await, "createRecipe");
    let before = audit_log(&app).await;

    let response = call(&app, ADMIN, "createRecipe", recipe_input("other"), None, &reused).await;

    assert_refused(&response, "createRecipe", "IDEMPOTENCY_CONFLICT", "another input under the same key");
    assert!(recipe(&app, "other").await.is_null(), "the second input is not applied");
    assert_eq!(recipe(&app, "fresh").await["revision"], 1);
    let event = one_new_event(&app, &before, "idempotency conflict").await;
    assert_denied(&event, "ADMIN_CREATE", "RECIPE", "admin", "IDEMPOTENCY_CONFLICT");
    let settings_key = key();
    answer(
        &call(&app, ADMIN, "updateSystemSettings", json!({ "readRpm": 700 }), None, &settings_key).await,
        "updateSystemSettings",
    );
    let conflict = call(&app, ADMIN, "updateSystemSettings", json!({ "readRpm": 800 }), None, &settings_key).await;
    assert_refused(&conflict, "updateSystemSettings", "IDEMPOTENCY_CONFLICT", "settings under a used key");
    assert_eq!(settings(&app).await["readRpm"], 700);
}
