//! The admin previews (DESIGN §11.1): `previewDeliveryGroup` and
//! `previewRecipe` list every problem the matching mutation would refuse
//! (ERROR, with the input field) and legal but risky choices (WARNING),
//! run the mutations' own validator, write and audit nothing, and are
//! PLATFORM_ADMIN only.

use serde_json::{json, Value};

use crate::harness::{admin::*, graphql::key, GqlResponse, TestApp, ADMIN, CI, OBSERVER, OWNER};

const PREVIEW_GROUP: &str = "query($input: DeliveryGroupInput!) {
    previewDeliveryGroup(input: $input) { status messages { severity field message } }
}";
const PREVIEW_RECIPE: &str = "query($input: RecipeInput!) {
    previewRecipe(input: $input) { status messages { severity field message } }
}";

async fn preview(app: &TestApp, query: &str, field: &str, input: Value) -> Value {
    let response = app.admin(query, json!({ "input": input })).await;
    response.ok()[field].clone()
}

async fn preview_group(app: &TestApp, input: Value) -> Value {
    preview(app, PREVIEW_GROUP, "previewDeliveryGroup", input).await
}

async fn preview_recipe(app: &TestApp, input: Value) -> Value {
    preview(app, PREVIEW_RECIPE, "previewRecipe", input).await
}

/// The (severity, field) of every message, in order.
fn listed(preview: &Value) -> Vec<(String, String)> {
    let messages = preview["messages"].as_array().expect("messages");
    messages
        .iter()
        .map(|m| (m["severity"].as_str().expect("severity").to_owned(), m["field"].as_str().expect("field").to_owned()))
        .collect()
}

fn expected(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(s, f)| ((*s).to_owned(), (*f).to_owned())).collect()
}

fn message(preview: &Value, index: usize) -> String {
    preview["messages"][index]["message"].as_str().expect("a message").to_owned()
}

/// The message of a refused mutation.
fn refusal(response: &GqlResponse, mutation: &str) -> String {
    assert_refused(response, mutation, "INVALID_REQUEST", mutation);
    response.errors()[0]["message"].as_str().expect("an error message").to_owned()
}

fn without_guardrails(mut input: Value) -> Value {
    input.as_object_mut().expect("an object").remove("guardrails");
    input
}

// ---------------------------------------------------------------------------
// Delivery groups

#[tokio::test]
async fn a_valid_group_is_ok_and_omitted_guardrails_are_the_only_warnings() {
    let app = spawn().await;

    let complete = preview_group(&app, platform_input()).await;
    let defaults = preview_group(&app, without_guardrails(platform_input())).await;
    let existing = preview_group(&app, payments_input(3)).await;

    assert_eq!(complete, json!({ "status": "OK", "messages": [] }));
    assert_eq!(existing, json!({ "status": "OK", "messages": [] }), "an update of an existing group");
    assert_eq!(defaults["status"], "WARNING", "{defaults}");
    assert_eq!(
        listed(&defaults),
        expected(&[
            ("WARNING", "guardrails.maxConcurrentDeployments"),
            ("WARNING", "guardrails.dailyDeployQuota"),
            ("WARNING", "guardrails.dailyRollbackQuota"),
        ])
    );
    assert!(message(&defaults, 0).contains("default, 1"), "{defaults}");
    assert!(message(&defaults, 1).contains("default, 25"), "{defaults}");
    assert!(message(&defaults, 2).contains("default, 10"), "{defaults}");
}

#[tokio::test]
async fn every_problem_of_a_group_is_an_error_in_order_and_the_first_is_what_the_mutations_refuse_with() {
    let app = spawn().await;
    let input = json!({
        "id": "platform",
        "name": "   ",
        "members": ["owner", "owner"],
        "services": ["ghost", "ledger", "loose"],
        "allowedRecipes": ["standard", "nope"],
        "allowedEnvironments": ["sandbox", "moon"],
        "defaultRecipeId": "canary",
        "guardrails": { "maxConcurrentDeployments": 0, "dailyDeployQuota": 25, "dailyRollbackQuota": -3 },
    });

    let found = preview_group(&app, input.clone()).await;
    let created = call(&app, ADMIN, "createDeliveryGroup", input, None, &key()).await;

    assert_eq!(found["status"], "ERROR", "{found}");
    assert_eq!(
        listed(&found),
        expected(&[
            ("ERROR", "name"),
            ("ERROR", "members"),
            ("ERROR", "allowedRecipes"),
            ("ERROR", "allowedEnvironments"),
            ("ERROR", "defaultRecipeId"),
            ("ERROR", "services"),
            ("ERROR", "services"),
            ("ERROR", "guardrails.maxConcurrentDeployments"),
            ("ERROR", "guardrails.dailyRollbackQuota"),
        ]),
        "{found}"
    );
    assert!(message(&found, 2).contains("'nope'"), "{found}");
    assert!(message(&found, 3).contains("'moon'"), "{found}");
    assert!(message(&found, 5).contains("'ghost'"), "{found}");
    assert!(message(&found, 6).contains("delivery group 'payments'"), "{found}");
    assert_eq!(message(&found, 0), refusal(&created, "createDeliveryGroup"), "one validator");

    // The update of an existing group: its first problem is the update's refusal.
    let zero = with(payments_input(0), "allowedEnvironments", json!(["sandbox", "prod"]));
    let found = preview_group(&app, zero.clone()).await;
    let updated = call(&app, ADMIN, "updateDeliveryGroup", zero, None, &key()).await;
    assert_eq!(
        listed(&found),
        expected(&[("ERROR", "allowedEnvironments"), ("ERROR", "guardrails.maxConcurrentDeployments")]),
        "{found}"
    );
    assert_eq!(message(&found, 0), refusal(&updated, "updateDeliveryGroup"), "one validator");
}

#[tokio::test]
async fn a_group_preview_warns_of_no_services_recipes_or_environments_default_guardrails_and_a_deprecated_default() {
    let app = spawn().await;
    answer(&call(&app, ADMIN, "deprecateRecipe", json!("canary"), None, &key()).await, "deprecateRecipe");
    let deprecated_default = json!({
        "id": "bare",
        "name": "Bare",
        "services": [],
        "allowedRecipes": ["canary"],
        "allowedEnvironments": [],
        "defaultRecipeId": "canary",
        "guardrails": { "dailyDeployQuota": 7 },
    });
    let no_recipes = json!({
        "id": "empty",
        "name": "Empty",
        "services": [],
        "allowedRecipes": [],
        "allowedEnvironments": ["sandbox"],
        "guardrails": { "maxConcurrentDeployments": 1, "dailyDeployQuota": 7, "dailyRollbackQuota": 2 },
    });

    let first = preview_group(&app, deprecated_default.clone()).await;
    let second = preview_group(&app, no_recipes.clone()).await;

    assert_eq!(first["status"], "WARNING", "{first}");
    assert_eq!(
        listed(&first),
        expected(&[
            ("WARNING", "services"),
            ("WARNING", "allowedEnvironments"),
            ("WARNING", "guardrails.maxConcurrentDeployments"),
            ("WARNING", "guardrails.dailyRollbackQuota"),
            ("WARNING", "defaultRecipeId"),
        ]),
        "{first}"
    );
    assert!(message(&first, 4).contains("'canary' is deprecated"), "{first}");
    assert_eq!(second["status"], "WARNING", "{second}");
    assert_eq!(listed(&second), expected(&[("WARNING", "services"), ("WARNING", "allowedRecipes")]), "{second}");

    // Warnings are not refusals: the mutation accepts both inputs.
    answer(&call(&app, ADMIN, "createDeliveryGroup", deprecated_default, None, &key()).await, "createDeliveryGroup");
    answer(&call(&app, ADMIN, "createDeliveryGroup", no_recipes, None, &key()).await, "createDeliveryGroup");
}

#[tokio::test]
async fn errors_come_before_warnings_and_make_the_status_error() {
    let app = spawn().await;
    let input = with(without_guardrails(platform_input()), "services", json!(["ghost"]));

    let found = preview_group(&app, input).await;

    assert_eq!(found["status"], "ERROR", "{found}");
    assert_eq!(
        listed(&found),
        expected(&[
            ("ERROR", "services"),
            ("WARNING", "guardrails.maxConcurrentDeployments"),
            ("WARNING", "guardrails.dailyDeployQuota"),
            ("WARNING", "guardrails.dailyRollbackQuota"),
        ]),
        "{found}"
    );
}

// ---------------------------------------------------------------------------
// Recipes

#[tokio::test]
async fn a_valid_recipe_is_ok_and_every_problem_of_a_recipe_is_an_error_like_the_mutation_refuses() {
    let app = spawn().await;
    let bad = json!({
        "id": "Bad Id",
        "name": "",
        "effectiveBehaviorSummary": "   ",
        "spinnakerApplication": "app",
        "deployPipeline": "",
        "rollbackPipeline": "rollback",
    });

    let fresh = preview_recipe(&app, recipe_input("fresh")).await;
    let renamed = preview_recipe(&app, with(standard_input(), "name", json!("Standard v2"))).await;
    let found = preview_recipe(&app, bad.clone()).await;
    let created = call(&app, ADMIN, "createRecipe", bad, None, &key()).await;

    assert_eq!(fresh, json!({ "status": "OK", "messages": [] }));
    assert_eq!(renamed, json!({ "status": "OK", "messages": [] }), "a rename keeps the engine mapping");
    assert_eq!(found["status"], "ERROR", "{found}");
    assert_eq!(
        listed(&found),
        expected(&[
            ("ERROR", "id"),
            ("ERROR", "name"),
            ("ERROR", "effectiveBehaviorSummary"),
            ("ERROR", "deployPipeline"),
        ]),
        "{found}"
    );
    assert_eq!(message(&found, 0), refusal(&created, "createRecipe"), "one validator");
}

#[tokio::test]
async fn changing_the_engine_mapping_of_a_recipe_in_use_is_an_error_on_the_first_changed_field() {
    let app = spawn().await;
    let pipeline = with(standard_input(), "deployPipeline", json!("deploy-standard-v2"));
    let both = with(with(standard_input(), "rollbackPipeline", json!("r2")), "spinnakerApplication", json!("a2"));
    let unused = with(spare_input(), "deployPipeline", json!("deploy-spare-v2"));

    let found = preview_recipe(&app, pipeline.clone()).await;
    let first_changed = preview_recipe(&app, both).await;
    let free = preview_recipe(&app, unused).await;
    let updated = call(&app, ADMIN, "updateRecipe", pipeline, None, &key()).await;

    assert_eq!(listed(&found), expected(&[("ERROR", "deployPipeline")]), "{found}");
    assert!(message(&found, 0).contains("payments, storefront"), "{found}");
    assert_eq!(message(&found, 0), refusal(&updated, "updateRecipe"), "the mutation's own check");
    assert_eq!(listed(&first_changed), expected(&[("ERROR", "spinnakerApplication")]), "{first_changed}");
    assert_eq!(free, json!({ "status": "OK", "messages": [] }), "no group uses spare");

    // Field problems come first, then the engine mapping.
    let blank = with(with(standard_input(), "name", json!(" ")), "rollbackPipeline", json!("r2"));
    let found = preview_recipe(&app, blank).await;
    assert_eq!(listed(&found), expected(&[("ERROR", "name"), ("ERROR", "rollbackPipeline")]), "{found}");
}

// ---------------------------------------------------------------------------
// Read-only, admin-only

#[tokio::test]
async fn previews_write_and_audit_nothing() {
    let app = spawn().await;
    let audit_before = audit_log(&app).await;
    let payments = group(&app, "payments").await;
    let standard = recipe(&app, "standard").await;

    preview_group(&app, platform_input()).await;
    preview_group(&app, payments_input(4)).await;
    preview_group(&app, with(platform_input(), "services", json!(["ghost"]))).await;
    preview_recipe(&app, recipe_input("fresh")).await;
    preview_recipe(&app, with(standard_input(), "name", json!("Standard v2"))).await;
    preview_recipe(&app, with(standard_input(), "deployPipeline", json!("elsewhere"))).await;

    assert_eq!(audit_log(&app).await, audit_before, "no audit event");
    assert_eq!(group(&app, "payments").await, payments, "payments is unchanged");
    assert_eq!(recipe(&app, "standard").await, standard, "standard is unchanged");
    assert!(group(&app, "platform").await.is_null(), "no group is created");
    assert!(recipe(&app, "fresh").await.is_null(), "no recipe is created");
    assert!(service(&app, "loose").await["deliveryGroupId"].is_null(), "loose stays groupless");
}

#[tokio::test]
async fn owners_observers_and_ci_publishers_are_refused_role_forbidden_and_not_audited() {
    let app = spawn().await;
    let audit_before = audit_log(&app).await;

    for token in [OWNER, OBSERVER, CI] {
        for (query, field, input) in [
            (PREVIEW_GROUP, "previewDeliveryGroup", platform_input()),
            (PREVIEW_RECIPE, "previewRecipe", recipe_input("fresh")),
        ] {
            let response = app.gql_as(Some(token), query, json!({ "input": input })).await;

            assert_eq!(response.codes(), ["ROLE_FORBIDDEN"], "{field} by {token}: {}", response.body);
            let data = response.data();
            assert!(data.is_null() || data[field].is_null(), "{field} by {token}: {}", response.body);
        }
    }
    assert_eq!(audit_log(&app).await, audit_before, "refused reads are not audited");
}
