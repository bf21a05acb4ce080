//! Administrative writes: each change, its audit event and its idempotency
//! key in one transaction, so a change is never unaudited and a retried
//! request never applies twice.

use chrono::{DateTime, Utc};
use entity::{build, delivery_group, environment, recipe, service, system_setting};
use sea_orm::{sea_query::Expr, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::{
    audit::insert_audit,
    catalog::{group_row, insert_build, recipe_row},
    convert::{json_list, to_json_list, truncate_to_micros},
    idempotency::{self, IdempotencyEntry},
    Store, StoreError, WriteTx,
};
use crate::domain::catalog::{AuditEvent, Build, DeliveryGroup, Environment, Recipe, Service, SystemSettings};

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

async fn finish(tx: WriteTx, write: &AdminWrite<'_>) -> Result<(), StoreError> {
    insert_audit(&tx, write.audit).await?;
    idempotency::purge_expired(&tx, write.idempotency, write.at).await?;
    idempotency::insert(&tx, write.idempotency, write.result_id, write.at).await?;
    tx.commit().await?;
    Ok(())
}

impl Store {
    /// Creates or replaces a delivery group and moves services in and out of it.
    pub async fn save_group(
        &self,
        group: &DeliveryGroup,
        is_new: bool,
        write: &AdminWrite<'_>,
    ) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        let row = group_row(group);
        if is_new {
            delivery_group::Entity::insert(row).exec(&tx).await?;
        } else {
            delivery_group::Entity::update(row).exec(&tx).await?;
        }
        let at = truncate_to_micros(write.at);
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

    pub async fn save_recipe(&self, recipe: &Recipe, is_new: bool, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        if is_new {
            recipe::Entity::insert(recipe_row(recipe)).exec(&tx).await?;
        } else {
            recipe::Entity::update(recipe_row(recipe)).exec(&tx).await?;
        }
        finish(tx, write).await
    }

    /// Creates or updates a service; its delivery group is left as it is
    /// (groups own membership).
    pub async fn save_service(
        &self,
        service: &Service,
        is_new: bool,
        write: &AdminWrite<'_>,
    ) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        let at = truncate_to_micros(write.at);
        if is_new {
            service::Entity::insert(service::ActiveModel {
                name: Set(service.name.clone()),
                description: Set(service.description.clone()),
                delivery_group_id: Set(None),
                compatible_recipes: Set(to_json_list(&service.compatible_recipes)),
                created_at: Set(at),
                updated_at: Set(at),
                updated_by: Set(write.actor.to_owned()),
                last_change_reason: Set(write.reason.map(str::to_owned)),
            })
            .exec(&tx)
            .await?;
        } else {
            service::Entity::update_many()
                .col_expr(service::Column::Description, Expr::value(service.description.clone()))
                .col_expr(service::Column::CompatibleRecipes, Expr::value(to_json_list(&service.compatible_recipes)))
                .col_expr(service::Column::UpdatedAt, Expr::value(at))
                .col_expr(service::Column::UpdatedBy, Expr::value(write.actor.to_owned()))
                .col_expr(service::Column::LastChangeReason, Expr::value(write.reason.map(str::to_owned)))
                .filter(service::Column::Name.eq(&service.name))
                .exec(&tx)
                .await?;
        }
        finish(tx, write).await
    }

    pub async fn save_environment(
        &self,
        env: &Environment,
        is_new: bool,
        write: &AdminWrite<'_>,
    ) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        let at = truncate_to_micros(write.at);
        if is_new {
            environment::Entity::insert(environment::ActiveModel {
                name: Set(env.name.clone()),
                display_name: Set(env.display_name.clone()),
                env_type: Set(env.env_type.as_str().to_owned()),
                promotion_order: Set(env.promotion_order),
                enabled: Set(env.enabled),
                created_at: Set(at),
                created_by: Set(write.actor.to_owned()),
                updated_at: Set(at),
                updated_by: Set(write.actor.to_owned()),
                last_change_reason: Set(write.reason.map(str::to_owned)),
            })
            .exec(&tx)
            .await?;
        } else {
            environment::Entity::update_many()
                .col_expr(environment::Column::DisplayName, Expr::value(env.display_name.clone()))
                .col_expr(environment::Column::EnvType, Expr::value(env.env_type.as_str()))
                .col_expr(environment::Column::PromotionOrder, Expr::value(env.promotion_order))
                .col_expr(environment::Column::Enabled, Expr::value(env.enabled))
                .col_expr(environment::Column::UpdatedAt, Expr::value(at))
                .col_expr(environment::Column::UpdatedBy, Expr::value(write.actor.to_owned()))
                .col_expr(environment::Column::LastChangeReason, Expr::value(write.reason.map(str::to_owned)))
                .filter(environment::Column::Name.eq(&env.name))
                .exec(&tx)
                .await?;
        }
        finish(tx, write).await
    }

    pub async fn save_settings(&self, settings: &SystemSettings, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        system_setting::Entity::update_many()
            .col_expr(system_setting::Column::MutationsDisabled, Expr::value(settings.mutations_disabled))
            .col_expr(system_setting::Column::ReadRpm, Expr::value(settings.read_rpm))
            .col_expr(system_setting::Column::MutateRpm, Expr::value(settings.mutate_rpm))
            .col_expr(system_setting::Column::DailyBuildRegisterQuota, Expr::value(settings.daily_build_register_quota))
            .col_expr(system_setting::Column::CiPublishers, Expr::value(to_json_list(&settings.ci_publishers)))
            .col_expr(system_setting::Column::UpdatedAt, Expr::value(truncate_to_micros(write.at)))
            .col_expr(system_setting::Column::UpdatedBy, Expr::value(write.actor.to_owned()))
            .col_expr(system_setting::Column::LastChangeReason, Expr::value(write.reason.map(str::to_owned)))
            .exec(&tx)
            .await?;
        finish(tx, write).await
    }

    /// Registers a build with its audit event; a concurrent registration of
    /// the same (service, version) surfaces as `StoreError::Conflict`.
    pub async fn register_build(&self, build: &Build, write: &AdminWrite<'_>) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        insert_build(&tx, build).await?;
        finish(tx, write).await
    }

    /// Builds a publisher registered since `since` (daily quota).
    pub async fn builds_registered_since(&self, actor: &str, since: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(build::Entity::find()
            .filter(build::Column::RegisteredBy.eq(actor))
            .filter(build::Column::RegisteredAt.gte(truncate_to_micros(since)))
            .count(self.conn())
            .await?)
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
