//! `registerBuild` (DESIGN §2 Build, §10 Builds): CI publishers on the
//! allowlist register deployable versions; identical re-registration is a
//! replay, different content a conflict; a daily quota per publisher.

use super::{
    audit::AuditSubject,
    deploy::day_start,
    mutation::{fingerprint, MutationRequest, Refusal},
    Caller, Services,
};
use crate::{
    domain::{
        audit::AuditOutcome,
        build::{Build, BuildRegistration},
        ids::KeyInput,
        DomainError, ErrorCode, Role,
    },
    store::{admin::AdminWrite, StoreError},
};

impl Services {
    pub async fn register_build(
        &self,
        caller: &Caller,
        input: BuildRegistration,
        key: &KeyInput,
    ) -> Result<Build, DomainError> {
        let subject = AuditSubject {
            event_type: "BUILD_REGISTER",
            target_type: "BUILD",
            target_id: format!("{}@{}", input.service, input.version),
            service_name: Some(input.service.clone()),
            ..AuditSubject::default()
        };
        self.run_audited(caller, &subject, self.register_checked(caller, &input, key, &subject)).await
    }

    async fn register_checked(
        &self,
        caller: &Caller,
        input: &BuildRegistration,
        key: &KeyInput,
        subject: &AuditSubject,
    ) -> Result<Build, Refusal> {
        let settings = self.current_settings().await?;
        let is_publisher = caller.principal.role == Role::CiPublisher
            && settings.ci_publishers.iter().any(|p| p == &caller.principal.actor_id);
        let permitted = if is_publisher {
            Ok(())
        } else {
            Err(DomainError::new(ErrorCode::CiOnly, "only allowlisted CI publishers may register builds"))
        };
        let fingerprint = fingerprint(input);
        let opened = self
            .open_mutation(
                caller,
                MutationRequest { mutation: "registerBuild", key, fingerprint, permitted, kill_switch_exempt: false },
            )
            .await?;
        self.check_registration(input).await.map_err(Refusal::Denied)?;
        if let Some(stored) = self.store.build(&input.service, &input.version).await? {
            return self.replay_or_conflict(stored, input);
        }
        let now = self.now();
        let used = self.store.builds_registered_since(&caller.principal.actor_id, day_start(now)).await?;
        if used >= u64::try_from(settings.daily_build_register_quota).unwrap_or(0) {
            return Err(Refusal::Denied(DomainError::new(
                ErrorCode::QuotaExceeded,
                format!("daily build registration quota of {} is used up", settings.daily_build_register_quota),
            )));
        }
        let build = input.clone().registered(now, &caller.principal.actor_id);
        let mut audit = self.audit_event(
            caller,
            subject,
            AuditOutcome::Success,
            format!("BUILD_REGISTER {} (sha256 {})", subject.target_id, build.registration.sha256),
        );
        audit.timestamp = now;
        let write = AdminWrite::new(&audit, &opened.entry, None);
        match self.store.register_build(&build, &write).await {
            Ok(()) => Ok(build),
            // A concurrent registration of the same version won the race.
            Err(StoreError::Conflict(_)) => match self.store.build(&input.service, &input.version).await? {
                Some(stored) => self.replay_or_conflict(stored, input),
                None => Err(DomainError::internal().into()),
            },
            Err(other) => Err(other.into()),
        }
    }

    /// The registration's own checks: allowlisted service, artifact facts,
    /// CI fields.
    async fn check_registration(&self, input: &BuildRegistration) -> Result<(), DomainError> {
        if self.store.service(&input.service).await?.is_none() {
            return Err(DomainError::new(
                ErrorCode::ServiceNotAllowlisted,
                format!("service '{}' is not allowlisted", input.service),
            ));
        }
        Ok(input.validate()?)
    }

    fn replay_or_conflict(&self, stored: Build, input: &BuildRegistration) -> Result<Build, Refusal> {
        if input.has_same_content(&stored) {
            Ok(stored)
        } else {
            Err(Refusal::Denied(DomainError::new(
                ErrorCode::BuildRegistrationConflict,
                format!(
                    "{}@{} is already registered with different content",
                    stored.registration.service, stored.registration.version
                ),
            )))
        }
    }
}
