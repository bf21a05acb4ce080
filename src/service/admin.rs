//! Administrative mutations (PLATFORM_ADMIN only): delivery groups,
//! recipes, services, environments and system settings. Every change is
//! validated as a whole, written with an audit event listing each changed
//! field (old and new values), and takes effect for every replica at once
//! because nothing is cached beyond the settings' one-second window.
//!
//! One flow ([`Services::save_admin`]) runs every one of them: open the
//! mutation, replay, prepare (existence, validation), diff, write, re-read.
//! What differs per entity is an [`AdminEntity`] impl.

use std::{future::Future, marker::PhantomData};

use serde::Serialize;

use super::{
    audit::AuditSubject,
    forbidden,
    mutation::{fingerprint, MutationRequest, OpenedMutation, Refusal},
    Caller, Services,
};
use crate::{
    domain::{
        admin::{
            apply_settings, changed_engine_field, check_engine_mapping, environment_changes, group_changes,
            recipe_changes, service_changes, settings_changes, validate_environment, validate_group, validate_recipe,
            validate_service, Authored, EnvironmentInput, GroupInput, Known, RecipeInput, ServiceInput, SettingsInput,
        },
        audit::{AuditOutcome, FieldChange},
        catalog::{DeliveryGroup, Environment, Recipe, RecipeStatus, Service},
        ids::KeyInput,
        settings::SystemSettings,
        DomainError, ErrorCode, FieldError,
    },
    store::{
        admin::{AdminWrite, SaveMode},
        Store, StoreError,
    },
};

/// Audit target id of the settings row.
const SETTINGS_TARGET: &str = "system";

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::new(ErrorCode::InvalidRequest, message)
}

/// What an admin mutation expects of the entity's existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdminIntent {
    /// Refused when the entity exists.
    Create,
    /// Refused when it does not.
    Update,
    /// Creates or updates, whichever applies.
    Upsert,
}

impl AdminIntent {
    /// The audit event type: `ADMIN_CREATE` or `ADMIN_UPDATE`.
    fn event_type(self, exists: bool) -> &'static str {
        match (self, exists) {
            (AdminIntent::Create, _) | (AdminIntent::Upsert, false) => "ADMIN_CREATE",
            (AdminIntent::Update, _) | (AdminIntent::Upsert, true) => "ADMIN_UPDATE",
        }
    }

    /// Refuses a create of an existing entity and an update of a missing one.
    fn check<E: AdminEntity>(self, id: &str, current: Option<&E>) -> Result<(), Refusal> {
        match (self, current) {
            (AdminIntent::Create, Some(_)) => {
                Err(Refusal::Denied(invalid(format!("{} '{id}' already exists", E::NOUN))))
            }
            (AdminIntent::Update, None) => Err(Refusal::Denied(DomainError::not_found(E::NOUN, id))),
            _ => Ok(()),
        }
    }
}

/// Which admin mutation runs: its GraphQL name (idempotency keys are
/// scoped to it) and what it expects of the entity's existence.
pub(crate) struct AdminOp<E> {
    mutation: &'static str,
    intent: AdminIntent,
    entity: PhantomData<fn() -> E>,
}

const fn op<E>(mutation: &'static str, intent: AdminIntent) -> AdminOp<E> {
    AdminOp { mutation, intent, entity: PhantomData }
}

pub(crate) const CREATE_DELIVERY_GROUP: AdminOp<DeliveryGroup> = op("createDeliveryGroup", AdminIntent::Create);
pub(crate) const UPDATE_DELIVERY_GROUP: AdminOp<DeliveryGroup> = op("updateDeliveryGroup", AdminIntent::Update);
pub(crate) const CREATE_RECIPE: AdminOp<Recipe> = op("createRecipe", AdminIntent::Create);
/// A new revision when something changed; the engine mapping cannot
/// change while a delivery group uses the recipe.
pub(crate) const UPDATE_RECIPE: AdminOp<Recipe> = op("updateRecipe", AdminIntent::Update);
pub(crate) const DEPRECATE_RECIPE: AdminOp<Recipe> = op("deprecateRecipe", AdminIntent::Update);
pub(crate) const UPSERT_SERVICE: AdminOp<Service> = op("upsertService", AdminIntent::Upsert);
pub(crate) const UPSERT_ENVIRONMENT: AdminOp<Environment> = op("upsertEnvironment", AdminIntent::Upsert);
/// The one mutation the kill switch lets through, when it turns the kill
/// switch off.
pub(crate) const UPDATE_SYSTEM_SETTINGS: AdminOp<SystemSettings> = op("updateSystemSettings", AdminIntent::Update);

/// One admin mutation, as the generic flow receives it.
pub(crate) struct AdminRequest<'a, I> {
    mutation: &'static str,
    intent: AdminIntent,
    input: I,
    reason: Option<String>,
    key: &'a KeyInput,
}

/// The idempotency fingerprint of an admin mutation.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdminFingerprint<'a, I> {
    input: &'a I,
    change_reason: Option<&'a str>,
}

/// What the admin flow needs to know about one kind of entity.
pub(crate) trait AdminEntity: Clone + Send + Sync + Sized {
    /// The mutation's input; its JSON is the idempotency fingerprint.
    type Input: Serialize + Send + Sync;
    /// Audit target type.
    const TARGET_TYPE: &'static str;
    /// The entity in error messages ("delivery group").
    const NOUN: &'static str;

    fn target_id(input: &Self::Input) -> String;

    /// The audit subject (scope fields included) of a change to `id`.
    fn subject(intent: AdminIntent, id: String, current: Option<&Self>) -> AuditSubject {
        AuditSubject {
            event_type: intent.event_type(current.is_some()),
            target_type: Self::TARGET_TYPE,
            target_id: id,
            ..AuditSubject::default()
        }
    }

    /// The kill switch lets the mutation through.
    fn kill_switch_exempt(_input: &Self::Input) -> bool {
        false
    }

    fn load(services: &Services, id: &str) -> impl Future<Output = Result<Option<Self>, DomainError>> + Send;

    /// Checks existence and validity (a refusal is `Denied`) and builds the
    /// value to save.
    fn prepare(
        services: &Services,
        caller: &Caller,
        request: AdminRequest<'_, Self::Input>,
        current: Option<&Self>,
    ) -> impl Future<Output = Result<Self, Refusal>> + Send;

    /// The audited field changes; may stamp `next` (a recipe's revision).
    fn changes(current: Option<&Self>, next: &mut Self) -> Vec<FieldChange>;

    fn save(
        store: &Store,
        next: &Self,
        mode: SaveMode,
        write: &AdminWrite<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What the mutation returns once written: the entity as stored.
    fn saved(
        services: &Services,
        _caller: &Caller,
        id: &str,
        _next: Self,
    ) -> impl Future<Output = Result<Self, DomainError>> + Send {
        async move { Self::load(services, id).await?.ok_or_else(DomainError::internal) }
    }
}

impl Services {
    /// The one admin flow: open (rate, role, kill switch, key), replay,
    /// prepare, diff, write with audit and key, re-read. A refusal at any
    /// step is audited as DENIED by `run_audited`.
    pub(crate) async fn save_admin<E: AdminEntity>(
        &self,
        caller: &Caller,
        op: AdminOp<E>,
        input: E::Input,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<E, DomainError> {
        let request = AdminRequest { mutation: op.mutation, intent: op.intent, input, reason, key };
        let id = E::target_id(&request.input);
        let current = E::load(self, &id).await?;
        let subject = E::subject(request.intent, id, current.as_ref());
        self.run_audited(caller, &subject, self.admin_flow(caller, &subject, request, current)).await
    }

    async fn admin_flow<E: AdminEntity>(
        &self,
        caller: &Caller,
        subject: &AuditSubject,
        request: AdminRequest<'_, E::Input>,
        current: Option<E>,
    ) -> Result<E, Refusal> {
        let permitted =
            if caller.principal.is_admin() { Ok(()) } else { Err(forbidden("change the catalogue or settings")) };
        let fingerprint =
            fingerprint(&AdminFingerprint { input: &request.input, change_reason: request.reason.as_deref() });
        let opened = self
            .open_mutation(
                caller,
                MutationRequest {
                    mutation: request.mutation,
                    key: request.key,
                    fingerprint,
                    permitted,
                    kill_switch_exempt: E::kill_switch_exempt(&request.input),
                },
            )
            .await?;
        let id = subject.target_id.as_str();
        if opened.replay.is_some() {
            return Ok(E::load(self, id).await?.ok_or_else(|| DomainError::not_found(E::NOUN, id))?);
        }
        let reason = request.reason.clone();
        let mut next = E::prepare(self, caller, request, current.as_ref()).await?;
        let changes = E::changes(current.as_ref(), &mut next);
        if let (Some(current), true) = (&current, changes.is_empty()) {
            return Ok(current.clone());
        }
        let mode = if current.is_some() { SaveMode::Update } else { SaveMode::Create };
        self.write_change(caller, subject, &opened, reason.as_deref(), changes, &next, mode).await?;
        Ok(E::saved(self, caller, id, next).await?)
    }

    /// Writes a change with its audit event and idempotency key.
    #[allow(clippy::too_many_arguments)]
    async fn write_change<E: AdminEntity>(
        &self,
        caller: &Caller,
        subject: &AuditSubject,
        opened: &OpenedMutation,
        reason: Option<&str>,
        changes: Vec<FieldChange>,
        next: &E,
        mode: SaveMode,
    ) -> Result<(), Refusal> {
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        let mut summary =
            format!("{} {} {}: {}", subject.event_type, subject.target_type, subject.target_id, fields.join(", "));
        if let Some(reason) = reason {
            summary.push_str(&format!(" (reason: {reason})"));
        }
        let mut audit = self.audit_event(caller, subject, AuditOutcome::Success, summary);
        audit.changes = changes;
        let write = AdminWrite::new(&audit, &opened.entry, reason);
        match E::save(&self.store, next, mode, &write).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(Refusal::Denied(invalid(format!(
                "{} '{}' changed concurrently; retry",
                subject.target_type, subject.target_id
            )))),
            Err(other) => Err(other.into()),
        }
    }

    /// The stamps of a change `caller` makes now.
    fn authored(&self, caller: &Caller, reason: Option<String>) -> Authored {
        Authored { actor: caller.principal.actor_id.clone(), at: self.now(), reason }
    }

    /// What exists in the catalogue, for the validators' reference checks.
    pub(super) async fn known_catalog(&self) -> Result<Known, DomainError> {
        let recipes = self.store.recipes().await?;
        Ok(Known {
            deprecated_recipes: recipes
                .iter()
                .filter(|r| r.status == RecipeStatus::Deprecated)
                .map(|r| r.id.clone())
                .collect(),
            recipes: recipes.into_iter().map(|r| r.id).collect(),
            environments: self.store.environments().await?.into_iter().map(|e| e.name).collect(),
            services: self.store.services().await?.into_iter().map(|s| (s.name, s.delivery_group_id)).collect(),
        })
    }
}

impl AdminEntity for DeliveryGroup {
    type Input = GroupInput;
    const TARGET_TYPE: &'static str = "DELIVERY_GROUP";
    const NOUN: &'static str = "delivery group";

    fn target_id(input: &GroupInput) -> String {
        input.id.clone()
    }

    fn subject(intent: AdminIntent, id: String, _current: Option<&Self>) -> AuditSubject {
        AuditSubject {
            event_type: intent.event_type(false),
            target_type: Self::TARGET_TYPE,
            delivery_group_id: Some(id.clone()),
            target_id: id,
            ..AuditSubject::default()
        }
    }

    async fn load(services: &Services, id: &str) -> Result<Option<Self>, DomainError> {
        Ok(services.store.delivery_group(id).await?)
    }

    async fn prepare(
        services: &Services,
        caller: &Caller,
        request: AdminRequest<'_, GroupInput>,
        current: Option<&Self>,
    ) -> Result<Self, Refusal> {
        let input = request.input;
        request.intent.check(&input.id, current)?;
        let known = services.known_catalog().await?;
        let spec = validate_group(&input, current, &known)?;
        Ok(input.into_group(spec, current, services.authored(caller, request.reason)))
    }

    fn changes(current: Option<&Self>, next: &mut Self) -> Vec<FieldChange> {
        group_changes(current, next)
    }

    async fn save(store: &Store, next: &Self, mode: SaveMode, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        store.save_group(next, mode, write).await
    }
}

/// The input of the three recipe mutations.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum RecipeChange {
    /// `createRecipe` / `updateRecipe`.
    Edit(RecipeInput),
    /// `deprecateRecipe`.
    Deprecate { id: String },
}

impl AdminEntity for Recipe {
    type Input = RecipeChange;
    const TARGET_TYPE: &'static str = "RECIPE";
    const NOUN: &'static str = "recipe";

    fn target_id(input: &RecipeChange) -> String {
        match input {
            RecipeChange::Edit(input) => input.id.clone(),
            RecipeChange::Deprecate { id } => id.clone(),
        }
    }

    async fn load(services: &Services, id: &str) -> Result<Option<Self>, DomainError> {
        Ok(services.store.recipe(id).await?)
    }

    async fn prepare(
        services: &Services,
        caller: &Caller,
        request: AdminRequest<'_, RecipeChange>,
        current: Option<&Self>,
    ) -> Result<Self, Refusal> {
        let actor = &caller.principal.actor_id;
        let reason = request.reason;
        if request.intent == AdminIntent::Update {
            request.intent.check(&Self::target_id(&request.input), current)?;
        }
        let input = match request.input {
            RecipeChange::Edit(input) if request.intent == AdminIntent::Create => {
                validate_recipe(&input)?;
                request.intent.check(&input.id, current)?;
                return Ok(input.into_new_recipe(services.authored(caller, reason)));
            }
            RecipeChange::Edit(input) => Some(input),
            RecipeChange::Deprecate { .. } => None,
        };
        let current = current.ok_or_else(DomainError::internal)?;
        let updated = match input {
            Some(input) => {
                validate_recipe(&input)?;
                services.engine_mapping(current, &input).await??;
                Recipe {
                    name: input.name.trim().to_owned(),
                    description: input.description,
                    effective_behavior_summary: input.effective_behavior_summary,
                    spinnaker_application: input.spinnaker_application,
                    deploy_pipeline: input.deploy_pipeline,
                    rollback_pipeline: input.rollback_pipeline,
                    ..current.clone()
                }
            }
            None => Recipe { status: RecipeStatus::Deprecated, ..current.clone() },
        };
        Ok(Recipe { updated_at: services.now(), updated_by: actor.clone(), last_change_reason: reason, ..updated })
    }

    /// A change to an existing recipe is a new revision; no change, no revision.
    fn changes(current: Option<&Self>, next: &mut Self) -> Vec<FieldChange> {
        let mut changes = recipe_changes(current, next);
        if let (Some(current), false) = (current, changes.is_empty()) {
            next.revision = current.revision + 1;
            changes.push(FieldChange {
                field: "revision".into(),
                old_value: Some(current.revision.to_string()),
                new_value: Some(next.revision.to_string()),
            });
        }
        changes
    }

    async fn save(store: &Store, next: &Self, mode: SaveMode, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        store.save_recipe(next, mode, write).await
    }
}

impl AdminEntity for Service {
    type Input = ServiceInput;
    const TARGET_TYPE: &'static str = "SERVICE";
    const NOUN: &'static str = "service";

    fn target_id(input: &ServiceInput) -> String {
        input.name.clone()
    }

    fn subject(intent: AdminIntent, id: String, current: Option<&Self>) -> AuditSubject {
        AuditSubject {
            event_type: intent.event_type(current.is_some()),
            target_type: Self::TARGET_TYPE,
            service_name: Some(id.clone()),
            target_id: id,
            delivery_group_id: current.and_then(|s| s.delivery_group_id.clone()),
            ..AuditSubject::default()
        }
    }

    async fn load(services: &Services, id: &str) -> Result<Option<Self>, DomainError> {
        Ok(services.store.service(id).await?)
    }

    async fn prepare(
        services: &Services,
        _caller: &Caller,
        request: AdminRequest<'_, ServiceInput>,
        current: Option<&Self>,
    ) -> Result<Self, Refusal> {
        let input = request.input;
        let known = services.known_catalog().await?;
        validate_service(&input, &known)?;
        Ok(Service {
            name: input.name,
            description: input.description,
            delivery_group_id: current.and_then(|s| s.delivery_group_id.clone()),
            compatible_recipes: input
                .compatible_recipes
                .or_else(|| current.map(|s| s.compatible_recipes.clone()))
                .unwrap_or_default(),
        })
    }

    fn changes(current: Option<&Self>, next: &mut Self) -> Vec<FieldChange> {
        service_changes(current, next)
    }

    async fn save(store: &Store, next: &Self, mode: SaveMode, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        store.save_service(next, mode, write).await
    }
}

impl AdminEntity for Environment {
    type Input = EnvironmentInput;
    const TARGET_TYPE: &'static str = "ENVIRONMENT";
    const NOUN: &'static str = "environment";

    fn target_id(input: &EnvironmentInput) -> String {
        input.name.clone()
    }

    fn subject(intent: AdminIntent, id: String, current: Option<&Self>) -> AuditSubject {
        AuditSubject {
            event_type: intent.event_type(current.is_some()),
            target_type: Self::TARGET_TYPE,
            environment: Some(id.clone()),
            target_id: id,
            ..AuditSubject::default()
        }
    }

    async fn load(services: &Services, id: &str) -> Result<Option<Self>, DomainError> {
        Ok(services.store.environment(id).await?)
    }

    async fn prepare(
        _services: &Services,
        _caller: &Caller,
        request: AdminRequest<'_, EnvironmentInput>,
        _current: Option<&Self>,
    ) -> Result<Self, Refusal> {
        Ok(validate_environment(&request.input)?)
    }

    fn changes(current: Option<&Self>, next: &mut Self) -> Vec<FieldChange> {
        environment_changes(current, next)
    }

    async fn save(store: &Store, next: &Self, mode: SaveMode, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        store.save_environment(next, mode, write).await
    }
}

impl AdminEntity for SystemSettings {
    type Input = SettingsInput;
    const TARGET_TYPE: &'static str = "SETTINGS";
    const NOUN: &'static str = "settings";

    fn target_id(_input: &SettingsInput) -> String {
        SETTINGS_TARGET.to_owned()
    }

    fn subject(_intent: AdminIntent, id: String, _current: Option<&Self>) -> AuditSubject {
        AuditSubject {
            event_type: "SETTINGS_UPDATE",
            target_type: Self::TARGET_TYPE,
            target_id: id,
            ..AuditSubject::default()
        }
    }

    fn kill_switch_exempt(input: &SettingsInput) -> bool {
        input.turns_kill_switch_off()
    }

    async fn load(services: &Services, _id: &str) -> Result<Option<Self>, DomainError> {
        Ok(Some(services.store.settings().await?))
    }

    async fn prepare(
        _services: &Services,
        _caller: &Caller,
        request: AdminRequest<'_, SettingsInput>,
        current: Option<&Self>,
    ) -> Result<Self, Refusal> {
        let current = current.ok_or_else(DomainError::internal)?;
        Ok(apply_settings(current, &request.input)?)
    }

    fn changes(current: Option<&Self>, next: &mut Self) -> Vec<FieldChange> {
        current.map(|current| settings_changes(current, next)).unwrap_or_default()
    }

    async fn save(store: &Store, next: &Self, _mode: SaveMode, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        store.save_settings(next, write).await
    }

    /// Settings are not re-read: the written value takes effect here now.
    async fn saved(services: &Services, caller: &Caller, _id: &str, next: Self) -> Result<Self, DomainError> {
        services.remember_settings(&next);
        tracing::info!(actor = %caller.principal.actor_id, mutations_disabled = next.mutations_disabled, "system settings changed");
        Ok(next)
    }
}

impl Services {
    /// A recipe's engine mapping is frozen while delivery groups use it
    /// ([`check_engine_mapping`]); the groups are read only when the update
    /// changes the mapping. The outer error is a failed read.
    pub(super) async fn engine_mapping(
        &self,
        current: &Recipe,
        input: &RecipeInput,
    ) -> Result<Result<(), FieldError>, DomainError> {
        if changed_engine_field(current, input).is_none() {
            return Ok(Ok(()));
        }
        let users = self.store.groups_allowing_recipe(&current.id).await?;
        Ok(check_engine_mapping(current, input, &users))
    }
}
