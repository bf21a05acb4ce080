//! Row of `builds`. Data mapping only: rules live in the dxcp domain module.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "builds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub service: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: String,
    pub artifact_ref: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub git_sha: String,
    pub git_branch: String,
    pub ci_provider: String,
    pub ci_run_id: String,
    pub built_at: DateTimeUtc,
    pub repo: Option<String>,
    pub registered_at: DateTimeUtc,
    pub registered_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
