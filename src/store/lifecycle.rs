//! State changes after admission: the engine's answer to a trigger, refresh
//! transitions with the outcome rules, engine-contact heartbeats, cancel
//! requests, and the lookups rollback needs. Each change is one
//! transaction and is conditional on the state it starts from, so two
//! replicas refreshing the same record apply a transition once.

use chrono::{DateTime, Utc};
use entity::{audit_event, deployment, deployment_failure, timeline_event};
use sea_orm::{sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{
    convert::truncate_to_micros,
    deployments::{failure_row, timeline_row},
    first, limited_statement, Store, StoreError,
};
use crate::domain::{
    audit::AuditOutcome,
    deployment::{DeploymentOutcome, DeploymentRecord, DeploymentState, Failure, TimelineEvent},
    state_machine::{displacement, outcome_of, Displacement},
};

/// A state change to apply to one record.
#[derive(Debug, Clone)]
pub struct Transition {
    pub id: Uuid,
    pub from: DeploymentState,
    pub to: DeploymentState,
    pub at: DateTime<Utc>,
    /// Set the engine reference (only when moving out of PENDING).
    pub execution: Option<(String, String)>,
    pub failure: Option<Failure>,
    pub timeline: Vec<TimelineEvent>,
    /// Whether the engine gave a usable answer (resets stale detection).
    pub engine_contact: bool,
}

/// The submit audit event's final outcome, when the engine refused it.
#[derive(Debug, Clone)]
pub struct AuditCorrection {
    pub audit_id: Uuid,
    pub summary: String,
}

impl Store {
    /// Applies `transition` if the record is still in `from`; on success it
    /// also applies the outcome rules. Returns whether it applied.
    pub async fn apply_transition(
        &self,
        transition: &Transition,
        audit: Option<&AuditCorrection>,
    ) -> Result<bool, StoreError> {
        let writer = self.writer().await;
        // States only move forward: a record that has left `from` never
        // returns to it. When a concurrent refresh applied this change
        // first, there is nothing to do and no transaction to open (under
        // load several refreshes race for each finished record).
        if !self.is_in_state(transition.id, transition.from).await? {
            return Ok(false);
        }
        let tx = writer.begin().await?;
        let at = truncate_to_micros(transition.at);
        let mut update = deployment::Entity::update_many()
            .col_expr(deployment::Column::State, Expr::value(transition.to.as_str()))
            .col_expr(deployment::Column::UpdatedAt, Expr::value(at))
            .filter(deployment::Column::Id.eq(transition.id.to_string()))
            .filter(deployment::Column::State.eq(transition.from.as_str()));
        if let Some(outcome) = outcome_of(transition.to) {
            update = update.col_expr(deployment::Column::Outcome, Expr::value(outcome.as_str()));
        }
        if let Some((execution_id, url)) = &transition.execution {
            update = update
                .col_expr(deployment::Column::EngineExecutionId, Expr::value(execution_id.clone()))
                .col_expr(deployment::Column::EngineExecutionUrl, Expr::value(url.clone()));
        }
        if transition.engine_contact {
            update = update.col_expr(deployment::Column::LastEngineContactAt, Expr::value(at));
        }
        if update.exec(&tx).await?.rows_affected == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(failure) = &transition.failure {
            deployment_failure::Entity::insert(failure_row(transition.id, failure)).exec(&tx).await?;
        }
        for event in &transition.timeline {
            timeline_event::Entity::insert(timeline_row(transition.id, event)).exec(&tx).await?;
        }
        if let Some(correction) = audit {
            audit_event::Entity::update_many()
                .col_expr(audit_event::Column::Outcome, Expr::value(AuditOutcome::Failed.as_str()))
                .col_expr(audit_event::Column::Summary, Expr::value(correction.summary.clone()))
                .filter(audit_event::Column::Id.eq(correction.audit_id.to_string()))
                .exec(&tx)
                .await?;
        }
        if transition.to == DeploymentState::Succeeded {
            displace_previous_success(&tx, transition.id, at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Whether the record exists and is in `state` now.
    async fn is_in_state(&self, id: Uuid, state: DeploymentState) -> Result<bool, StoreError> {
        let query = deployment::Entity::find()
            .select_only()
            .column(deployment::Column::State)
            .filter(deployment::Column::Id.eq(id.to_string()));
        let row = self.conn().query_one_raw(limited_statement(query, self.backend(), 1)).await?;
        Ok(match row {
            Some(row) => row.try_get_by_index::<String>(0)? == state.as_str(),
            None => false,
        })
    }

    /// Records a usable engine answer that changed nothing else; throttled
    /// by the caller so polling does not write on every read.
    pub async fn touch_engine_contact(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError> {
        deployment::Entity::update_many()
            .col_expr(deployment::Column::LastEngineContactAt, Expr::value(truncate_to_micros(at)))
            .filter(deployment::Column::Id.eq(id.to_string()))
            .exec(&self.writer().await)
            .await?;
        Ok(())
    }

    pub async fn append_timeline(&self, id: Uuid, event: &TimelineEvent) -> Result<(), StoreError> {
        timeline_event::Entity::insert(timeline_row(id, event)).exec(&self.writer().await).await?;
        Ok(())
    }

    /// Every in-flight record (stale sweep at startup).
    pub async fn in_flight_records(&self) -> Result<Vec<DeploymentRecord>, StoreError> {
        deployment::Entity::find()
            .filter(deployment::Column::State.is_in(DeploymentState::IN_FLIGHT.iter().map(|s| s.as_str())))
            .all(self.conn())
            .await?
            .into_iter()
            .map(DeploymentRecord::try_from)
            .collect()
    }

    /// The record holding the current success of a service+environment.
    pub async fn current_success(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        current_success_in(self.conn(), service, environment, None).await
    }

    /// The newest SUCCEEDED-state record of a service+environment created
    /// before `before` (what a rollback of the running deployment restores).
    pub async fn prior_success(
        &self,
        service: &str,
        environment: &str,
        before: DateTime<Utc>,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let query = deployment::Entity::find()
            .filter(deployment::Column::Service.eq(service))
            .filter(deployment::Column::Environment.eq(environment))
            .filter(deployment::Column::State.eq(DeploymentState::Succeeded.as_str()))
            .filter(deployment::Column::CreatedAt.lt(truncate_to_micros(before)))
            .order_by_desc(deployment::Column::CreatedAt)
            .order_by_desc(deployment::Column::Id);
        first(query, self.conn()).await?.map(DeploymentRecord::try_from).transpose()
    }

    /// The newest deployment of a service + environment, whatever its state.
    pub async fn latest_deployment(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        self.newest_of(service, environment, None).await
    }

    /// The newest PENDING, ACTIVE or IN_PROGRESS deployment of a service +
    /// environment (what a cancel button would cancel).
    pub async fn in_flight_deployment(
        &self,
        service: &str,
        environment: &str,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        self.newest_of(service, environment, Some(&DeploymentState::IN_FLIGHT)).await
    }

    /// One statement on the (service, environment, created_at) index.
    async fn newest_of(
        &self,
        service: &str,
        environment: &str,
        states: Option<&[DeploymentState]>,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        let mut query = deployment::Entity::find()
            .filter(deployment::Column::Service.eq(service))
            .filter(deployment::Column::Environment.eq(environment));
        if let Some(states) = states {
            query = query.filter(deployment::Column::State.is_in(states.iter().map(|s| s.as_str())));
        }
        let query = query.order_by_desc(deployment::Column::CreatedAt).order_by_desc(deployment::Column::Id);
        first(query, self.conn()).await?.map(DeploymentRecord::try_from).transpose()
    }

    /// Whether a deployment of (service, version) in `environment` reached
    /// SUCCEEDED and was not rolled back (a promotion's source check). The
    /// state stays SUCCEEDED when a later success supersedes the record;
    /// a successful rollback of it turns it ROLLED_BACK, and a version
    /// rolled back is not proven.
    pub async fn ever_succeeded(&self, service: &str, environment: &str, version: &str) -> Result<bool, StoreError> {
        let query = deployment::Entity::find()
            .select_only()
            .column(deployment::Column::Id)
            .filter(deployment::Column::Service.eq(service))
            .filter(deployment::Column::Environment.eq(environment))
            .filter(deployment::Column::Version.eq(version))
            .filter(deployment::Column::State.eq(DeploymentState::Succeeded.as_str()));
        let row = self.conn().query_one_raw(limited_statement(query, self.backend(), 1)).await?;
        Ok(row.is_some())
    }
}

async fn current_success_in(
    conn: &impl ConnectionTrait,
    service: &str,
    environment: &str,
    except: Option<Uuid>,
) -> Result<Option<DeploymentRecord>, StoreError> {
    let mut query = deployment::Entity::find()
        .filter(deployment::Column::Outcome.eq(DeploymentOutcome::Succeeded.as_str()))
        .filter(deployment::Column::Service.eq(service))
        .filter(deployment::Column::Environment.eq(environment));
    if let Some(id) = except {
        query = query.filter(deployment::Column::Id.ne(id.to_string()));
    }
    first(query.order_by_desc(deployment::Column::CreatedAt), conn).await?.map(DeploymentRecord::try_from).transpose()
}

/// Outcome rules on a new success: every other current success of the
/// same service+environment becomes SUPERSEDED, or ROLLED_BACK when the
/// winner is a rollback of it.
async fn displace_previous_success(
    conn: &impl ConnectionTrait,
    winner_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(winner) = first(deployment::Entity::find_by_id(winner_id.to_string()), conn).await? else {
        return Ok(());
    };
    let winner = DeploymentRecord::try_from(winner)?;
    while let Some(previous) = current_success_in(conn, &winner.service, &winner.environment, Some(winner.id)).await? {
        let mut update = deployment::Entity::update_many()
            .col_expr(deployment::Column::UpdatedAt, Expr::value(at))
            .filter(deployment::Column::Id.eq(previous.id.to_string()));
        let event = match displacement(&winner, &previous) {
            Displacement::RolledBack => {
                update = update
                    .col_expr(deployment::Column::State, Expr::value(DeploymentState::RolledBack.as_str()))
                    .col_expr(deployment::Column::Outcome, Expr::value(DeploymentOutcome::RolledBack.as_str()));
                TimelineEvent {
                    key: "ROLLED_BACK".into(),
                    label: "Rolled back".into(),
                    occurred_at: at,
                    detail: Some(format!("rolled back by {}", winner.id)),
                }
            }
            Displacement::Superseded => {
                update = update
                    .col_expr(deployment::Column::Outcome, Expr::value(DeploymentOutcome::Superseded.as_str()))
                    .col_expr(deployment::Column::SupersededBy, Expr::value(winner.id.to_string()));
                TimelineEvent {
                    key: "SUPERSEDED".into(),
                    label: "Superseded".into(),
                    occurred_at: at,
                    detail: Some(format!("superseded by {}", winner.id)),
                }
            }
        };
        update.exec(conn).await?;
        timeline_event::Entity::insert(timeline_row(previous.id, &event)).exec(conn).await?;
    }
    Ok(())
}
