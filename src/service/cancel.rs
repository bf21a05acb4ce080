//! `cancelDeployment` (DESIGN §5, §10 Cancel): ask the engine to cancel an
//! in-flight record; the record becomes CANCELED when the engine confirms
//! (on a later refresh).

use serde::Serialize;

use super::{
    audit::AuditSubject,
    forbidden,
    mutation::{fingerprint, MutationRequest, Refusal},
    reads::scope_required,
    Caller, Services,
};
use crate::domain::{
    audit::AuditOutcome,
    deployment::{DeploymentRecord, TimelineEvent},
    ids::{DeploymentRef, KeyInput},
    DomainError, ErrorCode,
};

/// What makes two cancel requests the same request.
#[derive(Serialize)]
struct CancelFingerprint<'a> {
    id: &'a str,
}

impl Services {
    pub async fn cancel_deployment(
        &self,
        caller: &Caller,
        id: &DeploymentRef,
        key: &KeyInput,
    ) -> Result<DeploymentRecord, DomainError> {
        let record = match id.id() {
            Some(id) => self.store.deployment(id.uuid()).await?,
            None => None,
        };
        let id = id.as_str();
        let subject = AuditSubject {
            event_type: "DEPLOY_CANCEL",
            target_type: "DEPLOYMENT",
            target_id: id.to_owned(),
            delivery_group_id: record.as_ref().map(|r| r.delivery_group_id.clone()),
            service_name: record.as_ref().map(|r| r.service.clone()),
            environment: record.as_ref().map(|r| r.environment.clone()),
        };
        self.run_audited(caller, &subject, self.cancel_checked(caller, id, key, record, &subject)).await
    }

    async fn cancel_checked(
        &self,
        caller: &Caller,
        id: &str,
        key: &KeyInput,
        record: Option<DeploymentRecord>,
        subject: &AuditSubject,
    ) -> Result<DeploymentRecord, Refusal> {
        let opened = self
            .open_mutation(
                caller,
                MutationRequest {
                    mutation: "cancelDeployment",
                    key,
                    fingerprint: fingerprint(&CancelFingerprint { id }),
                    permitted: if caller.principal.can_deploy() {
                        Ok(())
                    } else {
                        Err(forbidden("cancel deployments"))
                    },
                    kill_switch_exempt: false,
                },
            )
            .await?;
        let entry = opened.entry;
        let Some(record) = record else {
            return Err(Refusal::Denied(DomainError::not_found("deployment", id)));
        };
        // Scope before anything else, a replay included: no refresh and no
        // engine call for a record of another group.
        if !self.in_group_scope(&caller.principal, &record.delivery_group_id).await? {
            return Err(Refusal::Denied(scope_required()));
        }
        if opened.replay.is_some() {
            return Ok(record);
        }
        let record = self.refresh(record).await?;
        if record.state.is_terminal() {
            return Err(Refusal::Denied(DomainError::new(
                ErrorCode::DeploymentNotCancelable,
                format!("deployment {} is {} and can no longer be canceled", record.id, record.state),
            )));
        }
        let Some(execution_id) = record.engine_execution_id.clone() else {
            return Err(Refusal::Denied(DomainError::new(
                ErrorCode::DeploymentNotCancelable,
                "the engine has not accepted this deployment yet; retry in a moment",
            )));
        };
        // Claim the key before calling the engine, so two concurrent requests
        // with one key never both ask the engine to cancel.
        let claimed = self.store.remember_idempotency(&entry, &record.id.to_string(), self.now()).await?;
        if !claimed {
            return Ok(record);
        }
        let reason = format!("dxcp:{}:deployment={}", caller.principal.actor_id, record.id);
        if let Err(err) = self.engine.cancel(&execution_id, &caller.principal.actor_id, &reason).await {
            let code = err.code();
            let event =
                self.audit_event(caller, subject, AuditOutcome::Failed, format!("DEPLOY_CANCEL failed: {code}"));
            self.record_audit(event).await;
            return Err(Refusal::Failed(
                DomainError::new(code, "the engine did not accept the cancel request")
                    .with_operator_hint(err.operator_detail()),
            ));
        }
        let now = self.now();
        let event = TimelineEvent {
            key: "CANCEL_REQUESTED".into(),
            label: "Cancel requested".into(),
            occurred_at: now,
            detail: Some(format!("by {}", caller.principal.actor_id)),
        };
        self.store.append_timeline(record.id, &event).await?;
        let audit = self.audit_event(
            caller,
            subject,
            AuditOutcome::Success,
            format!("DEPLOY_CANCEL requested for {}", record.id),
        );
        self.record_audit(audit).await;
        Ok(record)
    }
}
