//! The questions a UI asks before it shows a button (DESIGN §11.1):
//! `allowedActions` ("may I press it now, and if not, why") and
//! `deliveryStatus` (what is there, what runs, what could be promoted).
//!
//! Read-only: no audit event, no engine call, nothing written. Every reason
//! comes from the mutations' own rule code: the role and kill-switch checks
//! of `open_mutation`, then the guardrail evaluation behind
//! `validateDeployment`, `validateRollback` and `validatePromotion`. So a
//! button and the mutation it stands for never disagree: `allowed: true` is
//! followed by an accepted mutation, `allowed: false` by a refusal whose
//! code is the first reason listed (rate limits aside: they are per minute,
//! not a property of the button).

use super::{
    forbidden,
    reads::{require_role, scope_required},
    Caller, Services,
};
use crate::domain::{
    catalog::DeliveryGroup,
    deployment::{DeploymentRecord, RunningState},
    guardrails::{Intent, Violation},
    promotion::{next_step, promotion_path, NextStep},
    DomainError, ErrorCode, Principal, Role,
};

/// Stands in for the change summary a button's mutation will carry, so the
/// summary check passes: the question is about the action, not its text.
const ANY_SUMMARY: &str = "allowedActions";

/// Whether one action is allowed now, and every reason it is not, in
/// guardrail order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionPermission {
    pub reasons: Vec<Violation>,
}

impl ActionPermission {
    pub fn allowed(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// `allowedActions(service, environment)` for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// What a promotion *from* an environment would move, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromotionCandidate {
    /// The first reason it is not eligible; `None` when it is.
    pub reason: Option<ErrorCode>,
    pub source_environment: Option<String>,
    pub target_environment: Option<String>,
    pub version: Option<String>,
    pub recipe_id: Option<String>,
}

/// `deliveryStatus(service, environment)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    pub service: String,
    pub environment: String,
    /// The newest record of the pair, whatever its state.
    pub latest: Option<DeploymentRecord>,
    pub running: Option<RunningState>,
    pub promotion_candidate: PromotionCandidate,
}

fn reason(code: ErrorCode, message: impl Into<String>) -> Violation {
    Violation::new(code, message)
}

impl Services {
    /// `allowedActions`: any authenticated caller may ask about themselves.
    /// A delivery owner outside the service's group learns only that
    /// (`DELIVERY_GROUP_SCOPE_REQUIRED` after the role and kill-switch
    /// reasons), nothing of the group's quota, slots or records.
    pub async fn allowed_actions(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
    ) -> Result<AllowedActions, DomainError> {
        let gate = self.mutation_gate(&caller.principal).await?;
        let with_gate = |mut reasons: Vec<Violation>| {
            let mut all = gate.clone();
            all.append(&mut reasons);
            ActionPermission { reasons: all }
        };
        let group = self.group_of(service).await?;
        let (deploy, rollback, promote, cancel) = match &group {
            Some(group) if !self.in_group_scope(&caller.principal, &group.id).await? => {
                let scope = scope_required();
                let only_scope = || with_gate(vec![reason(scope.code, scope.message.clone())]);
                (only_scope(), only_scope(), only_scope(), only_scope())
            }
            _ => {
                // Independent reads: asked at once, not one after the other.
                let (deploy, rollback, (_, promote), cancel) = tokio::try_join!(
                    self.deploy_reasons(caller, service, environment),
                    self.rollback_reasons(caller, service, environment),
                    self.promotion_candidate(caller, service, environment, group.as_ref()),
                    self.cancel_reasons(service, environment),
                )?;
                (with_gate(deploy), with_gate(rollback), with_gate(promote), with_gate(cancel))
            }
        };
        Ok(AllowedActions {
            service: service.to_owned(),
            environment: environment.to_owned(),
            role: caller.principal.role,
            deploy,
            rollback,
            promote,
            cancel,
        })
    }

    /// `deliveryStatus`: readers of deployments; a delivery owner only for
    /// services of their groups (`Services::require_service_scope`). Three statements for the records whatever the history
    /// size (newest, running, newest in flight are index lookups).
    pub async fn delivery_status(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
    ) -> Result<DeliveryStatus, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read delivery status")?;
        self.require_service_scope(&caller.principal, service).await?;
        let group = self.group_of(service).await?;
        let (promotion_candidate, _) = self.promotion_candidate(caller, service, environment, group.as_ref()).await?;
        Ok(DeliveryStatus {
            service: service.to_owned(),
            environment: environment.to_owned(),
            latest: self.store.latest_deployment(service, environment).await?,
            running: self.store.running_state(service, environment).await?,
            promotion_candidate,
        })
    }

    /// Steps 2 and 3 of every deploy, rollback, promote and cancel: the
    /// role, then the kill switch, both listed when both refuse.
    async fn mutation_gate(&self, principal: &Principal) -> Result<Vec<Violation>, DomainError> {
        let mut reasons = Vec::new();
        if !principal.can_deploy() {
            let refusal = forbidden("deploy, roll back, promote or cancel");
            reasons.push(reason(refusal.code, refusal.message));
        }
        if self.current_settings().await?.mutations_disabled {
            reasons.push(reason(ErrorCode::MutationsDisabled, "mutations are disabled by the kill switch"));
        }
        Ok(reasons)
    }

    async fn group_of(&self, service: &str) -> Result<Option<DeliveryGroup>, DomainError> {
        let group_id = self.store.service(service).await?.and_then(|s| s.delivery_group_id);
        match group_id {
            Some(id) => Ok(self.store.delivery_group(&id).await?),
            None => Ok(None),
        }
    }

    /// `validateDeployment` before a version is chosen.
    async fn deploy_reasons(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
    ) -> Result<Vec<Violation>, DomainError> {
        let intent = Intent {
            service: service.to_owned(),
            version: String::new(),
            environment: environment.to_owned(),
            change_summary: ANY_SUMMARY.to_owned(),
            recipe_id: None,
        };
        Ok(self.roll_forward_preview(caller, &intent, None, false).await?.violations)
    }

    /// `validateRollback` of what runs now; nothing runs -> nothing to restore.
    async fn rollback_reasons(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
    ) -> Result<Vec<Violation>, DomainError> {
        match self.store.current_success(service, environment).await? {
            Some(running) => Ok(self.rollback_preview(caller, running).await?.violations),
            None => Ok(vec![reason(
                ErrorCode::NoPriorSuccessfulVersion,
                format!("nothing runs of '{service}' in '{environment}' to roll back"),
            )]),
        }
    }

    /// What a promotion from `environment` would move (the version running
    /// there) and where (the next enabled environment on the group's path),
    /// with every guardrail reason of that `promote` for the caller, beyond
    /// role and kill switch.
    async fn promotion_candidate(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
        group: Option<&DeliveryGroup>,
    ) -> Result<(PromotionCandidate, Vec<Violation>), DomainError> {
        let source = Some(environment.to_owned());
        let Some(running) = self.store.current_success(service, environment).await? else {
            let why = reason(
                ErrorCode::PromotionNoSuccessfulVersion,
                format!("no version of '{service}' has succeeded in '{environment}'"),
            );
            return Ok(unpromotable(source, None, why));
        };
        let version = Some(running.version.clone());
        let path = match group {
            Some(group) => promotion_path(group, &self.store.environments().await?),
            None => Vec::new(),
        };
        let target = match next_step(&path, environment) {
            NextStep::To(target) => target.to_owned(),
            NextStep::SourceNotOnPath => {
                let why = reason(
                    ErrorCode::PromotionSourceNotOnPath,
                    format!("'{environment}' is not on the promotion path of '{service}'"),
                );
                return Ok(unpromotable(source, version, why));
            }
            NextStep::AtHighest => {
                let why = reason(
                    ErrorCode::PromotionAtHighestEnvironment,
                    format!("'{environment}' is the highest environment on the promotion path of '{service}'"),
                );
                return Ok(unpromotable(source, version, why));
            }
        };
        let intent = Intent {
            service: service.to_owned(),
            version: running.version,
            environment: target.clone(),
            change_summary: ANY_SUMMARY.to_owned(),
            recipe_id: None,
        };
        let preflight = self.roll_forward_preview(caller, &intent, Some(environment), true).await?;
        let candidate = PromotionCandidate {
            reason: preflight.violations.first().map(|v| v.code),
            source_environment: source,
            target_environment: Some(target),
            version,
            recipe_id: preflight.recipe_id,
        };
        Ok((candidate, preflight.violations))
    }

    /// Cancel needs an in-flight record the engine has accepted.
    async fn cancel_reasons(&self, service: &str, environment: &str) -> Result<Vec<Violation>, DomainError> {
        Ok(match self.store.in_flight_deployment(service, environment).await? {
            None => vec![reason(
                ErrorCode::NothingInFlight,
                format!("no deployment of '{service}' is in flight in '{environment}'"),
            )],
            Some(record) if record.engine_execution_id.is_none() => vec![reason(
                ErrorCode::DeploymentNotCancelable,
                "the engine has not accepted this deployment yet; retry in a moment",
            )],
            Some(_) => Vec::new(),
        })
    }
}

/// A candidate that cannot be promoted, for `why`.
fn unpromotable(
    source: Option<String>,
    version: Option<String>,
    why: Violation,
) -> (PromotionCandidate, Vec<Violation>) {
    let candidate =
        PromotionCandidate { reason: Some(why.code), source_environment: source, version, ..Default::default() };
    (candidate, vec![why])
}
