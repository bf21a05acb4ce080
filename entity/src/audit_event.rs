//! Row of `audit_events`. Data mapping only: rules live in the dxcp domain module.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_type: String,
    pub actor_id: String,
    pub actor_role: String,
    pub target_type: String,
    pub target_id: String,
    pub timestamp: DateTimeUtc,
    pub outcome: String,
    pub summary: String,
    pub delivery_group_id: Option<String>,
    pub service_name: Option<String>,
    pub environment: Option<String>,
    pub request_id: Option<String>,
    /// JSON array of {field, oldValue, newValue}.
    pub changes: String,
    /// How many identical refusals this row stands for (1 unless it
    /// aggregates a burst).
    pub repeat_count: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
