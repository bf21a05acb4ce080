//! Deployment history reads: keyset pages, single records, failures and
//! timelines in batches, and the running state derived from records.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{deployment, deployment_failure, timeline_event};
use sea_orm::{
    sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement, WindowStatement},
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, QueryTrait, Select, Statement,
};
use uuid::Uuid;

use super::{
    convert::{parse_enum, parse_uuid, truncate_to_micros},
    limited_statement, FixedSql, Store, StoreError,
};
use crate::domain::{
    deployment::{
        DeploymentFilter, DeploymentKind, DeploymentOutcome, DeploymentRecord, DeploymentState, EngineType, Failure,
        RollbackTarget, RunningState, TimelineEvent,
    },
    page::{Keyset, Page, PageRequest},
    state_machine::timeline_entry,
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
        if let Some(after) = &page.after {
            cond = cond.add(after_keyset(after));
        }
        let limit = page.first + 1;
        let statement = match scope {
            GroupScope::Only(groups) if groups.len() > 1 && self.backend() == DatabaseBackend::Sqlite => {
                newest_per_group(&cond, groups, limit)
            }
            _ => {
                if let Some(scoped) = scope.condition() {
                    cond = cond.add(scoped);
                }
                limited_statement(newest_first(cond), self.backend(), limit)
            }
        };
        let rows = self.conn().query_all_raw(statement).await?;
        let records = rows.iter().map(record_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(records, page.first))
    }

    pub async fn deployment(&self, id: Uuid) -> Result<Option<DeploymentRecord>, StoreError> {
        static SQL: FixedSql = FixedSql::new();
        let backend = self.backend();
        let id = id.to_string();
        let statement = SQL.statement(backend, || record_by_id(&id, backend), vec![id.clone().into()]);
        let row = self.conn().query_one_raw(statement).await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Failures of many deployments in one query, in the order observed.
    pub async fn failures_for(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Failure>>, StoreError> {
        let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let rows = deployment_failure::Entity::find()
            .filter(deployment_failure::Column::DeploymentId.is_in(keys))
            // Per deployment, in the order observed. Ordering by the index's
            // own (deployment_id, id) spares SQLite a sort of the batch.
            .order_by_asc(deployment_failure::Column::DeploymentId)
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
            .order_by_asc(timeline_event::Column::DeploymentId)
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
        static SQL: FixedSql = FixedSql::new();
        let backend = self.backend();
        let values = vec![DeploymentOutcome::Succeeded.as_str().into(), service.into(), environment.into()];
        let statement = SQL.statement(backend, || running_state_of(service, environment, backend), values);
        let row = self.conn().query_one_raw(statement).await?;
        row.as_ref().map(running_state_from_row).transpose()
    }

    /// Every current success, optionally narrowed to an environment or group.
    pub async fn running_states(
        &self,
        environment: Option<&str>,
        delivery_group_id: Option<&str>,
        scope: &GroupScope,
    ) -> Result<Vec<RunningState>, StoreError> {
        let mut query =
            select_running_states().filter(deployment::Column::Outcome.eq(DeploymentOutcome::Succeeded.as_str()));
        if let Some(env) = environment {
            query = query.filter(deployment::Column::Environment.eq(env));
        }
        if let Some(group) = delivery_group_id {
            query = query.filter(deployment::Column::DeliveryGroupId.eq(group));
        }
        if let Some(scoped) = scope.condition() {
            query = query.filter(scoped);
        }
        let query = query
            .order_by_asc(deployment::Column::Service)
            .order_by_asc(deployment::Column::Environment)
            .order_by_desc(deployment::Column::CreatedAt);
        let rows = self.conn().query_all_raw(query.build(self.backend())).await?;
        let mut states: Vec<RunningState> = Vec::with_capacity(rows.len());
        for row in &rows {
            let state = running_state_from_row(row)?;
            // Only the newest success per (service, environment) is running; the
            // outcome rules keep that to one row, this guards against races.
            let duplicate =
                states.last().is_some_and(|s| s.service == state.service && s.environment == state.environment);
            if !duplicate {
                states.push(state);
            }
        }
        Ok(states)
    }
}

impl Store {
    /// Up to `limit` versions that reached the SUCCEEDED state in a
    /// service+environment, newest first, without the running version;
    /// each with its newest SUCCEEDED-state deployment and when that
    /// deployment succeeded. Two statements whatever the history size: the
    /// targets ([`rollback_targets_of`]), then the SUCCEEDED timeline
    /// entries of at most `limit` deployments (by the timeline's
    /// `deployment_id` index). Both run on SQLite and PostgreSQL.
    pub async fn rollback_targets(
        &self,
        service: &str,
        environment: &str,
        limit: u64,
    ) -> Result<Vec<RollbackTarget>, StoreError> {
        let statement = rollback_targets_of(service, environment, self.backend(), limit);
        let rows = self.conn().query_all_raw(statement).await?;
        let newest = rows
            .iter()
            .map(|row| {
                let version: String = row.try_get_by_index(0)?;
                let id = parse_uuid(&row.try_get_by_index::<String>(1)?)?;
                let updated_at: DateTime<Utc> = row.try_get_by_index(2)?;
                Ok((version, id, updated_at))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if newest.is_empty() {
            return Ok(Vec::new());
        }
        let succeeded = self.succeeded_at(newest.iter().map(|(_, id, _)| *id)).await?;
        Ok(newest
            .into_iter()
            .map(|(version, deployment_id, updated_at)| RollbackTarget {
                succeeded_at: succeeded.get(&deployment_id).copied().unwrap_or(updated_at),
                version,
                deployment_id,
            })
            .collect())
    }

    /// When each of these deployments succeeded: the first SUCCEEDED entry
    /// of its timeline (written with the state change, in the same
    /// transaction). A record without one is absent from the map.
    async fn succeeded_at(&self, ids: impl Iterator<Item = Uuid>) -> Result<HashMap<Uuid, DateTime<Utc>>, StoreError> {
        let (key, _) = timeline_entry(DeploymentState::Succeeded);
        let rows: Vec<(String, DateTime<Utc>)> = timeline_event::Entity::find()
            .select_only()
            .column(timeline_event::Column::DeploymentId)
            .column(timeline_event::Column::OccurredAt)
            .filter(timeline_event::Column::DeploymentId.is_in(ids.map(|id| id.to_string())))
            .filter(timeline_event::Column::Key.eq(key))
            .order_by_asc(timeline_event::Column::DeploymentId)
            .order_by_asc(timeline_event::Column::Id)
            .into_tuple()
            .all(self.conn())
            .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for (id, at) in rows {
            out.entry(parse_uuid(&id)?).or_insert(at);
        }
        Ok(out)
    }
}

/// Alias of the per-version rank in [`rollback_targets_of`].
const NEWEST: &str = "newest_of_version";

/// The rollback targets of a service+environment, newest first:
///
/// ```sql
/// SELECT version, id, updated_at FROM (
///   SELECT version, id, created_at, updated_at,
///          ROW_NUMBER() OVER (PARTITION BY version ORDER BY created_at DESC, id DESC) AS newest_of_version
///   FROM deployments
///   WHERE service = ? AND environment = ? AND state = 'SUCCEEDED'
///     AND version NOT IN (SELECT version FROM deployments
///                         WHERE outcome = 'SUCCEEDED' AND service = ? AND environment = ?)
/// ) WHERE newest_of_version = 1 ORDER BY created_at DESC, id DESC LIMIT <limit>
/// ```
///
/// The database keeps one row per version (its newest SUCCEEDED-state
/// record) and the newest `limit` of those; nothing else reaches the
/// server. The outer filter reads the pair's records through
/// `idx_deployments_service_env_created`; the running version, through
/// `idx_deployments_outcome_service_env` (the current success, at most one
/// record; `version` is NOT NULL, so NOT IN is safe). Window functions need
/// SQLite 3.25 or later, which every supported sqlx bundles. `limit` is
/// written into the text, as in [`limited_statement`].
fn rollback_targets_of(service: &str, environment: &str, backend: DatabaseBackend, limit: u64) -> Statement {
    use deployment::Column;
    let running_versions = Query::select()
        .column(Column::Version)
        .from(deployment::Entity)
        .and_where(Expr::col(Column::Outcome).eq(DeploymentOutcome::Succeeded.as_str()))
        .and_where(Expr::col(Column::Service).eq(service))
        .and_where(Expr::col(Column::Environment).eq(environment))
        .to_owned();
    let newest_per_version = WindowStatement::partition_by(Column::Version)
        .order_by(Column::CreatedAt, Order::Desc)
        .order_by(Column::Id, Order::Desc)
        .to_owned();
    let ranked: SelectStatement = Query::select()
        .columns([Column::Version, Column::Id, Column::CreatedAt, Column::UpdatedAt])
        .expr_window_as(Expr::cust("ROW_NUMBER()"), newest_per_version, Alias::new(NEWEST))
        .from(deployment::Entity)
        .and_where(Expr::col(Column::Service).eq(service))
        .and_where(Expr::col(Column::Environment).eq(environment))
        .and_where(Expr::col(Column::State).eq(DeploymentState::Succeeded.as_str()))
        .and_where(Expr::col(Column::Version).not_in_subquery(running_versions))
        .to_owned();
    let query = Query::select()
        .columns([Column::Version, Column::Id, Column::UpdatedAt])
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new(NEWEST)).eq(1))
        .order_by(Column::CreatedAt, Order::Desc)
        .order_by(Column::Id, Order::Desc)
        .to_owned();
    let mut statement = backend.build(&query);
    statement.sql.push_str(" LIMIT ");
    statement.sql.push_str(&limit.to_string());
    statement
}

/// The record with this id (binds: id).
fn record_by_id(id: &str, backend: DatabaseBackend) -> Statement {
    limited_statement(select_records().filter(deployment::Column::Id.eq(id)), backend, 1)
}

/// The current success of a service + environment (binds: outcome,
/// service, environment).
fn running_state_of(service: &str, environment: &str, backend: DatabaseBackend) -> Statement {
    let query = select_running_states()
        .filter(deployment::Column::Outcome.eq(DeploymentOutcome::Succeeded.as_str()))
        .filter(deployment::Column::Service.eq(service))
        .filter(deployment::Column::Environment.eq(environment))
        .order_by_desc(deployment::Column::CreatedAt);
    limited_statement(query, backend, 1)
}

/// The columns a running state is derived from, read by position in
/// [`running_state_from_row`]: six of the record's 27 columns.
fn select_running_states() -> Select<deployment::Entity> {
    deployment::Entity::find().select_only().columns([
        deployment::Column::Id,
        deployment::Column::Service,
        deployment::Column::Environment,
        deployment::Column::Version,
        deployment::Column::Kind,
        deployment::Column::UpdatedAt,
    ])
}

fn running_state_from_row(row: &QueryResult) -> Result<RunningState, StoreError> {
    Ok(RunningState {
        deployment_id: parse_uuid(&row.try_get_by_index::<String>(0)?)?,
        service: row.try_get_by_index(1)?,
        environment: row.try_get_by_index(2)?,
        version: row.try_get_by_index(3)?,
        kind: parse_enum("kind", &row.try_get_by_index::<String>(4)?, DeploymentKind::parse)?,
        derived_at: row.try_get_by_index(5)?,
    })
}

/// Every column a `DeploymentRecord` holds (all but `policy_snapshot`),
/// in the order [`record_from_row`] reads them.
const RECORD_COLUMNS: [deployment::Column; 26] = [
    deployment::Column::Id,
    deployment::Column::Service,
    deployment::Column::Environment,
    deployment::Column::Version,
    deployment::Column::RecipeId,
    deployment::Column::RecipeRevision,
    deployment::Column::EffectiveBehaviorSummary,
    deployment::Column::State,
    deployment::Column::Kind,
    deployment::Column::Outcome,
    deployment::Column::ChangeSummary,
    deployment::Column::CreatedAt,
    deployment::Column::UpdatedAt,
    deployment::Column::DeliveryGroupId,
    deployment::Column::CreatedBy,
    deployment::Column::RollbackOf,
    deployment::Column::SupersededBy,
    deployment::Column::EngineType,
    deployment::Column::EngineExecutionId,
    deployment::Column::EngineExecutionUrl,
    deployment::Column::SpinnakerApplication,
    deployment::Column::DeployPipeline,
    deployment::Column::RollbackPipeline,
    deployment::Column::ArtifactRef,
    deployment::Column::LastEngineContactAt,
    deployment::Column::SourceEnvironment,
];

fn select_records() -> Select<deployment::Entity> {
    deployment::Entity::find().select_only().columns(RECORD_COLUMNS)
}

/// A record from a row of [`select_records`], read by position: no column
/// name is formatted or looked up per value (a history page reads 500).
/// Same checks as `DeploymentRecord::try_from(deployment::Model)`.
fn record_from_row(row: &QueryResult) -> Result<DeploymentRecord, StoreError> {
    let text = |i| row.try_get_by_index::<String>(i);
    let optional = |i| row.try_get_by_index::<Option<String>>(i);
    Ok(DeploymentRecord {
        id: parse_uuid(&text(0)?)?,
        service: text(1)?,
        environment: text(2)?,
        version: text(3)?,
        recipe_id: text(4)?,
        recipe_revision: row.try_get_by_index(5)?,
        effective_behavior_summary: text(6)?,
        state: parse_enum("state", &text(7)?, DeploymentState::parse)?,
        kind: parse_enum("kind", &text(8)?, DeploymentKind::parse)?,
        outcome: optional(9)?.map(|o| parse_enum("outcome", &o, DeploymentOutcome::parse)).transpose()?,
        change_summary: text(10)?,
        created_at: row.try_get_by_index(11)?,
        updated_at: row.try_get_by_index(12)?,
        delivery_group_id: text(13)?,
        created_by: text(14)?,
        rollback_of: optional(15)?.as_deref().map(parse_uuid).transpose()?,
        superseded_by: optional(16)?.as_deref().map(parse_uuid).transpose()?,
        engine_type: parse_enum("engine type", &text(17)?, EngineType::parse)?,
        engine_execution_id: optional(18)?,
        engine_execution_url: optional(19)?,
        spinnaker_application: text(20)?,
        deploy_pipeline: text(21)?,
        rollback_pipeline: text(22)?,
        artifact_ref: optional(23)?,
        last_engine_contact_at: row.try_get_by_index(24)?,
        source_environment: optional(25)?,
    })
}

/// Records matching `cond`, newest first (id breaks ties).
fn newest_first(cond: Condition) -> Select<deployment::Entity> {
    select_records().filter(cond).order_by_desc(deployment::Column::CreatedAt).order_by_desc(deployment::Column::Id)
}

/// SQLite: the newest `limit` records matching `cond` in any of `groups`,
/// as the newest `limit` of each group merged. Without statistics SQLite
/// answers `delivery_group_id IN (...) ORDER BY created_at DESC` by
/// sorting every record of those groups (seconds for an owner of two
/// groups at a million records); each member here reads one group's
/// index in order and stops after `limit` rows.
fn newest_per_group(cond: &Condition, groups: &[String], limit: u64) -> Statement {
    let mut groups: Vec<&String> = groups.iter().collect();
    groups.sort();
    groups.dedup();
    let mut sql = String::new();
    let mut values = Vec::new();
    for (i, group) in groups.into_iter().enumerate() {
        let member = newest_first(cond.clone().add(deployment::Column::DeliveryGroupId.eq(group.as_str())));
        let member = limited_statement(member, DatabaseBackend::Sqlite, limit);
        if i > 0 {
            sql.push_str(" UNION ALL ");
        }
        sql.push_str("SELECT * FROM (");
        sql.push_str(&member.sql);
        sql.push(')');
        values.extend(member.values.map(|v| v.0).unwrap_or_default());
    }
    sql.push_str(" ORDER BY \"created_at\" DESC, \"id\" DESC LIMIT ");
    sql.push_str(&limit.to_string());
    Statement::from_sql_and_values(DatabaseBackend::Sqlite, sql, values)
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
        let tx = self.begin_write().await?;
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
        source_environment: Set(r.source_environment.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached SQL text plus the values bound per run must be exactly
    /// what the query builder makes for those values.
    #[test]
    fn fixed_statements_bind_what_the_builder_binds() {
        for backend in [DatabaseBackend::Sqlite, DatabaseBackend::Postgres] {
            let sql = FixedSql::new();
            sql.statement(backend, || running_state_of("a", "b", backend), Vec::new());
            let values = vec![DeploymentOutcome::Succeeded.as_str().into(), "ledger".into(), "staging".into()];
            let cached = sql.statement(backend, || unreachable!(), values);
            assert_eq!(cached, running_state_of("ledger", "staging", backend));

            let sql = FixedSql::new();
            sql.statement(backend, || record_by_id("x", backend), Vec::new());
            let cached = sql.statement(backend, || unreachable!(), vec!["some-id".into()]);
            assert_eq!(cached, record_by_id("some-id", backend));
        }
    }

    /// One statement on both backends: a window per version, the running
    /// version left out by a subquery, the limit written into the text.
    #[test]
    fn rollback_targets_are_one_windowed_statement_with_a_literal_limit() {
        for backend in [DatabaseBackend::Sqlite, DatabaseBackend::Postgres] {
            let statement = rollback_targets_of("ledger", "staging", backend, 7);
            assert!(statement
                .sql
                .contains(r#"ROW_NUMBER() OVER ( PARTITION BY "version" ORDER BY "created_at" DESC, "id" DESC )"#));
            assert!(statement.sql.contains(r#""version" NOT IN (SELECT "version" FROM "deployments""#));
            assert!(statement.sql.ends_with(r#"ORDER BY "created_at" DESC, "id" DESC LIMIT 7"#), "{}", statement.sql);
            let values = statement.values.expect("bound values").0;
            assert_eq!(values.len(), 7, "service, environment, state, outcome, service, environment, rank");
        }
    }
}
