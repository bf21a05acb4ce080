//! Steps 1-4 that every mutation takes before its own work (DESIGN §4):
//! rate limit, role, kill switch, idempotency key.
//!
//! The rate limit comes first, before the role check that DESIGN §4 lists
//! first (docs/decisions/0005): a refusal is audited, so a caller whose
//! refusals were not rate-limited could write audit rows as fast as they
//! can send requests.

use super::{limits::RequestClass, Caller, Services};
use crate::{
    domain::{ids::KeyInput, DomainError, ErrorCode},
    store::idempotency::{IdempotencyEntry, StoredKey},
};

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
    /// Runs steps 1-4 (rate limit, role, kill switch, idempotency); an
    /// error is a refusal the caller audits as DENIED.
    pub(crate) async fn open_mutation(
        &self,
        caller: &Caller,
        request: MutationRequest<'_>,
    ) -> Result<OpenedMutation, DomainError> {
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
