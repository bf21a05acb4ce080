//! Deployment records, their failures and timeline, and the per
//! (delivery group, environment) lock rows that serialize admission.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("deployments")
                    .if_not_exists()
                    .col(string("id").primary_key())
                    .col(string("service"))
                    .col(string("environment"))
                    .col(string("version"))
                    .col(string("recipe_id"))
                    .col(integer("recipe_revision"))
                    .col(text("effective_behavior_summary"))
                    .col(string("state"))
                    .col(string("kind"))
                    .col(string_null("outcome"))
                    .col(text("change_summary"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(string("delivery_group_id"))
                    .col(string("created_by"))
                    .col(string_null("rollback_of"))
                    .col(string_null("superseded_by"))
                    .col(string("engine_type"))
                    .col(string_null("engine_execution_id"))
                    .col(text_null("engine_execution_url"))
                    .col(string("spinnaker_application"))
                    .col(string("deploy_pipeline"))
                    .col(string("rollback_pipeline"))
                    .col(text_null("artifact_ref"))
                    .col(text("policy_snapshot"))
                    .col(timestamp_with_time_zone_null("last_engine_contact_at"))
                    .to_owned(),
            )
            .await?;
        // History keyset: ORDER BY created_at DESC, id DESC.
        manager.create_index(index("idx_deployments_created", "deployments", &["created_at", "id"])).await?;
        // History filtered by service (and environment); rollback target lookups.
        manager
            .create_index(index(
                "idx_deployments_service_env_created",
                "deployments",
                &["service", "environment", "created_at"],
            ))
            .await?;
        // Running state: the current success of a service + environment.
        manager
            .create_index(index(
                "idx_deployments_outcome_service_env",
                "deployments",
                &["outcome", "service", "environment", "created_at"],
            ))
            .await?;
        // Concurrency: in-flight records of a (group, environment).
        manager
            .create_index(index(
                "idx_deployments_group_env_state",
                "deployments",
                &["delivery_group_id", "environment", "state"],
            ))
            .await?;
        // Daily quotas: records of a (group, environment, kind) created since midnight UTC.
        manager
            .create_index(index(
                "idx_deployments_group_env_kind_created",
                "deployments",
                &["delivery_group_id", "environment", "kind", "created_at"],
            ))
            .await?;
        // History filtered by group (owners see only their groups) and by state.
        manager
            .create_index(index(
                "idx_deployments_group_created",
                "deployments",
                &["delivery_group_id", "created_at", "id"],
            ))
            .await?;
        manager
            .create_index(index("idx_deployments_state_created", "deployments", &["state", "created_at", "id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("deployment_failures")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("deployment_id"))
                    .col(string("category"))
                    .col(text("summary"))
                    .col(text_null("detail"))
                    .col(text_null("action_hint"))
                    .col(timestamp_with_time_zone("observed_at"))
                    .to_owned(),
            )
            .await?;
        // Failures DataLoader: WHERE deployment_id IN (...).
        manager.create_index(index("idx_failures_deployment", "deployment_failures", &["deployment_id", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("deployment_timeline")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("deployment_id"))
                    .col(string("key"))
                    .col(string("label"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .col(text_null("detail"))
                    .to_owned(),
            )
            .await?;
        // Timeline DataLoader: WHERE deployment_id IN (...).
        manager.create_index(index("idx_timeline_deployment", "deployment_timeline", &["deployment_id", "id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("admission_locks")
                    .if_not_exists()
                    .col(string("delivery_group_id"))
                    .col(string("environment"))
                    .col(timestamp_with_time_zone("locked_at"))
                    .primary_key(Index::create().col("delivery_group_id").col("environment"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["admission_locks", "deployment_timeline", "deployment_failures", "deployments"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
