//! Deployment history reads: keyset pages, single records, failures and
//! timelines in batches, and the running state derived from records.

use std::collections::HashMap;

use entity::{deployment, deployment_failure, timeline_event};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{convert::truncate_to_micros, Store, StoreError};
use crate::domain::{
    deployment::{DeploymentFilter, DeploymentOutcome, DeploymentRecord, Failure, RunningState, TimelineEvent},
    page::{Keyset, Page, PageRequest},
};

/// Which delivery groups a caller may see: every group, or only these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupScope {
    All,
    Only(Vec<String>),
}

impl GroupScope {
    fn condition(&self) -> Option<Condition> {
        match self {
            GroupScope::All => None,
            GroupScope::Only(groups) => {
                Some(Condition::all().add(deployment::Column::DeliveryGroupId.is_in(groups.clone())))
            }
        }
    }
}

impl Store {
    /// A page of history, newest first, with every filter applied in SQL.
    pub async fn deployments_page(
        &self,
        filter: &DeploymentFilter,
        scope: &GroupScope,
        page: &PageRequest,
    ) -> Result<Page<DeploymentRecord>, StoreError> {
        let mut cond = Condition::all();
        if let Some(v) = &filter.service {
            cond = cond.add(deployment::Column::Service.eq(v));
        }
        if let Some(v) = &filter.environment {
            cond = cond.add(deployment::Column::Environment.eq(v));
        }
        if let Some(v) = filter.state {
            cond = cond.add(deployment::Column::State.eq(v.as_str()));
        }
        if let Some(v) = filter.outcome {
            cond = cond.add(deployment::Column::Outcome.eq(v.as_str()));
        }
        if let Some(v) = filter.kind {
            cond = cond.add(deployment::Column::Kind.eq(v.as_str()));
        }
        if let Some(v) = &filter.delivery_group_id {
            cond = cond.add(deployment::Column::DeliveryGroupId.eq(v));
        }
        if let Some(v) = filter.created_after {
            cond = cond.add(deployment::Column::CreatedAt.gt(truncate_to_micros(v)));
        }
        if let Some(v) = filter.created_before {
            cond = cond.add(deployment::Column::CreatedAt.lt(truncate_to_micros(v)));
        }
        if let Some(scoped) = scope.condition() {
            cond = cond.add(scoped);
        }
        if let Some(after) = &page.after {
            cond = cond.add(after_keyset(after));
        }
        let rows = deployment::Entity::find()
            .filter(cond)
            .order_by_desc(deployment::Column::CreatedAt)
            .order_by_desc(deployment::Column::Id)
            .limit(page.first + 1)
            .all(self.conn())
            .await?;
        let records = rows.into_iter().map(DeploymentRecord::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(records, page.first))
    }

    pub async fn deployment(&self, id: Uuid) -> Result<Option<DeploymentRecord>, StoreError> {
        deployment::Entity::find_by_id(id.to_string())
            .one(self.conn())
            .await?
            .map(DeploymentRecord::try_from)
            .transpose()
    }

    /// Failures of many deployments in one query, in the order observed.
    pub async fn failures_for(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Failure>>, StoreError> {
        let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let rows = deployment_failure::Entity::find()
            .filter(deployment_failure::Column::DeploymentId.is_in(keys))
            .order_by_asc(deployment_failure::Column::Id)
            .all(self.conn())
            .await?;
        let mut out: HashMap<Uuid, Vec<Failure>> = HashMap::new();
        for row in rows {
            let id = super::convert::parse_uuid(&row.deployment_id)?;
            out.entry(id).or_default().push(Failure::try_from(row)?);
        }
        Ok(out)
    }

    /// Timelines of many deployments in one query, oldest event first.
    pub async fn timelines_for(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<TimelineEvent>>, StoreError> {
        let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let rows = timeline_event::Entity::find()
            .filter(timeline_event::Column::DeploymentId.is_in(keys))
            .order_by_asc(timeline_event::Column::Id)
            .all(self.conn())
            .await?;
        let mut out: HashMap<Uuid, Vec<TimelineEvent>> = HashMap::new();
        for row in rows {
            let id = super::convert::parse_uuid(&row.deployment_id)?;
            out.entry(id).or_default().push(TimelineEvent::from(row));
        }
        Ok(out)
    }

    /// The current success of a service in an environment, if any.
    pub async fn running_state(&self, service: &str, environment: &str) -> Result<Option<RunningState>, StoreError> {
        let row = deployment::Entity::find()
            .filter(deployment::Column::Outcome.eq(DeploymentOutcome::Succeeded.as_str()))
            .filter(deployment::Column::Service.eq(service))
            .filter(deployment::Column::Environment.eq(environment))
            .order_by_desc(deployment::Column::CreatedAt)
            .one(self.conn())
            .await?;
        row.map(|m| DeploymentRecord::try_from(m).map(|r| running_state_of(&r))).transpose()
    }

    /// Every current success, optionally narrowed to an environment or group.
    pub async fn running_states(
        &self,
        environment: Option<&str>,
        delivery_group_id: Option<&str>,
        scope: &GroupScope,
    ) -> Result<Vec<RunningState>, StoreError> {
        let mut query =
            deployment::Entity::find().filter(deployment::Column::Outcome.eq(DeploymentOutcome::Succeeded.as_str()));
        if let Some(env) = environment {
            query = query.filter(deployment::Column::Environment.eq(env));
        }
        if let Some(group) = delivery_group_id {
            query = query.filter(deployment::Column::DeliveryGroupId.eq(group));
        }
        if let Some(scoped) = scope.condition() {
            query = query.filter(scoped);
        }
        let rows = query
            .order_by_asc(deployment::Column::Service)
            .order_by_asc(deployment::Column::Environment)
            .order_by_desc(deployment::Column::CreatedAt)
            .all(self.conn())
            .await?;
        let mut states: Vec<RunningState> = Vec::with_capacity(rows.len());
        for row in rows {
            let record = DeploymentRecord::try_from(row)?;
            // Only the newest success per (service, environment) is running; the
            // outcome rules keep that to one row, this guards against races.
            let duplicate =
                states.last().is_some_and(|s| s.service == record.service && s.environment == record.environment);
            if !duplicate {
                states.push(running_state_of(&record));
            }
        }
        Ok(states)
    }
}

fn running_state_of(record: &DeploymentRecord) -> RunningState {
    RunningState {
        service: record.service.clone(),
        environment: record.environment.clone(),
        version: record.version.clone(),
        deployment_id: record.id,
        kind: record.kind,
        derived_at: record.updated_at,
    }
}

/// `(created_at, id) < (at, id)` written out, since row-value comparison is
/// not portable through the query builder.
fn after_keyset(after: &Keyset) -> Condition {
    let at = truncate_to_micros(after.at);
    Condition::any().add(deployment::Column::CreatedAt.lt(at)).add(
        Condition::all().add(deployment::Column::CreatedAt.eq(at)).add(deployment::Column::Id.lt(after.id.clone())),
    )
}

/// A record with what is written alongside it.
#[derive(Debug, Clone)]
pub struct RecordBundle {
    pub record: DeploymentRecord,
    /// Limits and usage seen at submit (JSON object).
    pub policy_snapshot: serde_json::Value,
    pub failures: Vec<Failure>,
    pub timeline: Vec<TimelineEvent>,
}

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind
/// parameter limits for the widest table (26 columns).
const INSERT_CHUNK: usize = 500;

impl Store {
    /// Writes finished history in one transaction with multi-row inserts
    /// (history import, seeding and tests). Live deployments go through the
    /// admission transaction instead.
    pub async fn insert_history(&self, bundles: &[RecordBundle]) -> Result<(), StoreError> {
        use sea_orm::TransactionTrait;
        let tx = self.conn().begin().await?;
        insert_bundles(&tx, bundles).await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(crate) async fn insert_bundles(
    conn: &impl sea_orm::ConnectionTrait,
    bundles: &[RecordBundle],
) -> Result<(), StoreError> {
    for chunk in bundles.chunks(INSERT_CHUNK) {
        deployment::Entity::insert_many(chunk.iter().map(|b| record_row(&b.record, &b.policy_snapshot)))
            .exec(conn)
            .await?;
        let failures: Vec<_> =
            chunk.iter().flat_map(|b| b.failures.iter().map(move |f| failure_row(b.record.id, f))).collect();
        for rows in failures.chunks(INSERT_CHUNK) {
            deployment_failure::Entity::insert_many(rows.to_vec()).exec(conn).await?;
        }
        let events: Vec<_> =
            chunk.iter().flat_map(|b| b.timeline.iter().map(move |e| timeline_row(b.record.id, e))).collect();
        for rows in events.chunks(INSERT_CHUNK) {
            timeline_event::Entity::insert_many(rows.to_vec()).exec(conn).await?;
        }
    }
    Ok(())
}

pub(crate) fn record_row(r: &DeploymentRecord, policy_snapshot: &serde_json::Value) -> deployment::ActiveModel {
    use sea_orm::ActiveValue::Set;
    deployment::ActiveModel {
        id: Set(r.id.to_string()),
        service: Set(r.service.clone()),
        environment: Set(r.environment.clone()),
        version: Set(r.version.clone()),
        recipe_id: Set(r.recipe_id.clone()),
        recipe_revision: Set(r.recipe_revision),
        effective_behavior_summary: Set(r.effective_behavior_summary.clone()),
        state: Set(r.state.as_str().to_owned()),
        kind: Set(r.kind.as_str().to_owned()),
        outcome: Set(r.outcome.map(|o| o.as_str().to_owned())),
        change_summary: Set(r.change_summary.clone()),
        created_at: Set(truncate_to_micros(r.created_at)),
        updated_at: Set(truncate_to_micros(r.updated_at)),
        delivery_group_id: Set(r.delivery_group_id.clone()),
        created_by: Set(r.created_by.clone()),
        rollback_of: Set(r.rollback_of.map(|id| id.to_string())),
        superseded_by: Set(r.superseded_by.map(|id| id.to_string())),
        engine_type: Set(r.engine_type.as_str().to_owned()),
        engine_execution_id: Set(r.engine_execution_id.clone()),
        engine_execution_url: Set(r.engine_execution_url.clone()),
        spinnaker_application: Set(r.spinnaker_application.clone()),
        deploy_pipeline: Set(r.deploy_pipeline.clone()),
        rollback_pipeline: Set(r.rollback_pipeline.clone()),
        artifact_ref: Set(r.artifact_ref.clone()),
        policy_snapshot: Set(policy_snapshot.to_string()),
        last_engine_contact_at: Set(r.last_engine_contact_at.map(truncate_to_micros)),
    }
}

pub(crate) fn failure_row(id: Uuid, f: &Failure) -> deployment_failure::ActiveModel {
    use sea_orm::ActiveValue::{NotSet, Set};
    deployment_failure::ActiveModel {
        id: NotSet,
        deployment_id: Set(id.to_string()),
        category: Set(f.category.as_str().to_owned()),
        summary: Set(f.summary.clone()),
        detail: Set(f.detail.clone()),
        action_hint: Set(f.action_hint.clone()),
        observed_at: Set(truncate_to_micros(f.observed_at)),
    }
}

pub(crate) fn timeline_row(id: Uuid, e: &TimelineEvent) -> timeline_event::ActiveModel {
    use sea_orm::ActiveValue::{NotSet, Set};
    timeline_event::ActiveModel {
        id: NotSet,
        deployment_id: Set(id.to_string()),
        key: Set(e.key.clone()),
        label: Set(e.label.clone()),
        occurred_at: Set(truncate_to_micros(e.occurred_at)),
        detail: Set(e.detail.clone()),
    }
}
