//! Administrative mutations (PLATFORM_ADMIN only): delivery groups,
//! recipes, services, environments and system settings. Every change is
//! validated as a whole, written with an audit event listing each changed
//! field (old and new values), and takes effect for every replica at once
//! because nothing is cached beyond the settings' one-second window.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    audit::AuditSubject,
    forbidden,
    mutation::{MutationRequest, OpenedMutation},
    Caller, Services,
};
use crate::domain::ids::KeyInput;
use crate::{
    domain::{
        admin::{
            apply_settings, changes_engine_mapping, environment_changes, group_changes, recipe_changes,
            service_changes, settings_changes, validate_environment, validate_group, validate_recipe, validate_service,
            EnvironmentInput, GroupInput, Known, RecipeInput, ServiceInput, SettingsInput,
        },
        catalog::{
            AuditOutcome, DeliveryGroup, Environment, FieldChange, Recipe, RecipeStatus, Service, SystemSettings,
        },
        DomainError, ErrorCode,
    },
    store::{admin::AdminWrite, StoreError},
};

/// Audit target id of the settings row.
const SETTINGS_TARGET: &str = "system";

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::new(ErrorCode::InvalidRequest, message)
}

impl Services {
    /// Steps 1-4 for an admin mutation; a refusal is audited as DENIED.
    async fn open_admin(
        &self,
        caller: &Caller,
        subject: &AuditSubject,
        mutation: &'static str,
        key: &KeyInput,
        fingerprint: serde_json::Value,
        kill_switch_exempt: bool,
    ) -> Result<OpenedMutation, DomainError> {
        let permitted =
            if caller.principal.is_admin() { Ok(()) } else { Err(forbidden("change the catalogue or settings")) };
        let request = MutationRequest { mutation, key, fingerprint, permitted, kill_switch_exempt };
        match self.open_mutation(caller, request).await {
            Ok(opened) => Ok(opened),
            Err(err) => Err(self.denied(caller, subject, err).await),
        }
    }

    /// Audits a refusal and hands the error back.
    pub(crate) async fn denied(&self, caller: &Caller, subject: &AuditSubject, err: DomainError) -> DomainError {
        if err.code != ErrorCode::Internal {
            self.audit_denial(caller, subject, &err).await;
        }
        err
    }

    /// Writes a change with its audit event and idempotency key.
    async fn write_change(
        &self,
        caller: &Caller,
        subject: &AuditSubject,
        opened: &OpenedMutation,
        reason: Option<&str>,
        changes: Vec<FieldChange>,
        save: AdminSave<'_>,
    ) -> Result<(), DomainError> {
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        let mut summary =
            format!("{} {} {}: {}", subject.event_type, subject.target_type, subject.target_id, fields.join(", "));
        if let Some(reason) = reason {
            summary.push_str(&format!(" (reason: {reason})"));
        }
        let mut audit = self.audit_event(caller, subject, AuditOutcome::Success, summary);
        audit.changes = changes;
        let write = AdminWrite {
            audit: &audit,
            idempotency: &opened.entry,
            result_id: &subject.target_id,
            actor: &caller.principal.actor_id,
            reason,
            at: audit.timestamp,
        };
        let saved = match save {
            AdminSave::Group(group, is_new) => self.store.save_group(group, is_new, &write).await,
            AdminSave::Recipe(recipe, is_new) => self.store.save_recipe(recipe, is_new, &write).await,
            AdminSave::Service(service, is_new) => self.store.save_service(service, is_new, &write).await,
            AdminSave::Environment(environment, is_new) => {
                self.store.save_environment(environment, is_new, &write).await
            }
            AdminSave::Settings(settings) => self.store.save_settings(settings, &write).await,
        };
        match saved {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(self
                .denied(
                    caller,
                    subject,
                    invalid(format!("{} '{}' changed concurrently; retry", subject.target_type, subject.target_id)),
                )
                .await),
            Err(other) => Err(other.into()),
        }
    }

    async fn known_catalog(&self) -> Result<Known, DomainError> {
        Ok(Known {
            recipes: self.store.recipes().await?.into_iter().map(|r| r.id).collect(),
            environments: self.store.environments().await?.into_iter().map(|e| e.name).collect(),
            services: self.store.services().await?.into_iter().map(|s| (s.name, s.delivery_group_id)).collect(),
        })
    }

    pub async fn create_delivery_group(
        &self,
        caller: &Caller,
        input: GroupInput,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<DeliveryGroup, DomainError> {
        self.save_delivery_group(caller, input, reason, key, true).await
    }

    pub async fn update_delivery_group(
        &self,
        caller: &Caller,
        input: GroupInput,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<DeliveryGroup, DomainError> {
        self.save_delivery_group(caller, input, reason, key, false).await
    }

    async fn save_delivery_group(
        &self,
        caller: &Caller,
        input: GroupInput,
        reason: Option<String>,
        key: &KeyInput,
        create: bool,
    ) -> Result<DeliveryGroup, DomainError> {
        let subject = AuditSubject {
            event_type: if create { "ADMIN_CREATE" } else { "ADMIN_UPDATE" },
            target_type: "DELIVERY_GROUP",
            target_id: input.id.clone(),
            delivery_group_id: Some(input.id.clone()),
            ..AuditSubject::default()
        };
        let mutation = if create { "createDeliveryGroup" } else { "updateDeliveryGroup" };
        let fingerprint = json!({ "input": format!("{input:?}"), "changeReason": reason });
        let opened = self.open_admin(caller, &subject, mutation, key, fingerprint, false).await?;
        if opened.replay.is_some() {
            return self
                .store
                .delivery_group(&input.id)
                .await?
                .ok_or_else(|| DomainError::not_found("delivery group", &input.id));
        }
        let existing = self.store.delivery_group(&input.id).await?;
        match (&existing, create) {
            (Some(_), true) => {
                return Err(self
                    .denied(caller, &subject, invalid(format!("delivery group '{}' already exists", input.id)))
                    .await)
            }
            (None, false) => {
                return Err(self.denied(caller, &subject, DomainError::not_found("delivery group", &input.id)).await)
            }
            _ => {}
        }
        let known = self.known_catalog().await?;
        let spec = match validate_group(&input, existing.as_ref(), &known) {
            Ok(spec) => spec,
            Err(err) => return Err(self.denied(caller, &subject, err).await),
        };
        let now = self.now();
        let actor = caller.principal.actor_id.clone();
        // The store lists a group's services by name; compare like with like.
        let mut services = input.services;
        services.sort();
        let group = DeliveryGroup {
            id: input.id,
            name: input.name.trim().to_owned(),
            description: input.description,
            owner: input.owner,
            members: spec.members,
            services,
            allowed_recipes: input.allowed_recipes,
            allowed_environments: input.allowed_environments,
            default_recipe_id: input.default_recipe_id,
            guardrails: spec.guardrails,
            created_at: existing.as_ref().map_or(now, |g| g.created_at),
            created_by: existing.as_ref().map_or_else(|| actor.clone(), |g| g.created_by.clone()),
            updated_at: now,
            updated_by: actor,
            last_change_reason: reason.clone(),
        };
        let changes = group_changes(existing.as_ref(), &group);
        if let (Some(current), true) = (&existing, changes.is_empty()) {
            return Ok(current.clone());
        }
        self.write_change(caller, &subject, &opened, reason.as_deref(), changes, AdminSave::Group(&group, create))
            .await?;
        self.store.delivery_group(&subject.target_id).await?.ok_or_else(DomainError::internal)
    }

    pub async fn create_recipe(
        &self,
        caller: &Caller,
        input: RecipeInput,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<Recipe, DomainError> {
        let subject = recipe_subject("ADMIN_CREATE", &input.id);
        let fingerprint = json!({ "input": format!("{input:?}"), "changeReason": reason });
        let opened = self.open_admin(caller, &subject, "createRecipe", key, fingerprint, false).await?;
        if opened.replay.is_some() {
            return self.recipe_or_not_found(&input.id).await;
        }
        if let Err(err) = validate_recipe(&input) {
            return Err(self.denied(caller, &subject, err).await);
        }
        if self.store.recipe(&input.id).await?.is_some() {
            return Err(self.denied(caller, &subject, invalid(format!("recipe '{}' already exists", input.id))).await);
        }
        let now = self.now();
        let recipe = new_recipe(input, &caller.principal.actor_id, reason.clone(), now);
        let changes = recipe_changes(None, &recipe);
        self.write_change(caller, &subject, &opened, reason.as_deref(), changes, AdminSave::Recipe(&recipe, true))
            .await?;
        self.recipe_or_not_found(&subject.target_id).await
    }

    pub async fn update_recipe(
        &self,
        caller: &Caller,
        input: RecipeInput,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<Recipe, DomainError> {
        let subject = recipe_subject("ADMIN_UPDATE", &input.id);
        let fingerprint = json!({ "input": format!("{input:?}"), "changeReason": reason });
        let opened = self.open_admin(caller, &subject, "updateRecipe", key, fingerprint, false).await?;
        if opened.replay.is_some() {
            return self.recipe_or_not_found(&input.id).await;
        }
        let Some(current) = self.store.recipe(&input.id).await? else {
            return Err(self.denied(caller, &subject, DomainError::not_found("recipe", &input.id)).await);
        };
        if let Err(err) = validate_recipe(&input) {
            return Err(self.denied(caller, &subject, err).await);
        }
        if changes_engine_mapping(&current, &input) {
            let users = self.store.groups_allowing_recipe(&current.id).await?;
            if !users.is_empty() {
                let err = invalid(format!(
                    "the engine mapping of recipe '{}' cannot change while delivery groups use it ({}); create a new recipe instead",
                    current.id,
                    users.join(", ")
                ));
                return Err(self.denied(caller, &subject, err).await);
            }
        }
        let updated = Recipe {
            name: input.name.trim().to_owned(),
            description: input.description,
            effective_behavior_summary: input.effective_behavior_summary,
            spinnaker_application: input.spinnaker_application,
            deploy_pipeline: input.deploy_pipeline,
            rollback_pipeline: input.rollback_pipeline,
            ..current.clone()
        };
        self.write_recipe_revision(caller, &subject, &opened, current, updated, reason).await
    }

    pub async fn deprecate_recipe(
        &self,
        caller: &Caller,
        id: &str,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<Recipe, DomainError> {
        let subject = recipe_subject("ADMIN_UPDATE", id);
        let fingerprint = json!({ "id": id, "changeReason": reason });
        let opened = self.open_admin(caller, &subject, "deprecateRecipe", key, fingerprint, false).await?;
        if opened.replay.is_some() {
            return self.recipe_or_not_found(id).await;
        }
        let Some(current) = self.store.recipe(id).await? else {
            return Err(self.denied(caller, &subject, DomainError::not_found("recipe", id)).await);
        };
        let updated = Recipe { status: RecipeStatus::Deprecated, ..current.clone() };
        self.write_recipe_revision(caller, &subject, &opened, current, updated, reason).await
    }

    /// Saves a recipe change as a new revision; no change, no revision.
    async fn write_recipe_revision(
        &self,
        caller: &Caller,
        subject: &AuditSubject,
        opened: &OpenedMutation,
        current: Recipe,
        updated: Recipe,
        reason: Option<String>,
    ) -> Result<Recipe, DomainError> {
        let changes = recipe_changes(Some(&current), &updated);
        if changes.is_empty() {
            return Ok(current);
        }
        let mut changes = changes;
        changes.push(FieldChange {
            field: "revision".into(),
            old_value: Some(current.revision.to_string()),
            new_value: Some((current.revision + 1).to_string()),
        });
        let recipe = Recipe {
            revision: current.revision + 1,
            updated_at: self.now(),
            updated_by: caller.principal.actor_id.clone(),
            last_change_reason: reason.clone(),
            ..updated
        };
        self.write_change(caller, subject, opened, reason.as_deref(), changes, AdminSave::Recipe(&recipe, false))
            .await?;
        self.recipe_or_not_found(&subject.target_id).await
    }

    async fn recipe_or_not_found(&self, id: &str) -> Result<Recipe, DomainError> {
        self.store.recipe(id).await?.ok_or_else(|| DomainError::not_found("recipe", id))
    }

    pub async fn upsert_service(
        &self,
        caller: &Caller,
        input: ServiceInput,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<Service, DomainError> {
        let existing = self.store.service(&input.name).await?;
        let subject = AuditSubject {
            event_type: if existing.is_some() { "ADMIN_UPDATE" } else { "ADMIN_CREATE" },
            target_type: "SERVICE",
            target_id: input.name.clone(),
            service_name: Some(input.name.clone()),
            delivery_group_id: existing.as_ref().and_then(|s| s.delivery_group_id.clone()),
            ..AuditSubject::default()
        };
        let fingerprint = json!({ "input": format!("{input:?}"), "changeReason": reason });
        let opened = self.open_admin(caller, &subject, "upsertService", key, fingerprint, false).await?;
        if opened.replay.is_some() {
            return self
                .store
                .service(&input.name)
                .await?
                .ok_or_else(|| DomainError::not_found("service", &input.name));
        }
        let known = self.known_catalog().await?;
        if let Err(err) = validate_service(&input, &known) {
            return Err(self.denied(caller, &subject, err).await);
        }
        let service = Service {
            name: input.name,
            description: input.description,
            delivery_group_id: existing.as_ref().and_then(|s| s.delivery_group_id.clone()),
            compatible_recipes: input
                .compatible_recipes
                .or_else(|| existing.as_ref().map(|s| s.compatible_recipes.clone()))
                .unwrap_or_default(),
        };
        let changes = service_changes(existing.as_ref(), &service);
        if let (Some(current), true) = (&existing, changes.is_empty()) {
            return Ok(current.clone());
        }
        let is_new = existing.is_none();
        self.write_change(caller, &subject, &opened, reason.as_deref(), changes, AdminSave::Service(&service, is_new))
            .await?;
        self.store.service(&subject.target_id).await?.ok_or_else(DomainError::internal)
    }

    pub async fn upsert_environment(
        &self,
        caller: &Caller,
        input: EnvironmentInput,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<Environment, DomainError> {
        let existing = self.store.environment(&input.name).await?;
        let subject = AuditSubject {
            event_type: if existing.is_some() { "ADMIN_UPDATE" } else { "ADMIN_CREATE" },
            target_type: "ENVIRONMENT",
            target_id: input.name.clone(),
            environment: Some(input.name.clone()),
            ..AuditSubject::default()
        };
        let fingerprint = json!({ "input": format!("{input:?}"), "changeReason": reason });
        let opened = self.open_admin(caller, &subject, "upsertEnvironment", key, fingerprint, false).await?;
        if opened.replay.is_some() {
            return self
                .store
                .environment(&input.name)
                .await?
                .ok_or_else(|| DomainError::not_found("environment", &input.name));
        }
        let environment = match validate_environment(&input) {
            Ok(environment) => environment,
            Err(err) => return Err(self.denied(caller, &subject, err).await),
        };
        let changes = environment_changes(existing.as_ref(), &environment);
        if let (Some(current), true) = (&existing, changes.is_empty()) {
            return Ok(current.clone());
        }
        let is_new = existing.is_none();
        self.write_change(
            caller,
            &subject,
            &opened,
            reason.as_deref(),
            changes,
            AdminSave::Environment(&environment, is_new),
        )
        .await?;
        self.store.environment(&subject.target_id).await?.ok_or_else(DomainError::internal)
    }

    /// `updateSystemSettings`: the one mutation the kill switch lets through
    /// when it turns the kill switch off.
    pub async fn update_system_settings(
        &self,
        caller: &Caller,
        input: SettingsInput,
        reason: Option<String>,
        key: &KeyInput,
    ) -> Result<SystemSettings, DomainError> {
        let subject = AuditSubject {
            event_type: "SETTINGS_UPDATE",
            target_type: "SETTINGS",
            target_id: SETTINGS_TARGET.to_owned(),
            ..AuditSubject::default()
        };
        let fingerprint = json!({ "input": format!("{input:?}"), "changeReason": reason });
        let exempt = input.turns_kill_switch_off();
        let opened = self.open_admin(caller, &subject, "updateSystemSettings", key, fingerprint, exempt).await?;
        let current = self.store.settings().await?;
        if opened.replay.is_some() {
            return Ok(current);
        }
        let updated = match apply_settings(&current, &input) {
            Ok(updated) => updated,
            Err(err) => return Err(self.denied(caller, &subject, err).await),
        };
        let changes = settings_changes(&current, &updated);
        if changes.is_empty() {
            return Ok(current);
        }
        self.write_change(caller, &subject, &opened, reason.as_deref(), changes, AdminSave::Settings(&updated)).await?;
        self.remember_settings(&updated);
        tracing::info!(actor = %caller.principal.actor_id, mutations_disabled = updated.mutations_disabled, "system settings changed");
        Ok(updated)
    }
}

/// What an admin mutation writes; `bool` is "is new".
enum AdminSave<'a> {
    Group(&'a DeliveryGroup, bool),
    Recipe(&'a Recipe, bool),
    Service(&'a Service, bool),
    Environment(&'a Environment, bool),
    Settings(&'a SystemSettings),
}

fn recipe_subject(event_type: &'static str, id: &str) -> AuditSubject {
    AuditSubject { event_type, target_type: "RECIPE", target_id: id.to_owned(), ..AuditSubject::default() }
}

fn new_recipe(input: RecipeInput, actor: &str, reason: Option<String>, now: DateTime<Utc>) -> Recipe {
    Recipe {
        id: input.id,
        name: input.name.trim().to_owned(),
        description: input.description,
        status: RecipeStatus::Active,
        revision: 1,
        effective_behavior_summary: input.effective_behavior_summary,
        spinnaker_application: input.spinnaker_application,
        deploy_pipeline: input.deploy_pipeline,
        rollback_pipeline: input.rollback_pipeline,
        created_at: now,
        created_by: actor.to_owned(),
        updated_at: now,
        updated_by: actor.to_owned(),
        last_change_reason: reason,
    }
}
