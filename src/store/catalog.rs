//! Catalogue reads and the first-start catalogue load.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{delivery_group, environment, recipe, service};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationDef,
};

use super::{
    builds::insert_build,
    convert::{delivery_group_from_row, to_json_list, truncate_to_micros},
    first, Store, StoreError,
};
use crate::domain::{
    build::Build,
    catalog::{DeliveryGroup, Environment, Recipe, Service},
};

/// A validated catalogue, ready to be written (see `crate::catalog_file`).
#[derive(Debug, Clone, Default)]
pub struct CatalogSnapshot {
    pub environments: Vec<Environment>,
    pub recipes: Vec<Recipe>,
    pub delivery_groups: Vec<DeliveryGroup>,
    pub services: Vec<Service>,
    pub builds: Vec<Build>,
}

impl Store {
    pub async fn has_delivery_groups(&self) -> Result<bool, StoreError> {
        Ok(delivery_group::Entity::find().count(self.conn()).await? > 0)
    }

    /// Writes a whole catalogue in one transaction: all or nothing.
    pub async fn load_catalog(
        &self,
        catalog: &CatalogSnapshot,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = truncate_to_micros(now);
        let tx = self.begin_write().await?;
        for env in &catalog.environments {
            environment::Entity::insert(environment::ActiveModel {
                name: Set(env.name.clone()),
                display_name: Set(env.display_name.clone()),
                env_type: Set(env.env_type.as_str().to_owned()),
                promotion_order: Set(env.promotion_order),
                enabled: Set(env.enabled),
                created_at: Set(now),
                created_by: Set(actor.to_owned()),
                updated_at: Set(now),
                updated_by: Set(actor.to_owned()),
                last_change_reason: Set(None),
            })
            .exec(&tx)
            .await?;
        }
        for r in &catalog.recipes {
            recipe::Entity::insert(recipe_row(r)).exec(&tx).await?;
        }
        for g in &catalog.delivery_groups {
            delivery_group::Entity::insert(group_row(g)).exec(&tx).await?;
        }
        for s in &catalog.services {
            service::Entity::insert(service::ActiveModel {
                name: Set(s.name.clone()),
                description: Set(s.description.clone()),
                delivery_group_id: Set(s.delivery_group_id.clone()),
                compatible_recipes: Set(to_json_list(&s.compatible_recipes)),
                created_at: Set(now),
                updated_at: Set(now),
                updated_by: Set(actor.to_owned()),
                last_change_reason: Set(None),
            })
            .exec(&tx)
            .await?;
        }
        for b in &catalog.builds {
            insert_build(&tx, b).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn services(&self) -> Result<Vec<Service>, StoreError> {
        service::Entity::find()
            .order_by_asc(service::Column::Name)
            .all(self.conn())
            .await?
            .into_iter()
            .map(Service::try_from)
            .collect()
    }

    pub async fn service(&self, name: &str) -> Result<Option<Service>, StoreError> {
        first(service::Entity::find_by_id(name.to_owned()), self.conn()).await?.map(Service::try_from).transpose()
    }

    pub async fn environments(&self) -> Result<Vec<Environment>, StoreError> {
        environment::Entity::find()
            .order_by_asc(environment::Column::PromotionOrder)
            .order_by_asc(environment::Column::Name)
            .all(self.conn())
            .await?
            .into_iter()
            .map(Environment::try_from)
            .collect()
    }

    pub async fn environment(&self, name: &str) -> Result<Option<Environment>, StoreError> {
        first(environment::Entity::find_by_id(name.to_owned()), self.conn())
            .await?
            .map(Environment::try_from)
            .transpose()
    }

    pub async fn recipes(&self) -> Result<Vec<Recipe>, StoreError> {
        recipe::Entity::find()
            .order_by_asc(recipe::Column::Id)
            .all(self.conn())
            .await?
            .into_iter()
            .map(Recipe::try_from)
            .collect()
    }

    pub async fn recipe(&self, id: &str) -> Result<Option<Recipe>, StoreError> {
        first(recipe::Entity::find_by_id(id.to_owned()), self.conn()).await?.map(Recipe::try_from).transpose()
    }

    /// Every delivery group with its services: two queries, whatever the count.
    pub async fn delivery_groups(&self) -> Result<Vec<DeliveryGroup>, StoreError> {
        let rows = delivery_group::Entity::find().order_by_asc(delivery_group::Column::Id).all(self.conn()).await?;
        let mut services_by_group: HashMap<String, Vec<String>> = HashMap::new();
        for s in service::Entity::find()
            .filter(service::Column::DeliveryGroupId.is_not_null())
            .order_by_asc(service::Column::Name)
            .all(self.conn())
            .await?
        {
            if let Some(group) = s.delivery_group_id {
                services_by_group.entry(group).or_default().push(s.name);
            }
        }
        rows.into_iter()
            .map(|row| {
                let services = services_by_group.remove(&row.id).unwrap_or_default();
                delivery_group_from_row(row, services)
            })
            .collect()
    }

    /// A delivery group with its services, in one statement (the group
    /// joined to its services, a row per service): every deploy, rollback
    /// and preview reads its group.
    pub async fn delivery_group(&self, id: &str) -> Result<Option<DeliveryGroup>, StoreError> {
        let in_group: RelationDef = service::Entity::belongs_to(delivery_group::Entity)
            .from(service::Column::DeliveryGroupId)
            .to(delivery_group::Column::Id)
            .into();
        let query = delivery_group::Entity::find_by_id(id.to_owned())
            .join_rev(JoinType::LeftJoin, in_group)
            .column_as(service::Column::Name, MEMBER_SERVICE)
            .order_by_asc(service::Column::Name);
        let rows = self.conn().query_all_raw(query.build(self.backend())).await?;
        let Some(first_row) = rows.first() else {
            return Ok(None);
        };
        let group = delivery_group::Model::from_query_result(first_row, "")?;
        let mut services = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(name) = row.try_get::<Option<String>>("", MEMBER_SERVICE)? {
                services.push(name);
            }
        }
        delivery_group_from_row(group, services).map(Some)
    }
}

/// Column alias of a member service's name in [`Store::delivery_group`].
const MEMBER_SERVICE: &str = "member_service";

pub(crate) fn recipe_row(r: &Recipe) -> recipe::ActiveModel {
    recipe::ActiveModel {
        id: Set(r.id.clone()),
        name: Set(r.name.clone()),
        description: Set(r.description.clone()),
        status: Set(r.status.as_str().to_owned()),
        revision: Set(r.revision),
        effective_behavior_summary: Set(r.effective_behavior_summary.clone()),
        spinnaker_application: Set(r.spinnaker_application.clone()),
        deploy_pipeline: Set(r.deploy_pipeline.clone()),
        rollback_pipeline: Set(r.rollback_pipeline.clone()),
        created_at: Set(truncate_to_micros(r.created_at)),
        created_by: Set(r.created_by.clone()),
        updated_at: Set(truncate_to_micros(r.updated_at)),
        updated_by: Set(r.updated_by.clone()),
        last_change_reason: Set(r.last_change_reason.clone()),
    }
}

pub(crate) fn group_row(g: &DeliveryGroup) -> delivery_group::ActiveModel {
    delivery_group::ActiveModel {
        id: Set(g.id.clone()),
        name: Set(g.name.clone()),
        description: Set(g.description.clone()),
        owner: Set(g.owner.clone()),
        members: Set(to_json_list(&g.members)),
        allowed_recipes: Set(to_json_list(&g.allowed_recipes)),
        allowed_environments: Set(to_json_list(&g.allowed_environments)),
        default_recipe_id: Set(g.default_recipe_id.clone()),
        max_concurrent_deployments: Set(g.guardrails.max_concurrent_deployments),
        daily_deploy_quota: Set(g.guardrails.daily_deploy_quota),
        daily_rollback_quota: Set(g.guardrails.daily_rollback_quota),
        created_at: Set(truncate_to_micros(g.created_at)),
        created_by: Set(g.created_by.clone()),
        updated_at: Set(truncate_to_micros(g.updated_at)),
        updated_by: Set(g.updated_by.clone()),
        last_change_reason: Set(g.last_change_reason.clone()),
    }
}

impl Store {
    /// Ids of the delivery groups whose `members` include `actor_id`: one
    /// query over the (small) groups table.
    pub async fn group_ids_with_member(&self, actor_id: &str) -> Result<Vec<String>, StoreError> {
        // Asked on every history read of a delivery owner: only the two
        // columns it needs, not whole groups.
        let rows: Vec<(String, String)> = delivery_group::Entity::find()
            .select_only()
            .column(delivery_group::Column::Id)
            .column(delivery_group::Column::Members)
            .into_tuple()
            .all(self.conn())
            .await?;
        let mut ids = Vec::new();
        for (id, members) in rows {
            if super::convert::json_list(&members)?.iter().any(|m| m == actor_id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}
