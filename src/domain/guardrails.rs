//! Guardrail evaluation, steps 5-11 of DESIGN §4, in exactly that order.
//!
//! One function returns *every* violation in order: `deploy` stops at the
//! first, `validateDeployment` shows them all. Steps 1-4 (rate limit, role,
//! kill switch, idempotency) and 12 (the engine) belong to the use case.
//! Everything here is pure: the caller loads the facts and passes them in.

use super::{
    catalog::{DeliveryGroup, Environment, Recipe, RecipeStatus, Service},
    deployment::DeploymentKind,
    ids::{is_valid_name, is_valid_version},
    promotion::{check_path, PathStep},
    ErrorCode, Principal,
};

/// Longest change summary, counted in characters after trimming.
pub const MAX_CHANGE_SUMMARY_CHARS: usize = 240;

/// One failed check: its code and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub code: ErrorCode,
    pub message: String,
}

impl Violation {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// The intent as the caller stated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub service: String,
    pub version: String,
    pub environment: String,
    pub change_summary: String,
    pub recipe_id: Option<String>,
}

/// Usage of a (group, environment) at the moment of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Records of this kind created since 00:00 UTC today.
    pub created_today: i64,
    /// Records in PENDING, ACTIVE or IN_PROGRESS.
    pub in_flight: i64,
}

/// Everything the checks need, loaded by the caller. `None` means "not
/// found" (or not loadable because an earlier fact is missing).
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub principal: &'a Principal,
    pub intent: &'a Intent,
    pub kind: DeploymentKind,
    pub service: Option<&'a Service>,
    pub group: Option<&'a DeliveryGroup>,
    pub environment: Option<&'a Environment>,
    /// The recipe named by the intent, or the group's default.
    pub recipe: Option<&'a Recipe>,
    pub version_registered: bool,
    /// False when the question is asked before a version is chosen
    /// (`allowedActions`): the checks of the version (its shape at step 5,
    /// its build at step 9) are skipped.
    pub version_chosen: bool,
    /// For rollbacks: the target's violation (step 9), if any.
    pub rollback_violation: Option<Violation>,
    /// `None` when usage was not counted (e.g. no group).
    pub usage: Option<Usage>,
    /// For promotions: the source and what the path checks need.
    pub promotion: Option<PromotionFacts>,
}

/// What a promotion's three extra checks need (DESIGN §11.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionFacts {
    pub source_environment: String,
    /// The group's path; empty when the group is unknown.
    pub path: Vec<PathStep>,
    pub allow_jumps: bool,
    /// Whether a deployment of (service, version) ever SUCCEEDED in the source.
    pub succeeded_in_source: bool,
}

impl Facts<'_> {
    /// The recipe id the intent resolves to: explicit, else the group default.
    pub fn resolved_recipe_id(&self) -> Option<String> {
        self.intent.recipe_id.clone().or_else(|| self.group.and_then(|g| g.default_recipe_id.clone()))
    }
}

/// Checks the trimmed change summary: 1..=240 characters.
pub fn check_change_summary(summary: &str) -> Result<String, Violation> {
    let trimmed = summary.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > MAX_CHANGE_SUMMARY_CHARS {
        return Err(Violation::new(
            ErrorCode::InvalidRequest,
            format!("changeSummary must be 1 to {MAX_CHANGE_SUMMARY_CHARS} characters after trimming"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Steps 5-11 in order. Later steps that depend on a missing fact are
/// skipped rather than reported twice.
pub fn evaluate(facts: &Facts<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    let intent = facts.intent;

    // 5. Input shape.
    if let Err(v) = check_change_summary(&intent.change_summary) {
        out.push(v);
    }
    if !is_valid_name(&intent.service) {
        out.push(Violation::new(
            ErrorCode::InvalidRequest,
            format!("service '{}' is not a valid name", intent.service),
        ));
    }
    if facts.version_chosen && !is_valid_version(&intent.version) {
        out.push(Violation::new(
            ErrorCode::InvalidVersion,
            format!("version '{}' is not MAJOR.MINOR.PATCH with an optional -tag", intent.version),
        ));
    }
    if !is_valid_name(&intent.environment) {
        out.push(Violation::new(
            ErrorCode::InvalidEnvironment,
            format!("environment '{}' is not a valid environment name", intent.environment),
        ));
    }
    if let Some(recipe_id) = &intent.recipe_id {
        if !is_valid_name(recipe_id) {
            out.push(Violation::new(ErrorCode::InvalidRequest, format!("recipeId '{recipe_id}' is not a valid id")));
        }
    }

    // 5b. Promotion: same environment, path, version proven in the source.
    if let Some(promotion) = &facts.promotion {
        out.extend(check_promotion(facts, promotion));
    }

    // 6. Allowlist.
    let Some(service) = facts.service else {
        out.push(Violation::new(
            ErrorCode::ServiceNotAllowlisted,
            format!("service '{}' is not allowlisted", intent.service),
        ));
        return out;
    };

    // 7. Delivery-group policy.
    let Some(group) = facts.group else {
        out.push(Violation::new(
            ErrorCode::ServiceNotInDeliveryGroup,
            format!("service '{}' is not in a delivery group", service.name),
        ));
        return out;
    };
    if facts.principal.is_group_scoped() && !group.has_member(&facts.principal.actor_id) {
        out.push(Violation::new(
            ErrorCode::DeliveryGroupScopeRequired,
            format!("you are not a member of delivery group '{}'", group.id),
        ));
    }
    let environment_allowed = group.allowed_environments.contains(&intent.environment);
    if !environment_allowed {
        if is_valid_name(&intent.environment) {
            out.push(Violation::new(
                ErrorCode::EnvironmentNotAllowed,
                format!("delivery group '{}' may not deploy to '{}'", group.id, intent.environment),
            ));
        }
    } else if facts.environment.is_some_and(|e| !e.enabled) {
        out.push(Violation::new(
            ErrorCode::EnvironmentDisabled,
            format!("environment '{}' is disabled", intent.environment),
        ));
    }
    let recipe_id = facts.resolved_recipe_id();
    // Rollbacks use the recipe revision frozen on their target, so only
    // deploys and promotions are held to today's recipe policy.
    if facts.kind != DeploymentKind::Rollback {
        match &recipe_id {
            Some(id) if !group.allowed_recipes.contains(id) => out.push(Violation::new(
                ErrorCode::RecipeNotAllowed,
                format!("delivery group '{}' does not allow recipe '{id}'", group.id),
            )),
            _ => {}
        }

        // 8. Compatibility.
        match (facts.recipe, &recipe_id) {
            (None, Some(id)) => {
                out.push(Violation::new(ErrorCode::RecipeNotFound, format!("recipe '{id}' does not exist")))
            }
            (None, None) => out.push(Violation::new(
                ErrorCode::RecipeNotFound,
                format!("no recipeId given and delivery group '{}' has no default recipe", group.id),
            )),
            (Some(recipe), _) => {
                if recipe.status == RecipeStatus::Deprecated {
                    out.push(Violation::new(
                        ErrorCode::RecipeDeprecated,
                        format!("recipe '{}' is deprecated", recipe.id),
                    ));
                }
                if !service.compatible_recipes.is_empty() && !service.compatible_recipes.contains(&recipe.id) {
                    out.push(Violation::new(
                        ErrorCode::RecipeIncompatible,
                        format!("recipe '{}' is not compatible with service '{}'", recipe.id, service.name),
                    ));
                }
            }
        }
    }

    // 9. Version and rollback target.
    if facts.version_chosen && is_valid_version(&intent.version) && !facts.version_registered {
        out.push(Violation::new(
            ErrorCode::VersionNotFound,
            format!("version '{}' of '{}' is not a registered build", intent.version, service.name),
        ));
    }
    if let Some(v) = &facts.rollback_violation {
        out.push(v.clone());
    }

    // 10-11. Quota and concurrency of the (group, environment).
    if let Some(usage) = facts.usage {
        out.extend(check_usage(group, facts.kind, usage));
    }
    out
}

/// The three checks a promotion adds after step 5, in order. The path is
/// judged only once the group is known (step 7 reports a missing one).
fn check_promotion(facts: &Facts<'_>, promotion: &PromotionFacts) -> Vec<Violation> {
    let (source, target) = (promotion.source_environment.as_str(), facts.intent.environment.as_str());
    let mut out = Vec::new();
    if !is_valid_name(source) {
        out.push(Violation::new(
            ErrorCode::InvalidEnvironment,
            format!("sourceEnvironment '{source}' is not a valid environment name"),
        ));
        return out;
    }
    if source == target {
        out.push(Violation::new(
            ErrorCode::PromotionSameEnvironment,
            format!("sourceEnvironment and targetEnvironment are both '{source}'"),
        ));
    } else if facts.group.is_some() {
        out.extend(check_path(&promotion.path, source, target, promotion.allow_jumps));
    }
    if !promotion.succeeded_in_source {
        out.push(Violation::new(
            ErrorCode::PromotionVersionIneligible,
            format!("version '{}' of '{}' never succeeded in '{source}'", facts.intent.version, facts.intent.service),
        ));
    }
    out
}

/// Steps 10 and 11 alone: what the admission transaction re-checks under
/// its lock.
pub fn check_usage(group: &DeliveryGroup, kind: DeploymentKind, usage: Usage) -> Vec<Violation> {
    let mut out = Vec::new();
    let quota = daily_quota(group, kind);
    if usage.created_today >= i64::from(quota) {
        let what = match kind {
            DeploymentKind::RollForward | DeploymentKind::Promotion => "deploy",
            DeploymentKind::Rollback => "rollback",
        };
        out.push(Violation::new(
            ErrorCode::QuotaExceeded,
            format!("daily {what} quota of {quota} for this delivery group and environment is used up"),
        ));
    }
    let max = group.guardrails.max_concurrent_deployments;
    if usage.in_flight >= i64::from(max) {
        out.push(Violation::new(
            ErrorCode::ConcurrencyLimitReached,
            format!("{} deployment(s) already in flight; the limit is {max}", usage.in_flight),
        ));
    }
    out
}

/// The daily quota that applies to a kind of deployment.
pub fn daily_quota(group: &DeliveryGroup, kind: DeploymentKind) -> i32 {
    match kind {
        DeploymentKind::RollForward | DeploymentKind::Promotion => group.guardrails.daily_deploy_quota,
        DeploymentKind::Rollback => group.guardrails.daily_rollback_quota,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::{
        catalog::{EnvironmentType, Guardrails},
        Role,
    };

    fn group() -> DeliveryGroup {
        DeliveryGroup {
            id: "payments".into(),
            name: "Payments".into(),
            description: None,
            owner: None,
            members: vec!["owner".into()],
            services: vec!["payments-api".into()],
            allowed_recipes: vec!["standard".into()],
            allowed_environments: vec!["sandbox".into()],
            default_recipe_id: Some("standard".into()),
            guardrails: Guardrails { max_concurrent_deployments: 1, daily_deploy_quota: 2, daily_rollback_quota: 1 },
            created_at: Utc::now(),
            created_by: "t".into(),
            updated_at: Utc::now(),
            updated_by: "t".into(),
            last_change_reason: None,
        }
    }

    fn service() -> Service {
        Service {
            name: "payments-api".into(),
            description: None,
            delivery_group_id: Some("payments".into()),
            compatible_recipes: vec![],
        }
    }

    fn environment() -> Environment {
        Environment {
            name: "sandbox".into(),
            display_name: "Sandbox".into(),
            env_type: EnvironmentType::NonProd,
            promotion_order: Some(1),
            enabled: true,
        }
    }

    fn recipe() -> Recipe {
        Recipe {
            id: "standard".into(),
            name: "Standard".into(),
            description: None,
            status: RecipeStatus::Active,
            revision: 1,
            effective_behavior_summary: "s".into(),
            spinnaker_application: "a".into(),
            deploy_pipeline: "d".into(),
            rollback_pipeline: "r".into(),
            created_at: Utc::now(),
            created_by: "t".into(),
            updated_at: Utc::now(),
            updated_by: "t".into(),
            last_change_reason: None,
        }
    }

    fn intent() -> Intent {
        Intent {
            service: "payments-api".into(),
            version: "1.0.0".into(),
            environment: "sandbox".into(),
            change_summary: "ship it".into(),
            recipe_id: None,
        }
    }

    struct World {
        principal: Principal,
        intent: Intent,
        service: Option<Service>,
        group: Option<DeliveryGroup>,
        environment: Option<Environment>,
        recipe: Option<Recipe>,
        version_registered: bool,
        usage: Option<Usage>,
    }

    impl World {
        fn ok() -> Self {
            Self {
                principal: Principal::new("owner", Role::DeliveryOwner),
                intent: intent(),
                service: Some(service()),
                group: Some(group()),
                environment: Some(environment()),
                recipe: Some(recipe()),
                version_registered: true,
                usage: Some(Usage { created_today: 0, in_flight: 0 }),
            }
        }

        fn codes(&self) -> Vec<ErrorCode> {
            evaluate(&Facts {
                principal: &self.principal,
                intent: &self.intent,
                kind: DeploymentKind::RollForward,
                service: self.service.as_ref(),
                group: self.group.as_ref(),
                environment: self.environment.as_ref(),
                recipe: self.recipe.as_ref(),
                version_registered: self.version_registered,
                version_chosen: true,
                rollback_violation: None,
                usage: self.usage,
                promotion: None,
            })
            .into_iter()
            .map(|v| v.code)
            .collect()
        }
    }

    #[test]
    fn a_valid_intent_passes_every_check() {
        assert_eq!(World::ok().codes(), vec![]);
    }

    #[test]
    fn a_blank_or_long_change_summary_is_an_invalid_request() {
        let mut w = World::ok();
        w.intent.change_summary = "   ".into();
        assert_eq!(w.codes(), vec![ErrorCode::InvalidRequest]);
        w.intent.change_summary = "x".repeat(241);
        assert_eq!(w.codes(), vec![ErrorCode::InvalidRequest]);
        w.intent.change_summary = format!("  {}  ", "x".repeat(240));
        assert_eq!(w.codes(), vec![]);
    }

    #[test]
    fn shape_errors_are_all_listed_before_policy_errors() {
        let mut w = World::ok();
        w.intent.version = "1.0".into();
        w.intent.environment = "Prod!".into();
        w.version_registered = false;
        assert_eq!(w.codes(), vec![ErrorCode::InvalidVersion, ErrorCode::InvalidEnvironment]);
    }

    #[test]
    fn an_unknown_service_is_not_allowlisted() {
        let mut w = World::ok();
        w.service = None;
        assert_eq!(w.codes(), vec![ErrorCode::ServiceNotAllowlisted]);
    }

    #[test]
    fn a_service_outside_every_group_is_refused() {
        let mut w = World::ok();
        w.group = None;
        assert_eq!(w.codes(), vec![ErrorCode::ServiceNotInDeliveryGroup]);
    }

    #[test]
    fn an_owner_outside_the_group_needs_scope_but_an_admin_does_not() {
        let mut w = World::ok();
        w.principal = Principal::new("stranger", Role::DeliveryOwner);
        assert_eq!(w.codes(), vec![ErrorCode::DeliveryGroupScopeRequired]);
        w.principal = Principal::new("root", Role::PlatformAdmin);
        assert_eq!(w.codes(), vec![]);
    }

    #[test]
    fn environment_must_be_allowed_then_enabled() {
        let mut w = World::ok();
        w.intent.environment = "prod".into();
        assert_eq!(w.codes(), vec![ErrorCode::EnvironmentNotAllowed]);
        let mut w = World::ok();
        if let Some(e) = w.environment.as_mut() {
            e.enabled = false;
        }
        assert_eq!(w.codes(), vec![ErrorCode::EnvironmentDisabled]);
    }

    #[test]
    fn a_recipe_the_group_does_not_allow_is_refused_before_its_existence_is_checked() {
        let mut w = World::ok();
        w.intent.recipe_id = Some("canary".into());
        w.recipe = None;
        assert_eq!(w.codes(), vec![ErrorCode::RecipeNotAllowed, ErrorCode::RecipeNotFound]);
    }

    #[test]
    fn deprecated_and_incompatible_recipes_are_refused() {
        let mut w = World::ok();
        if let Some(r) = w.recipe.as_mut() {
            r.status = RecipeStatus::Deprecated;
        }
        if let Some(s) = w.service.as_mut() {
            s.compatible_recipes = vec!["canary".into()];
        }
        assert_eq!(w.codes(), vec![ErrorCode::RecipeDeprecated, ErrorCode::RecipeIncompatible]);
    }

    #[test]
    fn an_unregistered_version_is_not_found() {
        let mut w = World::ok();
        w.version_registered = false;
        assert_eq!(w.codes(), vec![ErrorCode::VersionNotFound]);
    }

    #[test]
    fn quota_then_concurrency_are_checked_last() {
        let mut w = World::ok();
        w.usage = Some(Usage { created_today: 2, in_flight: 1 });
        assert_eq!(w.codes(), vec![ErrorCode::QuotaExceeded, ErrorCode::ConcurrencyLimitReached]);
        w.usage = Some(Usage { created_today: 1, in_flight: 0 });
        assert_eq!(w.codes(), vec![]);
    }
}
