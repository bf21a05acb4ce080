//! Deploy and rollback (DESIGN §4, §5): guardrails in order, the admission
//! transaction, then the engine, outside any transaction. Also the
//! side-effect-free previews `validateDeployment` and `validateRollback`.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{
    audit::AuditSubject,
    forbidden,
    mutation::{fingerprint, MutationRequest, Refusal},
    reads::{refused_read, require_role, scope_required},
    Caller, Services,
};
use crate::{
    domain::{
        audit::AuditOutcome,
        build::Build,
        catalog::{DeliveryGroup, Environment, Recipe, Service},
        deployment::{DeploymentKind, DeploymentRecord, DeploymentState, TimelineEvent},
        failure::engine_call_failure,
        guardrails::{self, check_usage, daily_quota, evaluate, Facts, Intent, PromotionFacts, Usage, Violation},
        ids::{DeploymentRef, KeyInput},
        promotion::{promotion_path, Promotion},
        rollback::restore_version,
        state_machine::timeline_entry,
        DomainError, ErrorCode, Principal,
    },
    engine::TriggerRequest,
    store::{
        admission::{AdmissionOutcome, AdmissionRequest},
        deployments::RecordBundle,
        idempotency::{IdempotencyEntry, StoredKey},
        lifecycle::{AuditCorrection, Transition},
    },
};

/// How often a replay polls while the original request is still talking
/// to the engine.
const REPLAY_POLL: StdDuration = StdDuration::from_millis(50);

/// A guardrail preview (`DeploymentPreflight`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    pub violations: Vec<Violation>,
    pub service: String,
    pub environment: String,
    pub version: String,
    pub recipe_id: Option<String>,
    pub delivery_group_id: Option<String>,
    pub version_registered: bool,
    pub max_concurrent_deployments: Option<i32>,
    pub in_flight_deployments: Option<i64>,
    pub daily_quota: Option<i32>,
    pub used_today: Option<i64>,
}

/// The catalogue facts an intent refers to.
struct Loaded {
    service: Option<Service>,
    group: Option<DeliveryGroup>,
    environment: Option<Environment>,
    recipe: Option<Recipe>,
    /// The registered build of the intent's version, if any.
    build: Option<Build>,
    /// For a promotion: its source and path facts.
    promotion: Option<PromotionFacts>,
    /// False for `allowedActions`, asked before a version is chosen.
    version_chosen: bool,
}

/// A rollback's target and what it would restore.
struct RollbackPlan {
    target: DeploymentRecord,
    restore: Result<String, Violation>,
}

fn denied(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal::Denied(DomainError::new(code, message))
}

fn violation_error(v: &Violation) -> DomainError {
    DomainError::new(v.code, v.message.clone())
}

/// What makes two deploy requests the same request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeployFingerprint<'a> {
    service: &'a str,
    version: &'a str,
    environment: &'a str,
    change_summary: &'a str,
    recipe_id: Option<&'a str>,
}

/// What makes two promotion requests the same request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PromotionFingerprint<'a> {
    #[serde(flatten)]
    deploy: DeployFingerprint<'a>,
    source_environment: &'a str,
}

/// What makes two rollback requests the same request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RollbackFingerprint<'a> {
    deployment_id: &'a str,
    change_summary: Option<&'a str>,
}

fn deploy_fingerprint(intent: &Intent) -> DeployFingerprint<'_> {
    DeployFingerprint {
        service: &intent.service,
        version: &intent.version,
        environment: &intent.environment,
        change_summary: intent.change_summary.trim(),
        recipe_id: intent.recipe_id.as_deref(),
    }
}

/// Start of the UTC day containing `now`: daily quotas count from here.
pub(crate) fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now)
}

impl Services {
    /// `deploy(intent, idempotencyKey)`.
    pub async fn deploy(
        &self,
        caller: &Caller,
        intent: Intent,
        key: &KeyInput,
    ) -> Result<DeploymentRecord, DomainError> {
        let subject = AuditSubject {
            event_type: "DEPLOY_SUBMIT",
            target_type: "DEPLOYMENT",
            target_id: format!("{}/{}", intent.service, intent.environment),
            service_name: Some(intent.service.clone()),
            environment: Some(intent.environment.clone()),
            ..AuditSubject::default()
        };
        let fingerprint = fingerprint(&deploy_fingerprint(&intent));
        let work =
            self.submit(caller, "deploy", key, fingerprint, &subject, || self.roll_forward_plan(caller, &intent, None));
        self.run_audited(caller, &subject, work).await
    }

    /// `promote(intent, idempotencyKey)`: a deploy into the target
    /// environment with the promotion checks (DESIGN §11.1).
    pub async fn promote(
        &self,
        caller: &Caller,
        promotion: Promotion,
        key: &KeyInput,
    ) -> Result<DeploymentRecord, DomainError> {
        let Promotion { intent, source_environment } = &promotion;
        let subject = AuditSubject {
            event_type: DeploymentKind::Promotion.submit_event_type(),
            target_type: "DEPLOYMENT",
            target_id: format!("{}/{}", intent.service, intent.environment),
            service_name: Some(intent.service.clone()),
            environment: Some(intent.environment.clone()),
            ..AuditSubject::default()
        };
        let fingerprint = fingerprint(&PromotionFingerprint { deploy: deploy_fingerprint(intent), source_environment });
        let work = self.submit(caller, "promote", key, fingerprint, &subject, || {
            self.roll_forward_plan(caller, intent, Some(source_environment))
        });
        self.run_audited(caller, &subject, work).await
    }

    /// `validatePromotion(intent)`: every violation a promotion would meet.
    pub async fn validate_promotion(&self, caller: &Caller, promotion: Promotion) -> Result<Preflight, DomainError> {
        require_role(&caller.principal, Principal::can_deploy, "validate promotions")?;
        self.roll_forward_preview(caller, &promotion.intent, Some(&promotion.source_environment), true).await
    }

    /// `rollback(deploymentId, changeSummary, idempotencyKey)`.
    pub async fn rollback(
        &self,
        caller: &Caller,
        target: &DeploymentRef,
        change_summary: Option<String>,
        key: &KeyInput,
    ) -> Result<DeploymentRecord, DomainError> {
        let target_id = target.as_str();
        let mut subject = AuditSubject {
            event_type: "ROLLBACK_SUBMIT",
            target_type: "DEPLOYMENT",
            target_id: target_id.to_owned(),
            ..AuditSubject::default()
        };
        if let Ok(Some(target)) = self.lookup(target).await {
            subject.service_name = Some(target.service.clone());
            subject.environment = Some(target.environment.clone());
            subject.delivery_group_id = Some(target.delivery_group_id.clone());
        }
        let fingerprint = fingerprint(&RollbackFingerprint {
            deployment_id: target_id,
            change_summary: change_summary.as_deref().map(str::trim),
        });
        let work = self.submit(caller, "rollback", key, fingerprint, &subject, || {
            self.rollback_plan(caller, target, change_summary.clone())
        });
        self.run_audited(caller, &subject, work).await
    }

    /// `validateDeployment(intent)`: steps 1 and 5-11, no side effects.
    pub async fn validate_deployment(&self, caller: &Caller, intent: Intent) -> Result<Preflight, DomainError> {
        require_role(&caller.principal, Principal::can_deploy, "validate deployments")?;
        self.roll_forward_preview(caller, &intent, None, true).await
    }

    /// `validateRollback(deploymentId)`: the same preview for a rollback.
    pub async fn validate_rollback(&self, caller: &Caller, target: &DeploymentRef) -> Result<Preflight, DomainError> {
        require_role(&caller.principal, Principal::can_deploy, "validate rollbacks")?;
        let Some(target) = self.lookup(target).await? else {
            return Err(DomainError::not_found("deployment", target.as_str()));
        };
        // Scope first: nothing of another group's record is read or shown.
        if !self.in_group_scope(&caller.principal, &target.delivery_group_id).await? {
            return Err(refused_read(&caller.principal, scope_required()));
        }
        self.rollback_preview(caller, target).await
    }

    /// Every guardrail verdict for rolling `target` back (scope already checked).
    pub(crate) async fn rollback_preview(
        &self,
        caller: &Caller,
        target: DeploymentRecord,
    ) -> Result<Preflight, DomainError> {
        let plan = self.plan_rollback(target).await?;
        let intent = rollback_intent(&plan, None);
        let loaded = self.load_facts(&intent).await?;
        let loaded = Loaded { recipe: self.store.recipe(&plan.target.recipe_id).await?, ..loaded };
        self.preview(caller, &intent, DeploymentKind::Rollback, &loaded, plan.restore.err()).await
    }

    /// Every guardrail verdict for `intent` as a deploy (a promotion when
    /// `source` is given), without side effects. `version_chosen: false`
    /// skips the checks of the version (`allowedActions`).
    pub(crate) async fn roll_forward_preview(
        &self,
        caller: &Caller,
        intent: &Intent,
        source: Option<&str>,
        version_chosen: bool,
    ) -> Result<Preflight, DomainError> {
        let loaded = Loaded { version_chosen, ..self.load_facts(intent).await? };
        match source {
            Some(source) => {
                let loaded = self.with_promotion(loaded, intent, source).await?;
                self.preview(caller, intent, DeploymentKind::Promotion, &loaded, None).await
            }
            None => self.preview(caller, intent, DeploymentKind::RollForward, &loaded, None).await,
        }
    }

    async fn preview(
        &self,
        caller: &Caller,
        intent: &Intent,
        kind: DeploymentKind,
        loaded: &Loaded,
        rollback_violation: Option<Violation>,
    ) -> Result<Preflight, DomainError> {
        let usage = match &loaded.group {
            Some(group) => Some(self.store.usage(&group.id, &intent.environment, kind, day_start(self.now())).await?),
            None => None,
        };
        let facts = self.facts(caller, intent, kind, loaded, rollback_violation, usage);
        let violations = evaluate(&facts);
        Ok(Preflight {
            service: intent.service.clone(),
            environment: intent.environment.clone(),
            version: intent.version.clone(),
            recipe_id: facts.resolved_recipe_id(),
            delivery_group_id: loaded.group.as_ref().map(|g| g.id.clone()),
            version_registered: loaded.build.is_some(),
            max_concurrent_deployments: loaded.group.as_ref().map(|g| g.guardrails.max_concurrent_deployments),
            in_flight_deployments: usage.map(|u| u.in_flight),
            daily_quota: loaded.group.as_ref().map(|g| daily_quota(g, kind)),
            used_today: usage.map(|u| u.created_today),
            violations,
        })
    }

    /// Steps 1-4 and the admission, shared by deploy and rollback. `plan`
    /// runs steps 5-9 and returns the record to admit.
    async fn submit<F, Fut>(
        &self,
        caller: &Caller,
        mutation: &'static str,
        key: &KeyInput,
        fingerprint: serde_json::Value,
        subject: &AuditSubject,
        plan: F,
    ) -> Result<DeploymentRecord, Refusal>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(RecordBundle, DeliveryGroup), Refusal>>,
    {
        let opened = self
            .open_mutation(
                caller,
                MutationRequest {
                    mutation,
                    key,
                    fingerprint,
                    permitted: if caller.principal.can_deploy() {
                        Ok(())
                    } else {
                        Err(forbidden("deploy or roll back"))
                    },
                    kill_switch_exempt: false,
                },
            )
            .await?;
        let entry = opened.entry;
        if let Some(stored) = opened.replay {
            return self.replay(caller, &entry, stored).await;
        }
        // 5-9.
        let (mut bundle, group) = plan().await?;
        // 10-11 under the (group, environment) lock, after refreshing what is
        // in flight there so finished deployments free their slots.
        self.refresh_in_flight(&group.id, &bundle.record.environment).await?;
        let now = self.now();
        bundle.record.created_at = now;
        bundle.record.updated_at = now;
        for event in &mut bundle.timeline {
            event.occurred_at = now;
        }
        let record = bundle.record.clone();
        let audit_subject = AuditSubject {
            target_id: record.id.to_string(),
            delivery_group_id: Some(record.delivery_group_id.clone()),
            service_name: Some(record.service.clone()),
            environment: Some(record.environment.clone()),
            ..subject.clone()
        };
        let audit = self.audit_event(
            caller,
            &audit_subject,
            AuditOutcome::Success,
            format!("{} {} {} to {}", subject.event_type, record.service, record.version, record.environment),
        );
        let audit_id = audit.id;
        let request = AdmissionRequest { bundle, audit, idempotency: entry.clone(), day_start: day_start(now) };
        let kind = record.kind;
        match self.store.admit(request, |usage: Usage| check_usage(&group, kind, usage)).await? {
            AdmissionOutcome::Admitted { .. } => {}
            AdmissionOutcome::KeyTaken(stored) => return self.replay(caller, &entry, stored).await,
            AdmissionOutcome::Refused { violations, .. } => {
                let first = violations.first().map(violation_error).unwrap_or_else(DomainError::internal);
                return Err(Refusal::Denied(first));
            }
        }
        // 12. The engine, outside the transaction.
        self.trigger(caller, record, audit_id).await
    }

    /// Calls the engine for an admitted record and records its answer.
    async fn trigger(
        &self,
        caller: &Caller,
        record: DeploymentRecord,
        audit_id: Uuid,
    ) -> Result<DeploymentRecord, Refusal> {
        let is_rollback = record.kind == DeploymentKind::Rollback;
        let request = TriggerRequest {
            deployment_id: record.id,
            application: record.spinnaker_application.clone(),
            pipeline: if is_rollback { record.rollback_pipeline.clone() } else { record.deploy_pipeline.clone() },
            service: record.service.clone(),
            version: record.version.clone(),
            environment: record.environment.clone(),
            artifact_ref: record.artifact_ref.clone().unwrap_or_default(),
            actor: caller.principal.actor_id.clone(),
            request_id: Some(caller.request_id.clone()),
            is_rollback,
            source_environment: record.source_environment.clone(),
        };
        let answer = self.engine.trigger(&request).await;
        let now = self.now();
        match answer {
            Ok(accepted) => {
                let (key, label) = timeline_entry(DeploymentState::Active);
                let transition = Transition {
                    id: record.id,
                    from: DeploymentState::Pending,
                    to: DeploymentState::Active,
                    at: now,
                    execution: Some((accepted.execution_id, accepted.execution_url)),
                    failure: None,
                    timeline: vec![TimelineEvent {
                        key: key.into(),
                        label: label.into(),
                        occurred_at: now,
                        detail: None,
                    }],
                    engine_contact: true,
                };
                self.store.apply_transition(&transition, None).await?;
                tracing::info!(deployment.id = %record.id, service.name = %record.service, "engine accepted the deployment");
                Ok(self.reload(record.id).await?)
            }
            Err(err) => {
                let code = err.code();
                tracing::warn!(deployment.id = %record.id, error = %err, code = %code, "engine refused the deployment");
                let transition = Transition {
                    id: record.id,
                    from: DeploymentState::Pending,
                    to: DeploymentState::Failed,
                    at: now,
                    execution: None,
                    failure: Some(engine_call_failure(code, now)),
                    timeline: vec![TimelineEvent {
                        key: "ENGINE_REJECTED".into(),
                        label: "Refused by the engine".into(),
                        occurred_at: now,
                        detail: Some(code.as_str().to_owned()),
                    }],
                    engine_contact: false,
                };
                let correction = AuditCorrection {
                    audit_id,
                    summary: format!(
                        "{} failed: {code} (the engine did not accept the run)",
                        record.kind.submit_event_type()
                    ),
                };
                self.store.apply_transition(&transition, Some(&correction)).await?;
                Err(Refusal::Failed(
                    DomainError::new(code, format!("the engine did not accept deployment {}", record.id))
                        .with_operator_hint(err.operator_detail()),
                ))
            }
        }
    }

    /// A request with a key already used: same input -> the original record
    /// (waiting while the original is still calling the engine); other input
    /// -> IDEMPOTENCY_CONFLICT.
    async fn replay(
        &self,
        caller: &Caller,
        entry: &IdempotencyEntry,
        stored: StoredKey,
    ) -> Result<DeploymentRecord, Refusal> {
        if stored.fingerprint != entry.fingerprint {
            return Err(denied(
                ErrorCode::IdempotencyConflict,
                "this idempotency key was already used with a different input",
            ));
        }
        let id = stored.result_id.as_deref().and_then(|id| Uuid::parse_str(id).ok());
        let Some(id) = id else {
            return Err(Refusal::Failed(DomainError::internal()));
        };
        // A caller who has left the record's group since gets nothing of it.
        let record = self.reload(id).await?;
        if !self.in_group_scope(&caller.principal, &record.delivery_group_id).await? {
            return Err(Refusal::Denied(scope_required()));
        }
        let deadline = tokio::time::Instant::now() + self.policy.engine_timeout + StdDuration::from_secs(2);
        loop {
            let record = self.reload(id).await?;
            if record.state != DeploymentState::Pending || record.engine_execution_id.is_some() {
                return Ok(record);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(denied(
                    ErrorCode::IdempotencyInProgress,
                    "a request with this idempotency key is still running; retry shortly",
                ));
            }
            tokio::time::sleep(REPLAY_POLL).await;
        }
    }

    /// Steps 5-9 of a deploy, or of a promotion from `source_environment`.
    async fn roll_forward_plan(
        &self,
        caller: &Caller,
        intent: &Intent,
        source_environment: Option<&String>,
    ) -> Result<(RecordBundle, DeliveryGroup), Refusal> {
        let loaded = self.load_facts(intent).await?;
        let (kind, loaded) = match source_environment {
            Some(source) => (DeploymentKind::Promotion, self.with_promotion(loaded, intent, source).await?),
            None => (DeploymentKind::RollForward, loaded),
        };
        let facts = self.facts(caller, intent, kind, &loaded, None, None);
        if let Some(first) = evaluate(&facts).first() {
            return Err(Refusal::Denied(violation_error(first)));
        }
        let (Some(group), Some(recipe)) = (loaded.group.clone(), loaded.recipe.clone()) else {
            return Err(Refusal::Failed(DomainError::internal()));
        };
        let build = loaded.build;
        let change_summary = guardrails::check_change_summary(&intent.change_summary)
            .map_err(|v| Refusal::Denied(violation_error(&v)))?;
        let record = DeploymentRecord {
            id: Uuid::now_v7(),
            service: intent.service.clone(),
            environment: intent.environment.clone(),
            version: intent.version.clone(),
            recipe_id: recipe.id.clone(),
            recipe_revision: recipe.revision,
            effective_behavior_summary: recipe.effective_behavior_summary.clone(),
            state: DeploymentState::Pending,
            kind,
            outcome: None,
            change_summary,
            created_at: self.now(),
            updated_at: self.now(),
            delivery_group_id: group.id.clone(),
            created_by: caller.principal.actor_id.clone(),
            rollback_of: None,
            superseded_by: None,
            engine_type: self.engine.engine_type(),
            engine_execution_id: None,
            engine_execution_url: None,
            spinnaker_application: recipe.spinnaker_application.clone(),
            deploy_pipeline: recipe.deploy_pipeline.clone(),
            rollback_pipeline: recipe.rollback_pipeline.clone(),
            artifact_ref: build.map(|b| b.registration.artifact_ref),
            last_engine_contact_at: None,
            source_environment: source_environment.cloned(),
        };
        Ok((bundle_for(record, &group), group))
    }

    /// Steps 5-9 of a rollback.
    async fn rollback_plan(
        &self,
        caller: &Caller,
        target_id: &DeploymentRef,
        change_summary: Option<String>,
    ) -> Result<(RecordBundle, DeliveryGroup), Refusal> {
        let Some(target) = self.lookup(target_id).await? else {
            return Err(Refusal::Denied(DomainError::not_found("deployment", target_id.as_str())));
        };
        // Scope before anything else: another group's in-flight records are
        // never refreshed on behalf of a caller outside it.
        if !self.in_group_scope(&caller.principal, &target.delivery_group_id).await? {
            return Err(Refusal::Denied(scope_required()));
        }
        // Fresh state next: a rollback decision on a stale record is wrong.
        self.refresh_in_flight(&target.delivery_group_id, &target.environment).await?;
        let target = self.reload(target.id).await?;
        let plan = self.plan_rollback(target).await?;
        let intent = rollback_intent(&plan, change_summary);
        let loaded = self.load_facts(&intent).await?;
        let loaded = Loaded { recipe: self.store.recipe(&plan.target.recipe_id).await?, ..loaded };
        let facts = self.facts(caller, &intent, DeploymentKind::Rollback, &loaded, plan.restore.clone().err(), None);
        if let Some(first) = evaluate(&facts).first() {
            return Err(Refusal::Denied(violation_error(first)));
        }
        let (Some(group), Ok(version)) = (loaded.group.clone(), plan.restore.clone()) else {
            return Err(Refusal::Failed(DomainError::internal()));
        };
        let build = self.store.build(&intent.service, &version).await?;
        let target = plan.target;
        let change_summary = guardrails::check_change_summary(&intent.change_summary)
            .map_err(|v| Refusal::Denied(violation_error(&v)))?;
        let record = DeploymentRecord {
            id: Uuid::now_v7(),
            version,
            state: DeploymentState::Pending,
            kind: DeploymentKind::Rollback,
            outcome: None,
            change_summary,
            created_at: self.now(),
            updated_at: self.now(),
            created_by: caller.principal.actor_id.clone(),
            rollback_of: Some(target.id),
            superseded_by: None,
            engine_type: self.engine.engine_type(),
            engine_execution_id: None,
            engine_execution_url: None,
            artifact_ref: build.map(|b| b.registration.artifact_ref),
            last_engine_contact_at: None,
            source_environment: None,
            // The recipe revision frozen on the target, not today's recipe.
            ..target
        };
        Ok((bundle_for(record, &group), group))
    }

    async fn plan_rollback(&self, target: DeploymentRecord) -> Result<RollbackPlan, DomainError> {
        let running = self.store.current_success(&target.service, &target.environment).await?;
        let prior = self.store.prior_success(&target.service, &target.environment, target.created_at).await?;
        let restore = restore_version(&target, running.as_ref(), prior.as_ref());
        Ok(RollbackPlan { target, restore })
    }

    /// A deployment by id as typed by a client; `None` for an unknown or
    /// malformed id.
    async fn lookup(&self, id: &DeploymentRef) -> Result<Option<DeploymentRecord>, DomainError> {
        match id.id() {
            Some(id) => Ok(self.store.deployment(id.uuid()).await?),
            None => Ok(None),
        }
    }

    async fn load_facts(&self, intent: &Intent) -> Result<Loaded, DomainError> {
        let service = self.store.service(&intent.service).await?;
        let group = match service.as_ref().and_then(|s| s.delivery_group_id.clone()) {
            Some(id) => self.store.delivery_group(&id).await?,
            None => None,
        };
        let environment = self.store.environment(&intent.environment).await?;
        let recipe_id = intent.recipe_id.clone().or_else(|| group.as_ref().and_then(|g| g.default_recipe_id.clone()));
        let recipe = match recipe_id {
            Some(id) => self.store.recipe(&id).await?,
            None => None,
        };
        let build = self.store.build(&intent.service, &intent.version).await?;
        Ok(Loaded { service, group, environment, recipe, build, promotion: None, version_chosen: true })
    }

    /// Adds what a promotion's checks need: the group's path (from every
    /// environment's order), the jumps setting and whether the version
    /// ever succeeded in the source.
    async fn with_promotion(&self, loaded: Loaded, intent: &Intent, source: &str) -> Result<Loaded, DomainError> {
        let path = match &loaded.group {
            Some(group) => promotion_path(group, &self.store.environments().await?),
            None => Vec::new(),
        };
        let promotion = PromotionFacts {
            source_environment: source.to_owned(),
            path,
            allow_jumps: self.current_settings().await?.promotion_allow_jumps,
            succeeded_in_source: self.store.ever_succeeded(&intent.service, source, &intent.version).await?,
        };
        Ok(Loaded { promotion: Some(promotion), ..loaded })
    }

    fn facts<'a>(
        &self,
        caller: &'a Caller,
        intent: &'a Intent,
        kind: DeploymentKind,
        loaded: &'a Loaded,
        rollback_violation: Option<Violation>,
        usage: Option<Usage>,
    ) -> Facts<'a> {
        Facts {
            principal: &caller.principal,
            intent,
            kind,
            service: loaded.service.as_ref(),
            group: loaded.group.as_ref(),
            environment: loaded.environment.as_ref(),
            recipe: loaded.recipe.as_ref(),
            // A rollback whose target is refused has no version to look up.
            version_registered: loaded.build.is_some()
                || (kind == DeploymentKind::Rollback && rollback_violation.is_some()),
            version_chosen: loaded.version_chosen,
            rollback_violation,
            usage,
            promotion: loaded.promotion.clone(),
        }
    }
}

/// The intent a rollback stands for: the target's service and environment,
/// the version it restores, and the target's recipe.
fn rollback_intent(plan: &RollbackPlan, change_summary: Option<String>) -> Intent {
    let target = &plan.target;
    Intent {
        service: target.service.clone(),
        version: plan.restore.clone().unwrap_or_else(|_| target.version.clone()),
        environment: target.environment.clone(),
        change_summary: change_summary.unwrap_or_else(|| format!("Rollback of deployment {}", target.id)),
        recipe_id: Some(target.recipe_id.clone()),
    }
}

/// A PENDING record with its submit timeline entry and policy snapshot.
fn bundle_for(record: DeploymentRecord, group: &DeliveryGroup) -> RecordBundle {
    let (key, label) = timeline_entry(DeploymentState::Pending);
    let submitted =
        TimelineEvent { key: key.into(), label: label.into(), occurred_at: record.created_at, detail: None };
    let snapshot = json!({
        "maxConcurrentDeployments": group.guardrails.max_concurrent_deployments,
        "dailyQuota": daily_quota(group, record.kind),
        "kind": record.kind.as_str(),
    });
    RecordBundle { record, policy_snapshot: snapshot, failures: Vec::new(), timeline: vec![submitted] }
}
