//! Administrative writes: each change, its audit event and its idempotency
//! key in one transaction, so a change is never unaudited and a retried
//! request never applies twice.

use chrono::{DateTime, Utc};
use entity::{delivery_group, environment, service, system_setting};
use sea_orm::{
    sea_query::Expr,
    ActiveModelBehavior, ActiveModelTrait, ActiveValue,
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};

use super::{
    audit::insert_audit,
    catalog::{group_row, recipe_row},
    convert::{json_list, to_json_list, truncate_to_micros},
    idempotency::{self, IdempotencyEntry},
    Store, StoreError, WriteTx,
};
use crate::domain::{
    audit::AuditEvent,
    catalog::{DeliveryGroup, Environment, Recipe, Service},
    settings::SystemSettings,
};

/// What every administrative write also records.
pub struct AdminWrite<'a> {
    pub audit: &'a AuditEvent,
    pub idempotency: &'a IdempotencyEntry,
    /// The id the idempotency key resolves to on replay.
    pub result_id: &'a str,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

impl<'a> AdminWrite<'a> {
    /// The write `audit` records: its actor, its time, and its target as
    /// the id the idempotency key resolves to.
    pub fn new(audit: &'a AuditEvent, idempotency: &'a IdempotencyEntry, reason: Option<&'a str>) -> Self {
        AdminWrite {
            audit,
            idempotency,
            result_id: &audit.target_id,
            actor: &audit.actor_id,
            reason,
            at: audit.timestamp,
        }
    }
}

/// Records the audit event and idempotency key, then commits.
pub(super) async fn finish(tx: WriteTx, write: &AdminWrite<'_>) -> Result<(), StoreError> {
    insert_audit(&tx, write.audit).await?;
    idempotency::purge_expired(&tx, write.idempotency, write.at).await?;
    idempotency::insert(&tx, write.idempotency, write.result_id, write.at).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether an administrative write creates its row or updates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveMode {
    Create,
    Update,
}

/// Inserts a row (`Create`) or updates the set columns of an existing one
/// (`Update`); columns left `NotSet` keep their stored value.
async fn insert_or_update<A>(tx: &WriteTx, mode: SaveMode, row: A) -> Result<(), StoreError>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    match mode {
        SaveMode::Create => {
            A::Entity::insert(row).exec(tx).await?;
        }
        SaveMode::Update => {
            A::Entity::update(row).exec(tx).await?;
        }
    }
    Ok(())
}

/// `Set` on create, `NotSet` on update: creation facts never change.
fn on_create<V: Into<sea_orm::Value>>(mode: SaveMode, value: V) -> ActiveValue<V> {
    match mode {
        SaveMode::Create => Set(value),
        SaveMode::Update => NotSet,
    }
}

/// Sets who changed a row, when and why: `columns` are the row's
/// `updated_at`, `updated_by` and `last_change_reason`.
fn stamp<A: ActiveModelTrait>(row: &mut A, write: &AdminWrite<'_>, columns: [<A::Entity as EntityTrait>::Column; 3]) {
    let [at, by, reason] = columns;
    row.set(at, truncate_to_micros(write.at).into());
    row.set(by, write.actor.to_owned().into());
    row.set(reason, write.reason.map(str::to_owned).into());
}

impl Store {
    /// Creates or updates one row, with the write's audit event and key.
    async fn save_row<A>(&self, mode: SaveMode, row: A, write: &AdminWrite<'_>) -> Result<(), StoreError>
    where
        A: ActiveModelTrait + ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    {
        let tx = self.begin_write().await?;
        insert_or_update(&tx, mode, row).await?;
        finish(tx, write).await
    }

    /// Creates or replaces a delivery group and moves services in and out of it.
    pub async fn save_group(
        &self,
        group: &DeliveryGroup,
        mode: SaveMode,
        write: &AdminWrite<'_>,
    ) -> Result<(), StoreError> {
        let at = truncate_to_micros(write.at);
        let tx = self.begin_write().await?;
        insert_or_update(&tx, mode, group_row(group)).await?;
        // Services that left the group belong to none until an admin places them.
        service::Entity::update_many()
            .col_expr(service::Column::DeliveryGroupId, Expr::value(Option::<String>::None))
            .col_expr(service::Column::UpdatedAt, Expr::value(at))
            .filter(service::Column::DeliveryGroupId.eq(&group.id))
            .filter(service::Column::Name.is_not_in(group.services.clone()))
            .exec(&tx)
            .await?;
        service::Entity::update_many()
            .col_expr(service::Column::DeliveryGroupId, Expr::value(group.id.clone()))
            .col_expr(service::Column::UpdatedAt, Expr::value(at))
            .filter(service::Column::Name.is_in(group.services.clone()))
            .exec(&tx)
            .await?;
        finish(tx, write).await
    }

    pub async fn save_recipe(&self, recipe: &Recipe, mode: SaveMode, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        self.save_row(mode, recipe_row(recipe), write).await
    }

    /// Creates or updates a service; its delivery group is left as it is
    /// (groups own membership).
    pub async fn save_service(
        &self,
        service: &Service,
        mode: SaveMode,
        write: &AdminWrite<'_>,
    ) -> Result<(), StoreError> {
        use service::Column::{LastChangeReason, UpdatedAt, UpdatedBy};
        let mut row = service::ActiveModel {
            name: Set(service.name.clone()),
            description: Set(service.description.clone()),
            delivery_group_id: on_create(mode, None),
            compatible_recipes: Set(to_json_list(&service.compatible_recipes)),
            created_at: on_create(mode, truncate_to_micros(write.at)),
            ..Default::default()
        };
        stamp(&mut row, write, [UpdatedAt, UpdatedBy, LastChangeReason]);
        self.save_row(mode, row, write).await
    }

    pub async fn save_environment(
        &self,
        env: &Environment,
        mode: SaveMode,
        write: &AdminWrite<'_>,
    ) -> Result<(), StoreError> {
        use environment::Column::{LastChangeReason, UpdatedAt, UpdatedBy};
        let mut row = environment::ActiveModel {
            name: Set(env.name.clone()),
            display_name: Set(env.display_name.clone()),
            env_type: Set(env.env_type.as_str().to_owned()),
            promotion_order: Set(env.promotion_order),
            enabled: Set(env.enabled),
            created_at: on_create(mode, truncate_to_micros(write.at)),
            created_by: on_create(mode, write.actor.to_owned()),
            ..Default::default()
        };
        stamp(&mut row, write, [UpdatedAt, UpdatedBy, LastChangeReason]);
        self.save_row(mode, row, write).await
    }

    pub async fn save_settings(&self, settings: &SystemSettings, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        let at = truncate_to_micros(write.at);
        let tx = self.begin_write().await?;
        system_setting::Entity::update_many()
            .col_expr(system_setting::Column::MutationsDisabled, Expr::value(settings.mutations_disabled))
            .col_expr(system_setting::Column::ReadRpm, Expr::value(settings.read_rpm))
            .col_expr(system_setting::Column::MutateRpm, Expr::value(settings.mutate_rpm))
            .col_expr(system_setting::Column::DailyBuildRegisterQuota, Expr::value(settings.daily_build_register_quota))
            .col_expr(system_setting::Column::CiPublishers, Expr::value(to_json_list(&settings.ci_publishers)))
            .col_expr(system_setting::Column::PromotionAllowJumps, Expr::value(settings.promotion_allow_jumps))
            .col_expr(system_setting::Column::UpdatedAt, Expr::value(at))
            .col_expr(system_setting::Column::UpdatedBy, Expr::value(write.actor.to_owned()))
            .col_expr(system_setting::Column::LastChangeReason, Expr::value(write.reason.map(str::to_owned)))
            .exec(&tx)
            .await?;
        finish(tx, write).await
    }

    /// Ids of the groups that allow a recipe.
    pub async fn groups_allowing_recipe(&self, recipe_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = delivery_group::Entity::find().all(self.conn()).await?;
        let mut ids = Vec::new();
        for row in rows {
            if json_list(&row.allowed_recipes)?.iter().any(|r| r == recipe_id) {
                ids.push(row.id);
            }
        }
        Ok(ids)
    }
}
