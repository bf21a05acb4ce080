//! Row of `admission_locks`. Data mapping only: rules live in the dxcp domain module.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admission_locks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub delivery_group_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub environment: String,
    pub locked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
