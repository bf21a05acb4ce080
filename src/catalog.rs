//! The catalogue file (DESIGN §9): parsed, validated as a whole, and loaded
//! into a database that has no delivery group yet. An invalid file stops
//! startup with an error naming the entry and the field.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{
    domain::{
        build::{validate_artifact, ArtifactFacts},
        catalog::{Build, DeliveryGroup, Environment, EnvironmentType, Guardrails, Recipe, RecipeStatus, Service},
        ids::is_valid_name,
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
    builds: Vec<BuildEntry>,
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
    max_concurrent_deployments: Option<i64>,
    daily_deploy_quota: Option<i64>,
    daily_rollback_quota: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    name: String,
    description: Option<String>,
    #[serde(default)]
    compatible_recipes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildEntry {
    service: String,
    version: String,
    artifact_ref: String,
    sha256: String,
    size_bytes: i64,
    content_type: String,
    git_sha: String,
    git_branch: String,
    ci_provider: String,
    ci_run_id: String,
    built_at: DateTime<Utc>,
    repo: Option<String>,
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
    let env_names: HashSet<&str> = environments.iter().map(|e| e.name.as_str()).collect();
    let recipe_ids: HashSet<&str> = recipes.iter().map(|r| r.id.as_str()).collect();
    let mut services = services(&file.services, &recipe_ids)?;
    let groups = groups(&file.delivery_groups, &env_names, &recipe_ids, &mut services, now)?;
    let builds = builds(&file.builds, &services, now)?;
    Ok(Catalog {
        snapshot: CatalogSnapshot { environments, recipes, delivery_groups: groups, services, builds },
        ci_publishers: file.ci_publishers,
    })
}

fn check_name(entry: &str, field: &str, value: &str) -> Result<(), CatalogError> {
    if is_valid_name(value) {
        Ok(())
    } else {
        Err(err(entry, field, format!("'{value}' must match ^[a-z0-9][a-z0-9-]{{0,62}}$")))
    }
}

fn check_unique<'a>(seen: &mut HashSet<&'a str>, entry: &str, field: &str, value: &'a str) -> Result<(), CatalogError> {
    if seen.insert(value) {
        Ok(())
    } else {
        Err(err(entry, field, format!("'{value}' appears twice")))
    }
}

fn check_present(entry: &str, field: &str, value: &str) -> Result<(), CatalogError> {
    if value.trim().is_empty() {
        Err(err(entry, field, "must not be empty"))
    } else {
        Ok(())
    }
}

fn environments(entries: &[EnvironmentEntry]) -> Result<Vec<Environment>, CatalogError> {
    let mut seen = HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let entry = format!("environments[{i}] (name '{}')", e.name);
            check_name(&entry, "name", &e.name)?;
            check_unique(&mut seen, &entry, "name", &e.name)?;
            let env_type = EnvironmentType::parse(&e.env_type)
                .ok_or_else(|| err(&entry, "type", format!("'{}' is not NON_PROD or PROD", e.env_type)))?;
            Ok(Environment {
                name: e.name.clone(),
                display_name: e.display_name.clone().unwrap_or_else(|| e.name.clone()),
                env_type,
                promotion_order: e.promotion_order,
                enabled: e.enabled,
            })
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
            check_name(&entry, "id", &r.id)?;
            check_unique(&mut seen, &entry, "id", &r.id)?;
            check_present(&entry, "name", &r.name)?;
            check_present(&entry, "effective_behavior_summary", &r.effective_behavior_summary)?;
            check_present(&entry, "spinnaker_application", &r.spinnaker_application)?;
            check_present(&entry, "deploy_pipeline", &r.deploy_pipeline)?;
            check_present(&entry, "rollback_pipeline", &r.rollback_pipeline)?;
            let status = match r.status.as_deref() {
                None => RecipeStatus::Active,
                Some(s) => RecipeStatus::parse(s)
                    .ok_or_else(|| err(&entry, "status", format!("'{s}' is not ACTIVE or DEPRECATED")))?,
            };
            Ok(Recipe {
                id: r.id.clone(),
                name: r.name.clone(),
                description: r.description.clone(),
                status,
                revision: 1,
                effective_behavior_summary: r.effective_behavior_summary.clone(),
                spinnaker_application: r.spinnaker_application.clone(),
                deploy_pipeline: r.deploy_pipeline.clone(),
                rollback_pipeline: r.rollback_pipeline.clone(),
                created_at: now,
                created_by: CATALOG_ACTOR.to_owned(),
                updated_at: now,
                updated_by: CATALOG_ACTOR.to_owned(),
                last_change_reason: None,
            })
        })
        .collect()
}

fn services(entries: &[ServiceEntry], recipe_ids: &HashSet<&str>) -> Result<Vec<Service>, CatalogError> {
    let mut seen = HashSet::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let entry = format!("services[{i}] (name '{}')", s.name);
            check_name(&entry, "name", &s.name)?;
            check_unique(&mut seen, &entry, "name", &s.name)?;
            if let Some(unknown) = s.compatible_recipes.iter().find(|r| !recipe_ids.contains(r.as_str())) {
                return Err(err(&entry, "compatible_recipes", format!("unknown recipe '{unknown}'")));
            }
            Ok(Service {
                name: s.name.clone(),
                description: s.description.clone(),
                delivery_group_id: None,
                compatible_recipes: s.compatible_recipes.clone(),
            })
        })
        .collect()
}

fn positive(entry: &str, field: &str, value: Option<i64>, default: i32) -> Result<i32, CatalogError> {
    match value {
        None => Ok(default),
        Some(v) if v > 0 && v <= i64::from(i32::MAX) => Ok(v as i32),
        Some(v) => Err(err(entry, field, format!("{v} is not a positive integer"))),
    }
}

/// Validates groups and records each service's group on `services`.
fn groups(
    entries: &[GroupEntry],
    env_names: &HashSet<&str>,
    recipe_ids: &HashSet<&str>,
    services: &mut [Service],
    now: DateTime<Utc>,
) -> Result<Vec<DeliveryGroup>, CatalogError> {
    let mut seen = HashSet::new();
    let index: HashMap<String, usize> = services.iter().enumerate().map(|(i, s)| (s.name.clone(), i)).collect();
    let defaults = Guardrails::default();
    let mut out = Vec::with_capacity(entries.len());
    for (i, g) in entries.iter().enumerate() {
        let entry = format!("delivery_groups[{i}] (id '{}')", g.id);
        check_name(&entry, "id", &g.id)?;
        check_unique(&mut seen, &entry, "id", &g.id)?;
        check_present(&entry, "name", &g.name)?;
        if let Some(unknown) = g.allowed_recipes.iter().find(|r| !recipe_ids.contains(r.as_str())) {
            return Err(err(&entry, "allowed_recipes", format!("unknown recipe '{unknown}'")));
        }
        if let Some(unknown) = g.allowed_environments.iter().find(|e| !env_names.contains(e.as_str())) {
            return Err(err(&entry, "allowed_environments", format!("unknown environment '{unknown}'")));
        }
        if let Some(default) = &g.default_recipe_id {
            if !g.allowed_recipes.contains(default) {
                return Err(err(&entry, "default_recipe_id", format!("'{default}' is not in allowed_recipes")));
            }
        }
        for name in &g.services {
            let Some(&at) = index.get(name) else {
                return Err(err(&entry, "services", format!("unknown service '{name}'")));
            };
            if let Some(other) = &services[at].delivery_group_id {
                return Err(err(&entry, "services", format!("service '{name}' is already in group '{other}'")));
            }
            services[at].delivery_group_id = Some(g.id.clone());
        }
        let guardrails = Guardrails {
            max_concurrent_deployments: positive(
                &entry,
                "guardrails.max_concurrent_deployments",
                g.guardrails.max_concurrent_deployments,
                defaults.max_concurrent_deployments,
            )?,
            daily_deploy_quota: positive(
                &entry,
                "guardrails.daily_deploy_quota",
                g.guardrails.daily_deploy_quota,
                defaults.daily_deploy_quota,
            )?,
            daily_rollback_quota: positive(
                &entry,
                "guardrails.daily_rollback_quota",
                g.guardrails.daily_rollback_quota,
                defaults.daily_rollback_quota,
            )?,
        };
        out.push(DeliveryGroup {
            id: g.id.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            owner: g.owner.clone(),
            members: g.members.clone(),
            services: g.services.clone(),
            allowed_recipes: g.allowed_recipes.clone(),
            allowed_environments: g.allowed_environments.clone(),
            default_recipe_id: g.default_recipe_id.clone(),
            guardrails,
            created_at: now,
            created_by: CATALOG_ACTOR.to_owned(),
            updated_at: now,
            updated_by: CATALOG_ACTOR.to_owned(),
            last_change_reason: None,
        });
    }
    Ok(out)
}

fn builds(entries: &[BuildEntry], services: &[Service], now: DateTime<Utc>) -> Result<Vec<Build>, CatalogError> {
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
            if !seen.insert((b.service.as_str(), b.version.as_str())) {
                return Err(err(&entry, "version", "this service and version appear twice"));
            }
            validate_artifact(&ArtifactFacts {
                version: &b.version,
                artifact_ref: &b.artifact_ref,
                sha256: &b.sha256,
                size_bytes: b.size_bytes,
                content_type: &b.content_type,
            })
            .map_err(|e| err(&entry, artifact_field(&e.message), e.message))?;
            Ok(Build {
                service: b.service.clone(),
                version: b.version.clone(),
                artifact_ref: b.artifact_ref.clone(),
                sha256: b.sha256.to_ascii_lowercase(),
                size_bytes: b.size_bytes,
                content_type: b.content_type.clone(),
                git_sha: b.git_sha.clone(),
                git_branch: b.git_branch.clone(),
                ci_provider: b.ci_provider.clone(),
                ci_run_id: b.ci_run_id.clone(),
                built_at: b.built_at,
                repo: b.repo.clone(),
                registered_at: now,
                registered_by: CATALOG_ACTOR.to_owned(),
            })
        })
        .collect()
}

/// Names the catalogue field behind an artifact validation message.
fn artifact_field(message: &str) -> &'static str {
    ["version", "artifactRef", "sha256", "sizeBytes", "contentType"]
        .into_iter()
        .zip(["version", "artifact_ref", "sha256", "size_bytes", "content_type"])
        .find(|(wire, _)| message.starts_with(wire))
        .map(|(_, field)| field)
        .unwrap_or("artifact")
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
}
