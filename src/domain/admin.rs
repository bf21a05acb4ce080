//! Administrative changes, pure: validating inputs against what exists and
//! listing which fields changed (DESIGN §10 Administration).
//!
//! Validation errors are `INVALID_REQUEST` [`FieldError`]s whose message
//! names the field; the use case maps a missing target to `NOT_FOUND`. The
//! catalogue file is checked by these same validators
//! (`crate::catalog_file`), so a rule cannot differ between the two doors.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::{
    audit::FieldChange,
    catalog::{DeliveryGroup, Environment, EnvironmentType, Guardrails, Recipe, RecipeStatus, Service},
    ids::is_valid_name,
    settings::{SystemSettings, RPM_RANGE},
    FieldError,
};

/// Longest free-text field (names, descriptions, summaries) accepted.
pub const MAX_TEXT_CHARS: usize = 1_000;

type Checked<T = ()> = Result<T, FieldError>;

fn check_name(field: &'static str, value: &str) -> Checked {
    if is_valid_name(value) {
        Ok(())
    } else {
        Err(FieldError::invalid(field, format!("{field} '{value}' must match ^[a-z0-9][a-z0-9-]{{0,62}}$")))
    }
}

fn check_text(field: &'static str, value: &str) -> Checked {
    let length = value.trim().chars().count();
    if length == 0 || length > MAX_TEXT_CHARS {
        return Err(FieldError::invalid(field, format!("{field} must be 1 to {MAX_TEXT_CHARS} characters")));
    }
    Ok(())
}

fn check_optional_text(field: &'static str, value: Option<&str>) -> Checked {
    value.map_or(Ok(()), |v| if v.chars().count() > MAX_TEXT_CHARS { check_text(field, "") } else { Ok(()) })
}

fn no_duplicates(field: &'static str, values: &[String]) -> Checked {
    let unique: BTreeSet<&String> = values.iter().collect();
    if unique.len() == values.len() {
        Ok(())
    } else {
        Err(FieldError::invalid(field, format!("{field} lists a value twice")))
    }
}

/// No entry of an actor list may be blank.
fn no_blank_actor(field: &'static str, values: &[String]) -> Checked {
    if values.iter().any(|v| v.trim().is_empty()) {
        return Err(FieldError::invalid(field, format!("{field} must not contain an empty actor id")));
    }
    Ok(())
}

/// Input of `createDeliveryGroup` / `updateDeliveryGroup`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupInput {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub members: Option<Vec<String>>,
    pub services: Vec<String>,
    pub allowed_recipes: Vec<String>,
    pub allowed_environments: Vec<String>,
    pub default_recipe_id: Option<String>,
    pub max_concurrent_deployments: Option<i32>,
    pub daily_deploy_quota: Option<i32>,
    pub daily_rollback_quota: Option<i32>,
}

/// What exists in the catalogue, for reference checks.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub recipes: BTreeSet<String>,
    /// The deprecated ones among `recipes`.
    pub deprecated_recipes: BTreeSet<String>,
    pub environments: BTreeSet<String>,
    /// Service name -> the group it belongs to, if any.
    pub services: HashMap<String, Option<String>>,
}

fn positive(field: &'static str, value: Option<i32>, default: i32) -> Checked<i32> {
    match value {
        None => Ok(default),
        Some(v) if v > 0 => Ok(v),
        Some(v) => Err(FieldError::invalid(field, format!("{field} must be a positive integer, not {v}"))),
    }
}

/// Every problem found, in the order the validators check them: the
/// mutations refuse with the first, the previews list them all.
#[derive(Debug, Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    /// Keeps the value of a passed check; notes the problem of a failed one.
    fn note<T>(&mut self, checked: Checked<T>) -> Option<T> {
        checked.map_err(|problem| self.0.push(problem)).ok()
    }

    fn push(&mut self, problem: FieldError) {
        self.0.push(problem);
    }

    /// The first problem, as the mutations report it.
    fn first(self) -> Checked {
        self.0.into_iter().next().map_or(Ok(()), Err)
    }
}

/// Validates a group input; `existing` is the group being updated. Omitted
/// guardrails take the defaults; omitted members keep the current ones.
/// Refuses with the first of [`group_problems`].
pub fn validate_group(input: &GroupInput, existing: Option<&DeliveryGroup>, known: &Known) -> Checked<GroupSpec> {
    let (spec, problems) = check_group(input, existing, known);
    problems.first()?;
    Ok(spec)
}

/// Every problem `validate_group` would refuse, in its order (empty when it
/// accepts the input).
fn group_problems(input: &GroupInput, existing: Option<&DeliveryGroup>, known: &Known) -> Vec<FieldError> {
    let (_, problems) = check_group(input, existing, known);
    problems.0
}

/// The one group validator: the resolved parts and every problem.
fn check_group(input: &GroupInput, existing: Option<&DeliveryGroup>, known: &Known) -> (GroupSpec, Problems) {
    let mut problems = Problems::default();
    problems.note(check_name("id", &input.id));
    problems.note(check_text("name", &input.name));
    problems.note(check_optional_text("description", input.description.as_deref()));
    for (field, list) in [
        ("services", &input.services),
        ("allowedRecipes", &input.allowed_recipes),
        ("allowedEnvironments", &input.allowed_environments),
    ] {
        problems.note(no_duplicates(field, list));
    }
    if let Some(members) = &input.members {
        problems.note(no_duplicates("members", members));
        problems.note(no_blank_actor("members", members));
    }
    for recipe in input.allowed_recipes.iter().filter(|r| !known.recipes.contains(*r)) {
        problems.push(FieldError::invalid("allowedRecipes", format!("allowedRecipes: unknown recipe '{recipe}'")));
    }
    for environment in input.allowed_environments.iter().filter(|e| !known.environments.contains(*e)) {
        problems.push(FieldError::invalid(
            "allowedEnvironments",
            format!("allowedEnvironments: unknown environment '{environment}'"),
        ));
    }
    if let Some(default) = &input.default_recipe_id {
        if !input.allowed_recipes.contains(default) {
            problems.push(FieldError::invalid(
                "defaultRecipeId",
                format!("defaultRecipeId '{default}' is not in allowedRecipes"),
            ));
        }
    }
    for service in &input.services {
        match known.services.get(service) {
            None => problems.push(FieldError::invalid("services", format!("services: unknown service '{service}'"))),
            Some(Some(group)) if *group != input.id => problems.push(FieldError::invalid(
                "services",
                format!("services: '{service}' already belongs to delivery group '{group}'"),
            )),
            Some(_) => {}
        }
    }
    let defaults = Guardrails::default();
    let mut guardrail = |field, value, default| problems.note(positive(field, value, default)).unwrap_or(default);
    let guardrails = Guardrails {
        max_concurrent_deployments: guardrail(
            "guardrails.maxConcurrentDeployments",
            input.max_concurrent_deployments,
            defaults.max_concurrent_deployments,
        ),
        daily_deploy_quota: guardrail(
            "guardrails.dailyDeployQuota",
            input.daily_deploy_quota,
            defaults.daily_deploy_quota,
        ),
        daily_rollback_quota: guardrail(
            "guardrails.dailyRollbackQuota",
            input.daily_rollback_quota,
            defaults.daily_rollback_quota,
        ),
    };
    let members = match (&input.members, existing) {
        (Some(members), _) => members.clone(),
        (None, Some(group)) => group.members.clone(),
        (None, None) => Vec::new(),
    };
    (GroupSpec { members, guardrails }, problems)
}

/// Legal but risky choices in a group input, for its preview: no services,
/// recipes or environments, a guardrail left to its default, a deprecated
/// default recipe. Never a reason to refuse.
fn group_warnings(input: &GroupInput, known: &Known) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (field, list, consequence) in [
        ("services", &input.services, "the group holds no service to deploy"),
        ("allowedRecipes", &input.allowed_recipes, "every deploy through the group will be refused"),
        ("allowedEnvironments", &input.allowed_environments, "every deploy through the group will be refused"),
    ] {
        if list.is_empty() {
            warnings.push(Warning::new(field, format!("{field} is empty: {consequence}")));
        }
    }
    let defaults = Guardrails::default();
    for (field, value, default) in [
        ("guardrails.maxConcurrentDeployments", input.max_concurrent_deployments, defaults.max_concurrent_deployments),
        ("guardrails.dailyDeployQuota", input.daily_deploy_quota, defaults.daily_deploy_quota),
        ("guardrails.dailyRollbackQuota", input.daily_rollback_quota, defaults.daily_rollback_quota),
    ] {
        if value.is_none() {
            warnings.push(Warning::new(field, format!("{field} is not set: it takes the default, {default}")));
        }
    }
    if let Some(default) = input.default_recipe_id.as_ref().filter(|r| known.deprecated_recipes.contains(*r)) {
        warnings.push(Warning::new(
            "defaultRecipeId",
            format!("defaultRecipeId '{default}' is deprecated: deployments that name no recipe will be refused"),
        ));
    }
    warnings
}

/// The parts of a group that validation resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub members: Vec<String>,
    pub guardrails: Guardrails,
}

/// Who makes a change, when, and why: the stamps a catalogue entry carries.
#[derive(Debug, Clone)]
pub struct Authored {
    pub actor: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl GroupInput {
    /// The group this validated input describes. `current` (on update) keeps
    /// its creation stamps; services are kept sorted, as the store lists them.
    pub fn into_group(self, spec: GroupSpec, current: Option<&DeliveryGroup>, by: Authored) -> DeliveryGroup {
        let mut services = self.services;
        services.sort();
        DeliveryGroup {
            id: self.id,
            name: self.name.trim().to_owned(),
            description: self.description,
            owner: self.owner,
            members: spec.members,
            services,
            allowed_recipes: self.allowed_recipes,
            allowed_environments: self.allowed_environments,
            default_recipe_id: self.default_recipe_id,
            guardrails: spec.guardrails,
            created_at: current.map_or(by.at, |g| g.created_at),
            created_by: current.map_or_else(|| by.actor.clone(), |g| g.created_by.clone()),
            updated_at: by.at,
            updated_by: by.actor,
            last_change_reason: by.reason,
        }
    }
}

/// Input of `createRecipe` / `updateRecipe`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipeInput {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub effective_behavior_summary: String,
    pub spinnaker_application: String,
    pub deploy_pipeline: String,
    pub rollback_pipeline: String,
}

/// Refuses a recipe input with the first of [`recipe_problems`].
pub fn validate_recipe(input: &RecipeInput) -> Checked {
    check_recipe(input).first()
}

/// Every problem `validate_recipe` would refuse, in its order.
fn recipe_problems(input: &RecipeInput) -> Vec<FieldError> {
    check_recipe(input).0
}

/// The one recipe validator.
fn check_recipe(input: &RecipeInput) -> Problems {
    let mut problems = Problems::default();
    problems.note(check_name("id", &input.id));
    problems.note(check_text("name", &input.name));
    problems.note(check_optional_text("description", input.description.as_deref()));
    problems.note(check_text("effectiveBehaviorSummary", &input.effective_behavior_summary));
    problems.note(check_text("spinnakerApplication", &input.spinnaker_application));
    problems.note(check_text("deployPipeline", &input.deploy_pipeline));
    problems.note(check_text("rollbackPipeline", &input.rollback_pipeline));
    problems
}

impl RecipeInput {
    /// A new recipe from this validated input: active, revision 1.
    pub fn into_new_recipe(self, by: Authored) -> Recipe {
        Recipe {
            id: self.id,
            name: self.name.trim().to_owned(),
            description: self.description,
            status: RecipeStatus::Active,
            revision: 1,
            effective_behavior_summary: self.effective_behavior_summary,
            spinnaker_application: self.spinnaker_application,
            deploy_pipeline: self.deploy_pipeline,
            rollback_pipeline: self.rollback_pipeline,
            created_at: by.at,
            created_by: by.actor.clone(),
            updated_at: by.at,
            updated_by: by.actor,
            last_change_reason: by.reason,
        }
    }
}

/// The first engine-mapping field an update of `current` would change, if
/// any: what the engine runs.
pub fn changed_engine_field(current: &Recipe, input: &RecipeInput) -> Option<&'static str> {
    [
        ("spinnakerApplication", &current.spinnaker_application, &input.spinnaker_application),
        ("deployPipeline", &current.deploy_pipeline, &input.deploy_pipeline),
        ("rollbackPipeline", &current.rollback_pipeline, &input.rollback_pipeline),
    ]
    .into_iter()
    .find(|(_, old, new)| old != new)
    .map(|(field, _, _)| field)
}

/// A recipe's engine mapping is frozen while delivery groups use it:
/// refuses an update of `current` that changes it while `users` (the ids of
/// the groups allowing the recipe) is not empty, on the first changed field.
pub fn check_engine_mapping(current: &Recipe, input: &RecipeInput, users: &[String]) -> Checked {
    match changed_engine_field(current, input) {
        Some(field) if !users.is_empty() => Err(FieldError::invalid(
            field,
            format!(
                "the engine mapping of recipe '{}' cannot change while delivery groups use it ({}); create a new recipe instead",
                current.id,
                users.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// How bad a preview finding is; ordered, so the worst is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// A legal but risky choice of an input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub field: &'static str,
    pub message: String,
}

impl Warning {
    fn new(field: &'static str, message: String) -> Self {
        Self { field, message }
    }
}

/// One finding of a preview, naming the input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub field: &'static str,
    pub message: String,
}

/// What an admin preview reports: every problem the mutation would refuse
/// (errors, in the validator's order), then every warning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    pub findings: Vec<Finding>,
}

impl Preview {
    pub fn new(problems: Vec<FieldError>, warnings: Vec<Warning>) -> Self {
        let errors =
            problems.into_iter().map(|p| Finding { severity: Severity::Error, field: p.field, message: p.message });
        let warnings =
            warnings.into_iter().map(|w| Finding { severity: Severity::Warning, field: w.field, message: w.message });
        Self { findings: errors.chain(warnings).collect() }
    }

    /// The worst severity found; `None` when nothing was.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The preview of a group input: what `validate_group` refuses, then
/// [`group_warnings`].
pub fn preview_group(input: &GroupInput, existing: Option<&DeliveryGroup>, known: &Known) -> Preview {
    Preview::new(group_problems(input, existing, known), group_warnings(input, known))
}

/// The preview of a recipe input: what `validate_recipe` refuses, then the
/// refusal of `check_engine_mapping` (`engine`) when there is one.
pub fn preview_recipe(input: &RecipeInput, engine: Checked) -> Preview {
    let mut problems = recipe_problems(input);
    problems.extend(engine.err());
    Preview::new(problems, Vec::new())
}

/// Input of `upsertService`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInput {
    pub name: String,
    pub description: Option<String>,
    pub compatible_recipes: Option<Vec<String>>,
}

pub fn validate_service(input: &ServiceInput, known: &Known) -> Checked {
    check_name("name", &input.name)?;
    check_optional_text("description", input.description.as_deref())?;
    if let Some(recipes) = &input.compatible_recipes {
        no_duplicates("compatibleRecipes", recipes)?;
        if let Some(unknown) = recipes.iter().find(|r| !known.recipes.contains(*r)) {
            return Err(FieldError::invalid(
                "compatibleRecipes",
                format!("compatibleRecipes: unknown recipe '{unknown}'"),
            ));
        }
    }
    Ok(())
}

/// Input of `upsertEnvironment`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentInput {
    pub name: String,
    pub display_name: Option<String>,
    pub env_type: EnvironmentType,
    pub promotion_order: Option<i32>,
    pub enabled: bool,
}

pub fn validate_environment(input: &EnvironmentInput) -> Checked<Environment> {
    check_name("name", &input.name)?;
    if let Some(display) = &input.display_name {
        check_text("displayName", display)?;
    }
    Ok(Environment {
        name: input.name.clone(),
        display_name: input.display_name.clone().unwrap_or_else(|| input.name.clone()),
        env_type: input.env_type,
        promotion_order: input.promotion_order,
        enabled: input.enabled,
    })
}

/// Input of `updateSystemSettings`: omitted fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsInput {
    pub mutations_disabled: Option<bool>,
    pub read_rpm: Option<i32>,
    pub mutate_rpm: Option<i32>,
    pub daily_build_register_quota: Option<i32>,
    pub ci_publishers: Option<Vec<String>>,
    pub promotion_allow_jumps: Option<bool>,
}

impl SettingsInput {
    /// The only mutation the kill switch lets through: one turning it off.
    pub fn turns_kill_switch_off(&self) -> bool {
        self.mutations_disabled == Some(false)
    }
}

pub fn apply_settings(current: &SystemSettings, input: &SettingsInput) -> Checked<SystemSettings> {
    let rpm = |field: &'static str, value: Option<i32>, current: i32| match value {
        None => Ok(current),
        Some(v) if RPM_RANGE.contains(&v) => Ok(v),
        Some(v) => Err(FieldError::invalid(field, format!("{field} must be within 1..=100000, not {v}"))),
    };
    let ci_publishers = match &input.ci_publishers {
        None => current.ci_publishers.clone(),
        Some(list) => {
            no_duplicates("ciPublishers", list)?;
            no_blank_actor("ciPublishers", list)?;
            list.clone()
        }
    };
    Ok(SystemSettings {
        mutations_disabled: input.mutations_disabled.unwrap_or(current.mutations_disabled),
        read_rpm: rpm("readRpm", input.read_rpm, current.read_rpm)?,
        mutate_rpm: rpm("mutateRpm", input.mutate_rpm, current.mutate_rpm)?,
        daily_build_register_quota: positive(
            "dailyBuildRegisterQuota",
            input.daily_build_register_quota,
            current.daily_build_register_quota,
        )?,
        ci_publishers,
        promotion_allow_jumps: input.promotion_allow_jumps.unwrap_or(current.promotion_allow_jumps),
    })
}

/// Field-by-field differences, named by their GraphQL field, values as text.
#[derive(Debug, Default)]
pub struct Changes(Vec<FieldChange>);

impl Changes {
    pub fn field(mut self, name: &str, old: Option<String>, new: Option<String>) -> Self {
        if old != new {
            self.0.push(FieldChange { field: name.to_owned(), old_value: old, new_value: new });
        }
        self
    }

    pub fn list(self, name: &str, old: Option<&[String]>, new: &[String]) -> Self {
        self.field(name, old.map(list_text), Some(list_text(new)))
    }

    pub fn into_vec(self) -> Vec<FieldChange> {
        self.0
    }
}

/// Lists are written as JSON arrays so values with commas stay unambiguous.
pub fn list_text(values: &[String]) -> String {
    serde_json::Value::from(values.to_vec()).to_string()
}

/// Changes between an existing group (or none, for a create) and the new one.
pub fn group_changes(old: Option<&DeliveryGroup>, new: &DeliveryGroup) -> Vec<FieldChange> {
    let g = |v: i32| Some(v.to_string());
    Changes::default()
        .field("name", old.map(|o| o.name.clone()), Some(new.name.clone()))
        .field("description", old.and_then(|o| o.description.clone()), new.description.clone())
        .field("owner", old.and_then(|o| o.owner.clone()), new.owner.clone())
        .list("members", old.map(|o| o.members.as_slice()), &new.members)
        .list("services", old.map(|o| o.services.as_slice()), &new.services)
        .list("allowedRecipes", old.map(|o| o.allowed_recipes.as_slice()), &new.allowed_recipes)
        .list("allowedEnvironments", old.map(|o| o.allowed_environments.as_slice()), &new.allowed_environments)
        .field("defaultRecipeId", old.and_then(|o| o.default_recipe_id.clone()), new.default_recipe_id.clone())
        .field(
            "guardrails.maxConcurrentDeployments",
            old.and_then(|o| g(o.guardrails.max_concurrent_deployments)),
            g(new.guardrails.max_concurrent_deployments),
        )
        .field(
            "guardrails.dailyDeployQuota",
            old.and_then(|o| g(o.guardrails.daily_deploy_quota)),
            g(new.guardrails.daily_deploy_quota),
        )
        .field(
            "guardrails.dailyRollbackQuota",
            old.and_then(|o| g(o.guardrails.daily_rollback_quota)),
            g(new.guardrails.daily_rollback_quota),
        )
        .into_vec()
}

pub fn recipe_changes(old: Option<&Recipe>, new: &Recipe) -> Vec<FieldChange> {
    Changes::default()
        .field("name", old.map(|o| o.name.clone()), Some(new.name.clone()))
        .field("description", old.and_then(|o| o.description.clone()), new.description.clone())
        .field("status", old.map(|o| o.status.to_string()), Some(new.status.to_string()))
        .field(
            "effectiveBehaviorSummary",
            old.map(|o| o.effective_behavior_summary.clone()),
            Some(new.effective_behavior_summary.clone()),
        )
        .field(
            "spinnakerApplication",
            old.map(|o| o.spinnaker_application.clone()),
            Some(new.spinnaker_application.clone()),
        )
        .field("deployPipeline", old.map(|o| o.deploy_pipeline.clone()), Some(new.deploy_pipeline.clone()))
        .field("rollbackPipeline", old.map(|o| o.rollback_pipeline.clone()), Some(new.rollback_pipeline.clone()))
        .into_vec()
}

pub fn service_changes(old: Option<&Service>, new: &Service) -> Vec<FieldChange> {
    Changes::default()
        .field("description", old.and_then(|o| o.description.clone()), new.description.clone())
        .list("compatibleRecipes", old.map(|o| o.compatible_recipes.as_slice()), &new.compatible_recipes)
        .into_vec()
}

pub fn environment_changes(old: Option<&Environment>, new: &Environment) -> Vec<FieldChange> {
    Changes::default()
        .field("displayName", old.map(|o| o.display_name.clone()), Some(new.display_name.clone()))
        .field("type", old.map(|o| o.env_type.to_string()), Some(new.env_type.to_string()))
        .field(
            "promotionOrder",
            old.and_then(|o| o.promotion_order.map(|p| p.to_string())),
            new.promotion_order.map(|p| p.to_string()),
        )
        .field("enabled", old.map(|o| o.enabled.to_string()), Some(new.enabled.to_string()))
        .into_vec()
}

pub fn settings_changes(old: &SystemSettings, new: &SystemSettings) -> Vec<FieldChange> {
    let text = |v: i32| Some(v.to_string());
    Changes::default()
        .field("mutationsDisabled", Some(old.mutations_disabled.to_string()), Some(new.mutations_disabled.to_string()))
        .field("readRpm", text(old.read_rpm), text(new.read_rpm))
        .field("mutateRpm", text(old.mutate_rpm), text(new.mutate_rpm))
        .field("dailyBuildRegisterQuota", text(old.daily_build_register_quota), text(new.daily_build_register_quota))
        .list("ciPublishers", Some(&old.ci_publishers), &new.ci_publishers)
        .field(
            "promotionAllowJumps",
            Some(old.promotion_allow_jumps.to_string()),
            Some(new.promotion_allow_jumps.to_string()),
        )
        .into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            recipes: ["standard".to_owned(), "old".to_owned()].into(),
            deprecated_recipes: ["old".to_owned()].into(),
            environments: ["sandbox".to_owned()].into(),
            services: [("api".to_owned(), None), ("ledger".to_owned(), Some("other".to_owned()))].into(),
        }
    }

    fn input() -> GroupInput {
        GroupInput {
            id: "team".into(),
            name: "Team".into(),
            description: None,
            owner: None,
            members: None,
            services: vec!["api".into()],
            allowed_recipes: vec!["standard".into()],
            allowed_environments: vec!["sandbox".into()],
            default_recipe_id: Some("standard".into()),
            max_concurrent_deployments: None,
            daily_deploy_quota: None,
            daily_rollback_quota: None,
        }
    }

    fn message(input: GroupInput) -> String {
        validate_group(&input, None, &known()).expect_err("refused").message
    }

    #[test]
    fn a_valid_group_takes_default_guardrails() {
        let spec = validate_group(&input(), None, &known()).expect("valid");
        assert_eq!(spec.guardrails, Guardrails::default());
        assert!(spec.members.is_empty());
    }

    #[test]
    fn group_references_and_guardrails_are_checked() {
        assert!(message(GroupInput { services: vec!["ledger".into()], ..input() }).contains("already belongs"));
        assert!(message(GroupInput { services: vec!["ghost".into()], ..input() }).contains("unknown service"));
        assert!(message(GroupInput { allowed_recipes: vec!["canary".into()], ..input() }).contains("unknown recipe"));
        assert!(message(GroupInput { allowed_environments: vec!["prod".into()], ..input() })
            .contains("unknown environment"));
        assert!(message(GroupInput { max_concurrent_deployments: Some(0), ..input() }).contains("positive"));
        assert!(message(GroupInput { id: "Bad Id".into(), ..input() }).contains("id"));
        assert!(message(GroupInput { default_recipe_id: Some("x".into()), ..input() }).contains("defaultRecipeId"));
    }

    fn fields(problems: &[FieldError]) -> Vec<&str> {
        problems.iter().map(|p| p.field).collect()
    }

    #[test]
    fn every_group_problem_is_listed_in_order_and_the_first_is_the_refusal() {
        let bad = GroupInput {
            id: "Bad Id".into(),
            services: vec!["ghost".into(), "ledger".into()],
            allowed_recipes: vec!["canary".into(), "nope".into()],
            max_concurrent_deployments: Some(0),
            daily_rollback_quota: Some(-1),
            ..input()
        };
        let problems = group_problems(&bad, None, &known());
        assert_eq!(
            fields(&problems),
            [
                "id",
                "allowedRecipes",
                "allowedRecipes",
                "defaultRecipeId",
                "services",
                "services",
                "guardrails.maxConcurrentDeployments",
                "guardrails.dailyRollbackQuota"
            ]
        );
        assert_eq!(validate_group(&bad, None, &known()).expect_err("refused"), problems[0]);
        assert!(group_problems(&input(), None, &known()).is_empty());
    }

    #[test]
    fn group_warnings_name_risky_but_legal_choices() {
        let warnings = group_warnings(&input(), &known());
        let named: Vec<&str> = warnings.iter().map(|w| w.field).collect();
        assert_eq!(
            named,
            ["guardrails.maxConcurrentDeployments", "guardrails.dailyDeployQuota", "guardrails.dailyRollbackQuota"]
        );
        let risky = GroupInput {
            services: vec![],
            allowed_recipes: vec!["old".into()],
            allowed_environments: vec![],
            default_recipe_id: Some("old".into()),
            max_concurrent_deployments: Some(1),
            daily_deploy_quota: Some(25),
            daily_rollback_quota: Some(10),
            ..input()
        };
        let preview = preview_group(&risky, None, &known());
        let named: Vec<(Severity, &str)> = preview.findings.iter().map(|f| (f.severity, f.field)).collect();
        assert_eq!(
            named,
            [
                (Severity::Warning, "services"),
                (Severity::Warning, "allowedEnvironments"),
                (Severity::Warning, "defaultRecipeId")
            ]
        );
        assert_eq!(preview.worst(), Some(Severity::Warning));
        let clean = GroupInput {
            max_concurrent_deployments: Some(1),
            daily_deploy_quota: Some(2),
            daily_rollback_quota: Some(3),
            ..input()
        };
        assert_eq!(preview_group(&clean, None, &known()).worst(), None);
    }

    fn recipe(id: &str) -> Recipe {
        RecipeInput {
            id: id.into(),
            name: "R".into(),
            description: None,
            effective_behavior_summary: "s".into(),
            spinnaker_application: "app".into(),
            deploy_pipeline: "deploy".into(),
            rollback_pipeline: "rollback".into(),
        }
        .into_new_recipe(Authored { actor: "a".into(), at: Utc::now(), reason: None })
    }

    #[test]
    fn every_recipe_problem_is_listed_and_the_engine_mapping_names_the_first_changed_field() {
        let current = recipe("r");
        let input = RecipeInput {
            id: "r".into(),
            name: " ".into(),
            description: None,
            effective_behavior_summary: String::new(),
            spinnaker_application: "app".into(),
            deploy_pipeline: "deploy-2".into(),
            rollback_pipeline: "rollback-2".into(),
        };
        assert_eq!(fields(&recipe_problems(&input)), ["name", "effectiveBehaviorSummary"]);
        assert_eq!(validate_recipe(&input).expect_err("refused").field, "name");
        assert!(check_engine_mapping(&current, &input, &[]).is_ok(), "no group uses it");
        let users = ["payments".to_owned()];
        let frozen = check_engine_mapping(&current, &input, &users).expect_err("in use");
        assert_eq!(frozen.field, "deployPipeline");
        assert!(frozen.message.contains("(payments)"), "{}", frozen.message);
        let preview = preview_recipe(&input, Err(frozen));
        let named: Vec<&str> = preview.findings.iter().map(|f| f.field).collect();
        assert_eq!(named, ["name", "effectiveBehaviorSummary", "deployPipeline"]);
        assert_eq!(preview.worst(), Some(Severity::Error));
    }

    #[test]
    fn only_changed_fields_are_listed() {
        let old = SystemSettings {
            mutations_disabled: false,
            read_rpm: 600,
            mutate_rpm: 60,
            daily_build_register_quota: 10,
            ci_publishers: vec!["ci".into()],
            promotion_allow_jumps: false,
        };
        let new = apply_settings(&old, &SettingsInput { read_rpm: Some(900), ..Default::default() }).expect("valid");
        let changes = settings_changes(&old, &new);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "readRpm");
        assert_eq!(changes[0].old_value.as_deref(), Some("600"));
        assert_eq!(changes[0].new_value.as_deref(), Some("900"));
    }

    #[test]
    fn rates_outside_the_range_are_refused() {
        let current = SystemSettings {
            mutations_disabled: false,
            read_rpm: 600,
            mutate_rpm: 60,
            daily_build_register_quota: 10,
            ci_publishers: vec![],
            promotion_allow_jumps: false,
        };
        assert!(apply_settings(&current, &SettingsInput { mutate_rpm: Some(0), ..Default::default() }).is_err());
        assert!(apply_settings(&current, &SettingsInput { read_rpm: Some(100_001), ..Default::default() }).is_err());
    }
}
