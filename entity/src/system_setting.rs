//! Row of `system_settings`. Data mapping only: rules live in the dxcp domain module.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "system_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub mutations_disabled: bool,
    pub read_rpm: i32,
    pub mutate_rpm: i32,
    pub daily_build_register_quota: i32,
    /// JSON array of actor ids allowed to register builds.
    pub ci_publishers: String,
    pub promotion_allow_jumps: bool,
    pub updated_at: DateTimeUtc,
    pub updated_by: String,
    pub last_change_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
