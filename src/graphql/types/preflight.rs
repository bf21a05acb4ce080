//! `DeploymentPreflight`: what `validateDeployment` and `validateRollback` answer.

use async_graphql::{SimpleObject, ID};

use crate::{domain::guardrails::Violation, service::deploy::Preflight};

/// One guardrail that would refuse the request.
#[derive(SimpleObject)]
pub struct GuardrailViolation {
    pub code: String,
    pub message: String,
}

impl From<Violation> for GuardrailViolation {
    fn from(v: Violation) -> Self {
        Self { code: v.code.as_str().to_owned(), message: v.message }
    }
}

/// Every violation in guardrail order, with the figures behind them.
#[derive(SimpleObject)]
pub struct DeploymentPreflight {
    pub allowed: bool,
    pub violations: Vec<GuardrailViolation>,
    pub service: String,
    pub environment: String,
    /// For a rollback: the version it would restore.
    pub version: String,
    /// The resolved recipe (explicit, else the group's default).
    pub recipe_id: Option<ID>,
    pub delivery_group_id: Option<ID>,
    pub version_registered: bool,
    pub max_concurrent_deployments: Option<i32>,
    /// PENDING, ACTIVE and IN_PROGRESS records of the (group, environment).
    pub in_flight_deployments: Option<i32>,
    /// The group's daily deploy (or, for a rollback, rollback) quota.
    pub daily_quota: Option<i32>,
    /// Deploys (or rollbacks) created today in the (group, environment).
    pub used_today: Option<i32>,
    pub remaining_today: Option<i32>,
}

impl From<Preflight> for DeploymentPreflight {
    fn from(p: Preflight) -> Self {
        let used_today = p.used_today.map(clamp);
        Self {
            allowed: p.violations.is_empty(),
            violations: p.violations.into_iter().map(GuardrailViolation::from).collect(),
            service: p.service,
            environment: p.environment,
            version: p.version,
            recipe_id: p.recipe_id.map(ID),
            delivery_group_id: p.delivery_group_id.map(ID),
            version_registered: p.version_registered,
            max_concurrent_deployments: p.max_concurrent_deployments,
            in_flight_deployments: p.in_flight_deployments.map(clamp),
            daily_quota: p.daily_quota,
            used_today,
            remaining_today: p.daily_quota.zip(used_today).map(|(quota, used)| (quota - used).max(0)),
        }
    }
}

fn clamp(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
