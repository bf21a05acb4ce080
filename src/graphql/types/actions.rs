//! `AllowedActions` and `DeliveryStatus`: what a UI asks before it shows a
//! button (DESIGN §11.1).

use async_graphql::{SimpleObject, ID};

use super::{
    catalog::Role,
    deployment::{Deployment, RunningState},
    preflight::GuardrailViolation,
};
use crate::service::actions;

/// Whether the caller may take an action now, and every reason not, in
/// guardrail order (the first is the code the mutation would answer).
#[derive(SimpleObject)]
pub struct ActionPermission {
    pub allowed: bool,
    pub reasons: Vec<GuardrailViolation>,
}

impl From<actions::ActionPermission> for ActionPermission {
    fn from(p: actions::ActionPermission) -> Self {
        Self { allowed: p.allowed(), reasons: p.reasons.into_iter().map(GuardrailViolation::from).collect() }
    }
}

/// The caller's permissions on one service in one environment.
#[derive(SimpleObject)]
pub struct AllowedActions {
    pub service: String,
    pub environment: String,
    pub role: Role,
    pub deploy: ActionPermission,
    pub rollback: ActionPermission,
    /// From this environment to the next one on the promotion path.
    pub promote: ActionPermission,
    pub cancel: ActionPermission,
}

impl From<actions::AllowedActions> for AllowedActions {
    fn from(a: actions::AllowedActions) -> Self {
        Self {
            service: a.service,
            environment: a.environment,
            role: a.role.into(),
            deploy: a.deploy.into(),
            rollback: a.rollback.into(),
            promote: a.promote.into(),
            cancel: a.cancel.into(),
        }
    }
}

/// What a promotion *from* this environment would move, and where.
#[derive(SimpleObject)]
pub struct PromotionCandidate {
    pub eligible: bool,
    /// A code when not eligible.
    pub reason: Option<String>,
    pub source_environment: Option<String>,
    pub target_environment: Option<String>,
    pub version: Option<String>,
    pub recipe_id: Option<ID>,
}

impl From<actions::PromotionCandidate> for PromotionCandidate {
    fn from(c: actions::PromotionCandidate) -> Self {
        Self {
            eligible: c.reason.is_none(),
            reason: c.reason.map(|code| code.as_str().to_owned()),
            source_environment: c.source_environment,
            target_environment: c.target_environment,
            version: c.version,
            recipe_id: c.recipe_id.map(ID),
        }
    }
}

/// A service in one environment: its newest record, what runs, and what
/// could be promoted from here.
#[derive(SimpleObject)]
pub struct DeliveryStatus {
    pub service: String,
    pub environment: String,
    pub has_deployments: bool,
    pub latest: Option<Deployment>,
    pub running: Option<RunningState>,
    pub promotion_candidate: PromotionCandidate,
}

impl From<actions::DeliveryStatus> for DeliveryStatus {
    fn from(s: actions::DeliveryStatus) -> Self {
        Self {
            service: s.service,
            environment: s.environment,
            has_deployments: s.latest.is_some(),
            latest: s.latest.map(Deployment),
            running: s.running.map(RunningState::from),
            promotion_candidate: s.promotion_candidate.into(),
        }
    }
}
