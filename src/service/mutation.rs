//! Steps 1-4 that every mutation takes before its own work (DESIGN §4):
//! rate limit, role, kill switch, idempotency key.
//!
//! The rate limit comes first, before the role check that DESIGN §4 lists
//! first (docs/decisions/0005): a refusal is audited, so a caller whose
//! refusals were not rate-limited could write audit rows as fast as they
//! can send requests.
//!
//! Every mutation runs its work through [`Services::run_audited`]: the work
//! says *why* it stopped ([`Refusal`]), and that one place writes the single
//! DENIED event a refusal gets.

use std::future::Future;

use serde::Serialize;

use super::{audit::AuditSubject, limits::RequestClass, Caller, Services};
use crate::{
    domain::{ids::KeyInput, DomainError, ErrorCode, FieldError},
    store::{
        idempotency::{IdempotencyEntry, StoredKey},
        StoreError,
    },
};

/// Why a mutation stopped without its result.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A refusal: `run_audited` audits it as DENIED, once.
    Denied(DomainError),
    /// Not a refusal (a storage failure), or already audited (an engine
    /// refusal is recorded as FAILED where it happens).
    Failed(DomainError),
}

/// `?` on a plain error is a failure, never a refusal: denials are named.
impl From<DomainError> for Refusal {
    fn from(err: DomainError) -> Self {
        Refusal::Failed(err)
    }
}

/// A refused input field is always the caller's refusal, never a failure.
impl From<FieldError> for Refusal {
    fn from(err: FieldError) -> Self {
        Refusal::Denied(err.into())
    }
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        Refusal::Failed(err.into())
    }
}

/// The idempotency fingerprint of a request: the JSON of its normalized
/// input, built from `Serialize` (never `Debug`), so only a change to the
/// input itself changes which requests count as replays.
pub(crate) fn fingerprint(input: &impl Serialize) -> serde_json::Value {
    // Plain data structs always serialize; `Null` keeps a bug from panicking.
    serde_json::to_value(input).unwrap_or(serde_json::Value::Null)
}

/// What a mutation declares about itself.
pub(crate) struct MutationRequest<'a> {
    /// The GraphQL mutation name: idempotency keys are scoped to it.
    pub mutation: &'static str,
    pub key: &'a KeyInput,
    /// Canonical form of the normalized input.
    pub fingerprint: serde_json::Value,
    /// The role check, decided by the use case (roles differ per mutation)
    /// and applied after the rate limit.
    pub permitted: Result<(), DomainError>,
    /// Only an `updateSystemSettings` that turns the kill switch off.
    pub kill_switch_exempt: bool,
}

/// A mutation cleared to run, or the earlier use of its key.
pub(crate) struct OpenedMutation {
    pub entry: IdempotencyEntry,
    /// Set when the key was used before with the same input.
    pub replay: Option<StoredKey>,
}

impl Services {
    /// Runs a mutation's work and audits its refusal, if any, as DENIED:
    /// the one path by which a refusal is audited. An `Internal` error is a
    /// failure of ours, not a refusal, and is never audited as one.
    pub(crate) async fn run_audited<T>(
        &self,
        caller: &Caller,
        subject: &AuditSubject,
        work: impl Future<Output = Result<T, Refusal>>,
    ) -> Result<T, DomainError> {
        match work.await {
            Ok(value) => Ok(value),
            Err(Refusal::Denied(err)) => {
                if err.code != ErrorCode::Internal {
                    self.audit_denial(caller, subject, &err).await;
                }
                Err(err)
            }
            Err(Refusal::Failed(err)) => Err(err),
        }
    }

    /// Runs steps 1-4 (rate limit, role, kill switch, idempotency); every
    /// error is a refusal.
    pub(crate) async fn open_mutation(
        &self,
        caller: &Caller,
        request: MutationRequest<'_>,
    ) -> Result<OpenedMutation, Refusal> {
        self.open_checked(caller, request).await.map_err(Refusal::Denied)
    }

    async fn open_checked(&self, caller: &Caller, request: MutationRequest<'_>) -> Result<OpenedMutation, DomainError> {
        self.check_rate(&caller.principal, RequestClass::Mutate).await?;
        request.permitted?;
        if !request.kill_switch_exempt && self.current_settings().await?.mutations_disabled {
            return Err(DomainError::new(ErrorCode::MutationsDisabled, "mutations are disabled by the kill switch"));
        }
        let key = request.key.key()?;
        let entry = IdempotencyEntry {
            actor_id: caller.principal.actor_id.clone(),
            mutation: request.mutation.to_owned(),
            key: key.as_str().to_owned(),
            fingerprint: request.fingerprint.to_string(),
        };
        let replay = self.store.find_idempotency(&entry, self.now()).await?;
        if let Some(stored) = &replay {
            if stored.fingerprint != entry.fingerprint {
                return Err(DomainError::new(
                    ErrorCode::IdempotencyConflict,
                    "this idempotency key was already used with a different input",
                ));
            }
        }
        Ok(OpenedMutation { entry, replay })
    }
}
