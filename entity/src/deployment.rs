//! Row of `deployments`. Data mapping only: rules live in the dxcp domain module.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub service: String,
    pub environment: String,
    pub version: String,
    pub recipe_id: String,
    pub recipe_revision: i32,
    pub effective_behavior_summary: String,
    pub state: String,
    pub kind: String,
    pub outcome: Option<String>,
    pub change_summary: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub delivery_group_id: String,
    pub created_by: String,
    pub rollback_of: Option<String>,
    pub superseded_by: Option<String>,
    pub engine_type: String,
    pub engine_execution_id: Option<String>,
    pub engine_execution_url: Option<String>,
    pub spinnaker_application: String,
    pub deploy_pipeline: String,
    pub rollback_pipeline: String,
    pub artifact_ref: Option<String>,
    /// JSON object: limits and usage seen at submit.
    pub policy_snapshot: String,
    pub last_engine_contact_at: Option<DateTimeUtc>,
    /// For a PROMOTION: the environment the version succeeded in.
    pub source_environment: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
