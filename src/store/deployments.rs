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
            GroupScope::Only(groups) => Some(Condition::all().add(deployment::Column::DeliveryGroupId.is_in(groups.clone()))),
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
        let mut query = deployment::Entity::find()
            .filter(deployment::Column::Outcome.eq(DeploymentOutcome::Succeeded.as_str()));
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
            let duplicate = states
                .last()
                .is_some_and(|s| s.service == record.service && s.environment == record.environment);
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
    Condition::any()
        .add(deployment::Column::CreatedAt.lt(at))
        .add(
            Condition::all()
                .add(deployment::Column::CreatedAt.eq(at))
                .add(deployment::Column::Id.lt(after.id.clone())),
        )
}
