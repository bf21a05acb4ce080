//! Test catalogues (TOML the server loads with `TestAppBuilder::catalog`):
//! the policy-corner catalogue of the deploy tests, the admin tests' one, and
//! the demo catalogue with other guardrails.

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

/// The environments both test catalogues have.
const SANDBOX_AND_STAGING: &str = r#"[[environments]]
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
"#;

/// The `canary` recipe both test catalogues have.
const CANARY_RECIPE: &str = r#"[[recipes]]
id = "canary"
name = "Canary"
effective_behavior_summary = "Canary, then full rollout."
spinnaker_application = "test-app"
deploy_pipeline = "deploy-canary"
rollback_pipeline = "rollback-canary"
"#;

/// `[[services]]` entries: a name and, when given, the TOML array of its
/// compatible recipes.
fn services_toml(services: &[(&str, Option<&str>)]) -> String {
    let mut toml = String::new();
    for (name, compatible) in services {
        toml.push_str(&format!("\n[[services]]\nname = \"{name}\"\n"));
        if let Some(compatible) = compatible {
            toml.push_str(&format!("compatible_recipes = {compatible}\n"));
        }
    }
    toml
}

/// `toml` with a build entry for each `(service, version)`.
fn with_builds(mut toml: String, builds: &[(&str, &str)]) -> String {
    for (n, (service, version)) in builds.iter().enumerate() {
        toml.push_str(&build_entry(n + 1, service, version));
    }
    toml
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
    let toml = format!(
        r#"
ci_publishers = ["ci"]

{SANDBOX_AND_STAGING}
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

{CANARY_RECIPE}
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
"#
    ) + &services_toml(&[
        ("payments-api", Some("[]")),
        ("ledger", Some(r#"["standard"]"#)),
        ("batch-job", None),
        ("orphan", None),
    ]);
    let builds = [
        ("payments-api", "1.0.0"),
        ("payments-api", "1.1.0"),
        ("payments-api", "1.2.0"),
        ("ledger", "1.0.0"),
        ("batch-job", "1.0.0"),
        ("orphan", "1.0.0"),
    ];
    with_builds(toml, &builds)
}

/// The demo catalogue with the payments group's concurrency and daily
/// deploy quota replaced.
pub fn catalog_with_payments_guardrails(max_concurrent: u32, daily_deploy_quota: u32) -> String {
    const DEMO_GUARDRAILS: &str =
        "guardrails = { max_concurrent_deployments = 1, daily_deploy_quota = 25, daily_rollback_quota = 10 }";
    let demo = dxcp::catalog_file::DEMO_CATALOG;
    assert_eq!(demo.matches(DEMO_GUARDRAILS).count(), 1, "the demo catalogue's payments guardrails changed");
    demo.replacen(
        DEMO_GUARDRAILS,
        &format!(
            "guardrails = {{ max_concurrent_deployments = {max_concurrent}, \
             daily_deploy_quota = {daily_deploy_quota}, daily_rollback_quota = 10 }}"
        ),
        1,
    )
}

/// A catalogue for these tests:
/// - `payments` (services ledger and payments-api; recipes standard and
///   canary; sandbox and staging; guardrails 1/25/10; member `owner`);
/// - `storefront` (checkout-web; standard; sandbox; member `owner`);
/// - recipe `spare`, allowed by no group; service `loose`, in no group;
/// - a build 1.0.0 of every service and 1.1.0 of payments-api.
pub fn admin_catalog() -> String {
    let toml = format!(
        r#"
ci_publishers = ["ci"]

{SANDBOX_AND_STAGING}
[[recipes]]
id = "standard"
name = "Standard"
description = "Single pass"
effective_behavior_summary = "Deploys the version in one pass."
spinnaker_application = "test-app"
deploy_pipeline = "deploy-standard"
rollback_pipeline = "rollback-standard"

{CANARY_RECIPE}
[[recipes]]
id = "spare"
name = "Spare"
effective_behavior_summary = "Allowed by no group."
spinnaker_application = "spare-app"
deploy_pipeline = "deploy-spare"
rollback_pipeline = "rollback-spare"

[[delivery_groups]]
id = "payments"
name = "Payments"
description = "Card payments"
owner = "team-payments"
members = ["owner"]
services = ["ledger", "payments-api"]
allowed_recipes = ["standard", "canary"]
allowed_environments = ["sandbox", "staging"]
default_recipe_id = "standard"
guardrails = {{ max_concurrent_deployments = 1, daily_deploy_quota = 25, daily_rollback_quota = 10 }}

[[delivery_groups]]
id = "storefront"
name = "Storefront"
members = ["owner"]
services = ["checkout-web"]
allowed_recipes = ["standard"]
allowed_environments = ["sandbox"]
default_recipe_id = "standard"
guardrails = {{ max_concurrent_deployments = 1, daily_deploy_quota = 25, daily_rollback_quota = 10 }}
"#,
    ) + &services_toml(&[
        ("payments-api", None),
        ("ledger", Some(r#"["standard"]"#)),
        ("checkout-web", None),
        ("loose", None),
    ]);
    let builds = [
        ("payments-api", "1.0.0"),
        ("payments-api", "1.1.0"),
        ("ledger", "1.0.0"),
        ("checkout-web", "1.0.0"),
        ("loose", "1.0.0"),
    ];
    with_builds(toml, &builds)
}
