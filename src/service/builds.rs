//! `registerBuild` (DESIGN §2 Build, §10 Builds): CI publishers on the
//! allowlist register deployable versions; identical re-registration is a
//! replay, different content a conflict; a daily quota per publisher.

use serde::Serialize;

use super::{
    audit::AuditSubject,
    deploy::day_start,
    mutation::{fingerprint, MutationRequest, Refusal},
    Caller, Services,
};
use crate::{
    domain::{
        build::{validate_artifact, ArtifactFacts},
        catalog::{AuditOutcome, Build},
        ids::KeyInput,
        DomainError, ErrorCode, Role,
    },
    store::{admin::AdminWrite, StoreError},
};

/// A build as CI describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildRegistration {
    pub service: String,
    pub version: String,
    pub artifact_ref: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub git_sha: String,
    pub git_branch: String,
    pub ci_provider: String,
    pub ci_run_id: String,
    pub built_at: chrono::DateTime<chrono::Utc>,
    pub repo: Option<String>,
}

/// Same build: a different sha256, gitSha or artifactRef is a conflict.
fn same_content(stored: &Build, input: &BuildRegistration) -> bool {
    stored.sha256.eq_ignore_ascii_case(&input.sha256)
        && stored.git_sha == input.git_sha
        && stored.artifact_ref == input.artifact_ref
}

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
        let build = Build {
            service: input.service.clone(),
            version: input.version.clone(),
            artifact_ref: input.artifact_ref.clone(),
            sha256: input.sha256.to_ascii_lowercase(),
            size_bytes: input.size_bytes,
            content_type: input.content_type.clone(),
            git_sha: input.git_sha.clone(),
            git_branch: input.git_branch.clone(),
            ci_provider: input.ci_provider.clone(),
            ci_run_id: input.ci_run_id.clone(),
            built_at: input.built_at,
            repo: input.repo.clone(),
            registered_at: now,
            registered_by: caller.principal.actor_id.clone(),
        };
        let mut audit = self.audit_event(
            caller,
            subject,
            AuditOutcome::Success,
            format!("BUILD_REGISTER {} (sha256 {})", subject.target_id, build.sha256),
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
        validate_artifact(&ArtifactFacts {
            version: &input.version,
            artifact_ref: &input.artifact_ref,
            sha256: &input.sha256,
            size_bytes: input.size_bytes,
            content_type: &input.content_type,
        })?;
        for (field, value) in [
            ("gitSha", &input.git_sha),
            ("gitBranch", &input.git_branch),
            ("ciProvider", &input.ci_provider),
            ("ciRunId", &input.ci_run_id),
        ] {
            if value.trim().is_empty() || value.len() > 256 {
                return Err(DomainError::new(
                    ErrorCode::InvalidRequest,
                    format!("{field} must be 1 to 256 characters"),
                ));
            }
        }
        Ok(())
    }

    fn replay_or_conflict(&self, stored: Build, input: &BuildRegistration) -> Result<Build, Refusal> {
        if same_content(&stored, input) {
            Ok(stored)
        } else {
            Err(Refusal::Denied(DomainError::new(
                ErrorCode::BuildRegistrationConflict,
                format!("{}@{} is already registered with different content", stored.service, stored.version),
            )))
        }
    }
}
