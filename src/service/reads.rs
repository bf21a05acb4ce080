//! Read paths behind the queries: role checks, group scoping, then one
//! store call. No engine calls here except `deployment(id)` (see refresh).
//! A refused read is logged, not audited ([`refused_read`]).

use uuid::Uuid;

use super::{forbidden, Caller, Services};
use crate::{
    domain::{
        audit::{AuditEvent, AuditFilter},
        build::Build,
        catalog::{DeliveryGroup, Environment, Recipe, Service},
        deployment::{DeploymentFilter, DeploymentRecord, Failure, RollbackTarget, RunningState, TimelineEvent},
        ids::DeploymentId,
        page::{Page, PageRequest},
        rollback::rollback_targets_limit,
        settings::SystemSettings,
        DomainError, ErrorCode, Principal,
    },
    store::deployments::GroupScope,
};

impl Services {
    /// The caller and the delivery groups they are a member of.
    pub async fn viewer_groups(&self, caller: &Caller) -> Result<Vec<DeliveryGroup>, DomainError> {
        let groups = self.store.delivery_groups().await?;
        Ok(groups.into_iter().filter(|g| g.has_member(&caller.principal.actor_id)).collect())
    }

    /// Which groups' deployments the caller may read.
    pub(crate) async fn deployment_scope(&self, principal: &Principal) -> Result<GroupScope, DomainError> {
        if !principal.can_read_deployments() {
            return Err(refused_read(principal, forbidden("read deployments")));
        }
        if principal.is_group_scoped() {
            return Ok(GroupScope::Only(self.store.group_ids_with_member(&principal.actor_id).await?));
        }
        Ok(GroupScope::All)
    }

    pub async fn deployments(
        &self,
        caller: &Caller,
        filter: &DeploymentFilter,
        page: &PageRequest,
    ) -> Result<Page<DeploymentRecord>, DomainError> {
        let scope = self.deployment_scope(&caller.principal).await?;
        Ok(self.store.deployments_page(filter, &scope, page).await?)
    }

    /// A stored record, visible to the caller, without asking the engine.
    pub(crate) async fn visible_deployment(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Option<DeploymentRecord>, DomainError> {
        let scope = self.deployment_scope(&caller.principal).await?;
        let Some(record) = self.store.deployment(id).await? else {
            return Ok(None);
        };
        if let GroupScope::Only(groups) = &scope {
            if !groups.contains(&record.delivery_group_id) {
                return Err(refused_read(&caller.principal, scope_required()));
            }
        }
        Ok(Some(record))
    }

    /// Whether `principal` may act on a record of `group_id`: always for
    /// admins, for a DELIVERY_OWNER only as a member of that group. Every
    /// path that resolves a deployment by id asks this before it does
    /// anything else with the record (no refresh, no engine call, nothing of
    /// the record in the answer).
    pub(crate) async fn in_group_scope(&self, principal: &Principal, group_id: &str) -> Result<bool, DomainError> {
        if !principal.is_group_scoped() {
            return Ok(true);
        }
        Ok(self.store.group_ids_with_member(&principal.actor_id).await?.iter().any(|g| g == group_id))
    }

    pub async fn failures_for(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Vec<Failure>>, DomainError> {
        Ok(self.store.failures_for(ids).await?)
    }

    pub async fn timelines_for(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Vec<TimelineEvent>>, DomainError> {
        Ok(self.store.timelines_for(ids).await?)
    }

    pub async fn running_state(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
    ) -> Result<Option<RunningState>, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read running state")?;
        Ok(self.store.running_state(service, environment).await?)
    }

    pub async fn running_states(
        &self,
        caller: &Caller,
        environment: Option<&str>,
        delivery_group_id: Option<&str>,
    ) -> Result<Vec<RunningState>, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read running state")?;
        Ok(self.store.running_states(environment, delivery_group_id, &GroupScope::All).await?)
    }

    /// `rollbackTargets`: the versions a service+environment can go back
    /// to, newest first, at most `first` (capped at 50). Read-only, never
    /// audited, no engine call.
    ///
    /// - A version counts once it reached the SUCCEEDED *state* there; that
    ///   state stays when a later success supersedes the record (only its
    ///   outcome changes), but a record that was itself rolled back moves to
    ///   the ROLLED_BACK state and no longer counts, as for the version a
    ///   rollback restores (DESIGN §5). Failed, canceled and in-flight
    ///   records never count.
    /// - The version running now (that of the record whose outcome is
    ///   SUCCEEDED, see `running_state`) is left out entirely, including
    ///   older records of that same version.
    /// - Each version comes with its newest SUCCEEDED-state deployment, and
    ///   versions are ordered by when that deployment was created.
    /// - Checks, in order: the role may read deployments (CI publishers:
    ///   `ROLE_FORBIDDEN`); `first >= 1` (`INVALID_REQUEST`); a delivery
    ///   owner may ask only about services of a group they are a member of
    ///   (`DELIVERY_GROUP_SCOPE_REQUIRED`, also for a service in no group).
    ///   An unknown service answers an empty list to every role, owners
    ///   included: services are readable by every role, so the empty answer
    ///   reveals nothing, and nothing can have succeeded for it.
    pub async fn rollback_targets(
        &self,
        caller: &Caller,
        service: &str,
        environment: &str,
        first: i32,
    ) -> Result<Vec<RollbackTarget>, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read rollback targets")?;
        let limit = rollback_targets_limit(first)?;
        self.require_service_scope(&caller.principal, service).await?;
        Ok(self.store.rollback_targets(service, environment, limit).await?)
    }

    /// Scope of a read about a whole service: a delivery owner may read
    /// services of their groups only; one in another group, or in none, is
    /// refused (`DELIVERY_GROUP_SCOPE_REQUIRED`, logged, not audited). An
    /// unknown service passes: it has nothing to show, and every role may
    /// list the services anyway.
    pub(crate) async fn require_service_scope(&self, principal: &Principal, service: &str) -> Result<(), DomainError> {
        if !principal.is_group_scoped() {
            return Ok(());
        }
        let Some(known) = self.store.service(service).await? else {
            return Ok(());
        };
        let in_scope = match &known.delivery_group_id {
            Some(group) => self.in_group_scope(principal, group).await?,
            None => false,
        };
        if in_scope {
            Ok(())
        } else {
            Err(refused_read(principal, service_scope_required()))
        }
    }

    /// Services are readable by every role, CI publishers included.
    pub async fn services(&self) -> Result<Vec<Service>, DomainError> {
        Ok(self.store.services().await?)
    }

    pub async fn service(&self, name: &str) -> Result<Option<Service>, DomainError> {
        Ok(self.store.service(name).await?)
    }

    pub async fn delivery_groups(&self, caller: &Caller) -> Result<Vec<DeliveryGroup>, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read delivery groups")?;
        Ok(self.store.delivery_groups().await?)
    }

    pub async fn delivery_group(&self, caller: &Caller, id: &str) -> Result<Option<DeliveryGroup>, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read delivery groups")?;
        Ok(self.store.delivery_group(id).await?)
    }

    pub async fn recipes(&self, caller: &Caller) -> Result<Vec<Recipe>, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read recipes")?;
        Ok(self.store.recipes().await?)
    }

    pub async fn recipe(&self, caller: &Caller, id: &str) -> Result<Option<Recipe>, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read recipes")?;
        Ok(self.store.recipe(id).await?)
    }

    pub async fn environments(&self, caller: &Caller) -> Result<Vec<Environment>, DomainError> {
        require_role(&caller.principal, Principal::can_read_deployments, "read environments")?;
        Ok(self.store.environments().await?)
    }

    /// Builds are readable by every role, CI publishers included.
    pub async fn builds(&self, service: &str, page: &PageRequest) -> Result<Page<Build>, DomainError> {
        Ok(self.store.builds_page(service, page).await?)
    }

    pub async fn audit_events(
        &self,
        caller: &Caller,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, DomainError> {
        require_role(&caller.principal, Principal::is_admin, "read the audit log")?;
        Ok(self.store.audit_page(filter, page).await?)
    }

    pub async fn system_settings(&self, caller: &Caller) -> Result<SystemSettings, DomainError> {
        require_role(&caller.principal, Principal::is_admin, "read system settings")?;
        Ok(self.store.settings().await?)
    }
}

/// The refusal of a record outside the caller's groups. It names neither
/// the record's group nor anything else about it.
pub(crate) fn scope_required() -> DomainError {
    DomainError::new(
        ErrorCode::DeliveryGroupScopeRequired,
        "this deployment belongs to a delivery group you are not a member of",
    )
}

/// [`scope_required`] for a read about a whole service rather than one
/// record: same code, and it names no group either.
fn service_scope_required() -> DomainError {
    DomainError::new(
        ErrorCode::DeliveryGroupScopeRequired,
        "this service belongs to a delivery group you are not a member of",
    )
}

/// Refuses a read (or preview) the caller's role may not make: e.g.
/// `require_role(principal, Principal::is_admin, "read the audit log")`.
/// `ROLE_FORBIDDEN`, logged and not audited ([`refused_read`]).
pub(crate) fn require_role(
    principal: &Principal,
    permitted: fn(&Principal) -> bool,
    action: &str,
) -> Result<(), DomainError> {
    if permitted(principal) {
        Ok(())
    } else {
        Err(refused_read(principal, forbidden(action)))
    }
}

/// A refused read is logged (actor, role, code) and counted with the
/// request's outcome in the metrics, but never written to the audit log:
/// reads are rate-limited per actor only, so auditing their refusals would
/// let any caller write audit rows at the read rate (docs/decisions/0005).
/// Refused mutations stay audited.
pub(crate) fn refused_read(principal: &Principal, err: DomainError) -> DomainError {
    tracing::info!(
        actor = %principal.actor_id,
        role = %principal.role,
        code = %err.code,
        "read refused (not audited)"
    );
    err
}

impl Services {
    /// `deployment(id)`: the record as the caller may see it, refreshed
    /// from the engine while in flight; null when unknown.
    pub async fn deployment(&self, caller: &Caller, id: DeploymentId) -> Result<Option<DeploymentRecord>, DomainError> {
        match self.visible_deployment(caller, id.uuid()).await? {
            Some(record) => Ok(Some(self.refresh(record).await?)),
            None => Ok(None),
        }
    }
}
