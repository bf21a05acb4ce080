//! Row of `delivery_groups`. Data mapping only: rules live in the dxcp domain module.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    /// JSON array of actor ids.
    pub members: String,
    /// JSON array of recipe ids.
    pub allowed_recipes: String,
    /// JSON array of environment names.
    pub allowed_environments: String,
    pub default_recipe_id: Option<String>,
    pub max_concurrent_deployments: i32,
    pub daily_deploy_quota: i32,
    pub daily_rollback_quota: i32,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
    pub last_change_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
