//! Catalogue tables: environments, recipes, delivery groups, services, builds.
//! List-valued fields (members, allowed recipes, ...) are JSON text arrays:
//! they are small, always read whole, and portable across SQLite and PostgreSQL.

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
                    .table("environments")
                    .if_not_exists()
                    .col(string("name").primary_key())
                    .col(string("display_name"))
                    .col(string("env_type"))
                    .col(integer_null("promotion_order"))
                    .col(boolean("enabled"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(string("updated_by"))
                    .col(text_null("last_change_reason"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("recipes")
                    .if_not_exists()
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(text_null("description"))
                    .col(string("status"))
                    .col(integer("revision"))
                    .col(text("effective_behavior_summary"))
                    .col(string("spinnaker_application"))
                    .col(string("deploy_pipeline"))
                    .col(string("rollback_pipeline"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(string("updated_by"))
                    .col(text_null("last_change_reason"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("delivery_groups")
                    .if_not_exists()
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(text_null("description"))
                    .col(string_null("owner"))
                    .col(text("members"))
                    .col(text("allowed_recipes"))
                    .col(text("allowed_environments"))
                    .col(string_null("default_recipe_id"))
                    .col(integer("max_concurrent_deployments"))
                    .col(integer("daily_deploy_quota"))
                    .col(integer("daily_rollback_quota"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(string("created_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(string("updated_by"))
                    .col(text_null("last_change_reason"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("services")
                    .if_not_exists()
                    .col(string("name").primary_key())
                    .col(text_null("description"))
                    .col(string_null("delivery_group_id"))
                    .col(text("compatible_recipes"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(string("updated_by"))
                    .col(text_null("last_change_reason"))
                    .to_owned(),
            )
            .await?;
        // deliveryGroup.services and the guardrail's "service in a group" check.
        manager.create_index(index("idx_services_group", "services", &["delivery_group_id"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("builds")
                    .if_not_exists()
                    .col(string("service"))
                    .col(string("version"))
                    .col(string("artifact_ref"))
                    .col(string("sha256"))
                    .col(big_integer("size_bytes"))
                    .col(string("content_type"))
                    .col(string("git_sha"))
                    .col(string("git_branch"))
                    .col(string("ci_provider"))
                    .col(string("ci_run_id"))
                    .col(timestamp_with_time_zone("built_at"))
                    .col(string_null("repo"))
                    .col(timestamp_with_time_zone("registered_at"))
                    .col(string("registered_by"))
                    .primary_key(Index::create().col("service").col("version"))
                    .to_owned(),
            )
            .await?;
        // builds(service) pages newest first; registeredBy + day serves the publisher quota.
        manager
            .create_index(index("idx_builds_service_registered", "builds", &["service", "registered_at", "version"]))
            .await?;
        manager
            .create_index(index("idx_builds_publisher_registered", "builds", &["registered_by", "registered_at"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["builds", "services", "delivery_groups", "recipes", "environments"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}
