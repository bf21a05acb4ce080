//! Row of `idempotency_keys`. Data mapping only: rules live in the dxcp domain module.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub mutation: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Hash of the normalized input: a replay must match it.
    pub request_hash: String,
    /// IN_PROGRESS until the use case finished, then DONE.
    pub status: String,
    /// Id of what the original request produced.
    pub result_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
