//! The catalogue file (DESIGN §9): parsed, validated as a whole, and loaded
//! into a database that has no delivery group yet. An invalid file stops
//! startup with an error naming the entry and the field.
//!
//! Every rule an administrator's mutation obeys is checked here by the same
//! validator (`domain::admin`, `domain::build`); this module adds only what
//! belongs to a whole file: uniqueness within it and the order in which
//! entries may refer to each other.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{
    domain::{
        admin::{
            validate_environment, validate_group, validate_recipe, validate_service, Authored, EnvironmentInput,
            GroupInput, Known, RecipeInput, ServiceInput,
        },
        build::{Build, BuildRegistration},
        catalog::{DeliveryGroup, Environment, EnvironmentType, Recipe, RecipeStatus, Service},
        FieldError,
    },
    store::catalog::CatalogSnapshot,
};

/// The demo catalogue compiled into the binary: the default when
/// `DXCP_CATALOG` is not set.
pub const DEMO_CATALOG: &str = include_str!("../config/demo-catalog.toml");

/// Who the catalogue's rows are attributed to.
pub const CATALOG_ACTOR: &str = "catalog";

#[derive(Debug, thiserror::Error)]
#[error("invalid catalogue: {entry}.{field}: {problem}")]
pub struct CatalogError {
    /// e.g. `delivery_groups[1] (id 'payments')`
    pub entry: String,
    pub field: String,
    pub problem: String,
}

fn err(entry: &str, field: &str, problem: impl Into<String>) -> CatalogError {
    CatalogError { entry: entry.to_owned(), field: field.to_owned(), problem: problem.into() }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    ci_publishers: Vec<String>,
    #[serde(default)]
    environments: Vec<EnvironmentEntry>,
    #[serde(default)]
    recipes: Vec<RecipeEntry>,
    #[serde(default)]
    delivery_groups: Vec<GroupEntry>,
    #[serde(default)]
    services: Vec<ServiceEntry>,
    #[serde(default)]
    builds: Vec<BuildRegistration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentEntry {
    name: String,
    display_name: Option<String>,
    #[serde(rename = "type")]
    env_type: String,
    promotion_order: Option<i32>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeEntry {
    id: String,
    name: String,
    description: Option<String>,
    effective_behavior_summary: String,
    spinnaker_application: String,
    deploy_pipeline: String,
    rollback_pipeline: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupEntry {
    id: String,
    name: String,
    description: Option<String>,
    owner: Option<String>,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    allowed_recipes: Vec<String>,
    #[serde(default)]
    allowed_environments: Vec<String>,
    default_recipe_id: Option<String>,
    #[serde(default)]
    guardrails: GuardrailsEntry,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardrailsEntry {
    max_concurrent_deployments: Option<i32>,
    daily_deploy_quota: Option<i32>,
    daily_rollback_quota: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    name: String,
    description: Option<String>,
    #[serde(default)]
    compatible_recipes: Vec<String>,
}

/// A parsed and validated catalogue, plus the CI publisher allowlist that
/// seeds the system settings.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub snapshot: CatalogSnapshot,
    pub ci_publishers: Vec<String>,
}

/// Parses and validates a catalogue document. `now` stamps created/updated
/// times and build registration.
pub fn parse(text: &str, now: DateTime<Utc>) -> Result<Catalog, CatalogError> {
    let file: CatalogFile = toml::from_str(text).map_err(|e| {
        let span = e.span().map(|s| format!(" at byte {}", s.start)).unwrap_or_default();
        err("file", "syntax", format!("{}{span}", e.message()))
    })?;
    let environments = environments(&file.environments)?;
    let recipes = recipes(&file.recipes, now)?;
    let mut known = Known {
        recipes: recipes.iter().map(|r| r.id.clone()).collect(),
        deprecated_recipes: recipes
            .iter()
            .filter(|r| r.status == RecipeStatus::Deprecated)
            .map(|r| r.id.clone())
            .collect(),
        environments: environments.iter().map(|e| e.name.clone()).collect(),
        services: HashMap::new(),
    };
    let mut services = services(&file.services, &known)?;
    known.services = services.iter().map(|s| (s.name.clone(), None)).collect();
    let groups = groups(&file.delivery_groups, &mut known, &mut services, now)?;
    let builds = builds(&file.builds, &services, now)?;
    Ok(Catalog {
        snapshot: CatalogSnapshot { environments, recipes, delivery_groups: groups, services, builds },
        ci_publishers: file.ci_publishers,
    })
}

/// A validator's refusal, named in the file's terms: the entry, and the
/// field under its snake_case key.
fn refused(entry: &str, error: FieldError) -> CatalogError {
    err(entry, &snake_case(error.field), error.message)
}

/// `guardrails.maxConcurrentDeployments` -> `guardrails.max_concurrent_deployments`.
fn snake_case(wire: &str) -> String {
    let mut out = String::with_capacity(wire.len() + 4);
    for c in wire.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Catalogue rows are attributed to [`CATALOG_ACTOR`], at load time.
fn catalog_authored(now: DateTime<Utc>) -> Authored {
    Authored { actor: CATALOG_ACTOR.to_owned(), at: now, reason: None }
}

fn check_unique<'a>(seen: &mut HashSet<&'a str>, entry: &str, field: &str, value: &'a str) -> Result<(), CatalogError> {
    if seen.insert(value) {
        Ok(())
    } else {
        Err(err(entry, field, format!("'{value}' appears twice")))
    }
}

fn environments(entries: &[EnvironmentEntry]) -> Result<Vec<Environment>, CatalogError> {
    let mut seen = HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let entry = format!("environments[{i}] (name '{}')", e.name);
            let env_type = EnvironmentType::parse(&e.env_type)
                .ok_or_else(|| err(&entry, "type", format!("'{}' is not NON_PROD or PROD", e.env_type)))?;
            let environment = validate_environment(&EnvironmentInput {
                name: e.name.clone(),
                display_name: e.display_name.clone(),
                env_type,
                promotion_order: e.promotion_order,
                enabled: e.enabled,
            })
            .map_err(|error| refused(&entry, error))?;
            check_unique(&mut seen, &entry, "name", &e.name)?;
            Ok(environment)
        })
        .collect()
}

fn recipes(entries: &[RecipeEntry], now: DateTime<Utc>) -> Result<Vec<Recipe>, CatalogError> {
    let mut seen = HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let entry = format!("recipes[{i}] (id '{}')", r.id);
            let input = RecipeInput {
                id: r.id.clone(),
                name: r.name.clone(),
                description: r.description.clone(),
                effective_behavior_summary: r.effective_behavior_summary.clone(),
                spinnaker_application: r.spinnaker_application.clone(),
                deploy_pipeline: r.deploy_pipeline.clone(),
                rollback_pipeline: r.rollback_pipeline.clone(),
            };
            validate_recipe(&input).map_err(|error| refused(&entry, error))?;
            check_unique(&mut seen, &entry, "id", &r.id)?;
            let status = match r.status.as_deref() {
                None => RecipeStatus::Active,
                Some(s) => RecipeStatus::parse(s)
                    .ok_or_else(|| err(&entry, "status", format!("'{s}' is not ACTIVE or DEPRECATED")))?,
            };
            Ok(Recipe { status, ..input.into_new_recipe(catalog_authored(now)) })
        })
        .collect()
}

fn services(entries: &[ServiceEntry], known: &Known) -> Result<Vec<Service>, CatalogError> {
    let mut seen = HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let entry = format!("services[{i}] (name '{}')", s.name);
            let input = ServiceInput {
                name: s.name.clone(),
                description: s.description.clone(),
                compatible_recipes: Some(s.compatible_recipes.clone()),
            };
            validate_service(&input, known).map_err(|error| refused(&entry, error))?;
            check_unique(&mut seen, &entry, "name", &s.name)?;
            Ok(Service {
                name: input.name,
                description: input.description,
                delivery_group_id: None,
                compatible_recipes: s.compatible_recipes.clone(),
            })
        })
        .collect()
}

/// Validates groups in file order and records each service's group on
/// `services`, so a later group naming an earlier group's service is
/// refused exactly as `createDeliveryGroup` would refuse it.
fn groups(
    entries: &[GroupEntry],
    known: &mut Known,
    services: &mut [Service],
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryGroup>, CatalogError> {
    let mut seen = HashSet::new();
    let index: HashMap<String, usize> = services.iter().enumerate().map(|(i, s)| (s.name.clone(), i)).collect();
    let mut out = Vec::with_capacity(entries.len());
    for (i, g) in entries.iter().enumerate() {
        let entry = format!("delivery_groups[{i}] (id '{}')", g.id);
        let input = GroupInput {
            id: g.id.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            owner: g.owner.clone(),
            members: Some(g.members.clone()),
            services: g.services.clone(),
            allowed_recipes: g.allowed_recipes.clone(),
            allowed_environments: g.allowed_environments.clone(),
            default_recipe_id: g.default_recipe_id.clone(),
            max_concurrent_deployments: g.guardrails.max_concurrent_deployments,
            daily_deploy_quota: g.guardrails.daily_deploy_quota,
            daily_rollback_quota: g.guardrails.daily_rollback_quota,
        };
        let spec = validate_group(&input, None, known).map_err(|error| refused(&entry, error))?;
        check_unique(&mut seen, &entry, "id", &g.id)?;
        for name in &input.services {
            known.services.insert(name.clone(), Some(input.id.clone()));
            services[index[name]].delivery_group_id = Some(input.id.clone());
        }
        out.push(input.into_group(spec, None, catalog_authored(now)));
    }
    Ok(out)
}

fn builds(entries: &[BuildRegistration], services: &[Service], now: DateTime<Utc>) -> Result<Vec<Build>, CatalogError> {
    let known: HashSet<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let mut seen = HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let entry = format!("builds[{i}] ({}@{})", b.service, b.version);
            if !known.contains(b.service.as_str()) {
                return Err(err(&entry, "service", format!("unknown service '{}'", b.service)));
            }
            b.validate().map_err(|error| refused(&entry, error))?;
            if !seen.insert((b.service.as_str(), b.version.as_str())) {
                return Err(err(&entry, "version", "this service and version appear twice"));
            }
            Ok(b.clone().registered(now, CATALOG_ACTOR))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalogue_is_valid() {
        let catalog = parse(DEMO_CATALOG, Utc::now()).expect("demo catalogue parses");
        assert!(catalog.snapshot.delivery_groups.len() >= 2);
        assert!(catalog.snapshot.services.len() >= 4);
        assert!(catalog.snapshot.environments.len() >= 2);
        assert!(catalog.snapshot.recipes.len() >= 2);
        assert!(catalog.snapshot.services.iter().all(|s| s.delivery_group_id.is_some()));
    }

    #[test]
    fn an_unknown_recipe_in_a_group_names_the_entry_and_field() {
        let text = DEMO_CATALOG.replacen("allowed_recipes = [\"standard\"", "allowed_recipes = [\"nope\"", 1);
        let e = parse(&text, Utc::now()).expect_err("invalid");
        assert_eq!(e.field, "allowed_recipes");
        assert!(e.entry.starts_with("delivery_groups[0]"), "{e}");
        assert!(e.to_string().contains("nope"));
    }

    #[test]
    fn a_non_positive_guardrail_is_refused() {
        let text = DEMO_CATALOG.replacen("max_concurrent_deployments = 1", "max_concurrent_deployments = 0", 1);
        let e = parse(&text, Utc::now()).expect_err("invalid");
        assert_eq!(e.field, "guardrails.max_concurrent_deployments");
    }

    #[test]
    fn a_bad_sha_names_the_build() {
        let text = DEMO_CATALOG.replacen("sha256 = \"", "sha256 = \"zz", 1);
        let e = parse(&text, Utc::now()).expect_err("invalid");
        assert!(e.entry.starts_with("builds[0]"), "{e}");
        assert_eq!(e.field, "sha256");
    }

    #[test]
    fn the_file_obeys_the_rules_of_the_admin_mutations_under_its_own_keys() {
        let text = DEMO_CATALOG.replacen("members = [\"owner\"]", "members = [\"owner\", \"owner\"]", 1);
        let e =
            parse(&text, Utc::now()).expect_err("a member listed twice is refused, as createDeliveryGroup refuses it");
        assert_eq!(e.field, "members");

        let long_name = format!("name = \"{}\"", "x".repeat(1_001));
        let text = DEMO_CATALOG.replacen("name = \"Payments\"", &long_name, 1);
        let e = parse(&text, Utc::now()).expect_err("an over-long group name is refused");
        assert!(e.entry.starts_with("delivery_groups[0]"), "{e}");
        assert_eq!(e.field, "name");
    }

    #[test]
    fn wire_field_paths_become_file_keys() {
        assert_eq!(snake_case("guardrails.dailyDeployQuota"), "guardrails.daily_deploy_quota");
        assert_eq!(snake_case("sha256"), "sha256");
    }
}
