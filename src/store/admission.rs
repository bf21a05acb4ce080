//! The admission transaction (DESIGN §4 steps 10-11 and §5): serialized per
//! (delivery group, environment), it re-checks the idempotency key, counts
//! quota and concurrency from the records themselves, and inserts the
//! record with its timeline, audit event and idempotency key, or nothing.
//!
//! Serialization: the first statement upserts the (group, environment) row
//! of `admission_locks`. On PostgreSQL that holds a row lock until commit;
//! on SQLite the first write takes the database write lock. Either way two
//! admissions to the same (group, environment) can never both see the last
//! free slot, on one replica or many.

use chrono::{DateTime, Utc};
use entity::{admission_lock, deployment};
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{
    audit::insert_audit,
    convert::truncate_to_micros,
    deployments::{insert_bundles, RecordBundle},
    idempotency::{self, IdempotencyEntry, KeyUse, StoredKey},
    Store, StoreError,
};
use crate::domain::{
    audit::AuditEvent,
    deployment::{DeploymentKind, DeploymentState},
    guardrails::{Usage, Violation},
};

/// What to admit.
pub struct AdmissionRequest {
    pub bundle: RecordBundle,
    pub audit: AuditEvent,
    pub idempotency: IdempotencyEntry,
    /// Start of the UTC day the quota counts from.
    pub day_start: DateTime<Utc>,
}

pub enum AdmissionOutcome {
    /// The record was written; `usage` is what was counted before it.
    Admitted { usage: Usage },
    /// The key was used first by another request (same or other input).
    KeyTaken(StoredKey),
    /// Quota or concurrency refused it; nothing was written.
    Refused { violations: Vec<Violation>, usage: Usage },
}

impl Store {
    /// Runs the admission transaction. `check` sees the counted usage and
    /// returns the violations of steps 10-11 (empty to admit).
    pub async fn admit(
        &self,
        mut request: AdmissionRequest,
        check: impl FnOnce(Usage) -> Vec<Violation>,
    ) -> Result<AdmissionOutcome, StoreError> {
        let record = &request.bundle.record;
        let now = record.created_at;
        let tx = self.begin_write().await?;
        lock_group_environment(&tx, &record.delivery_group_id, &record.environment, now).await?;

        let expired_key = match idempotency::lookup(&tx, &request.idempotency, now).await? {
            KeyUse::Live(stored) => {
                tx.rollback().await?;
                return Ok(AdmissionOutcome::KeyTaken(stored));
            }
            KeyUse::Expired => true,
            KeyUse::Unused => false,
        };
        let usage =
            usage_in(&tx, &record.delivery_group_id, &record.environment, record.kind, request.day_start).await?;
        let violations = check(usage);
        if !violations.is_empty() {
            tx.rollback().await?;
            return Ok(AdmissionOutcome::Refused { violations, usage });
        }

        if let Some(snapshot) = request.bundle.policy_snapshot.as_object_mut() {
            snapshot.insert("usedToday".into(), usage.created_today.into());
            snapshot.insert("inFlight".into(), usage.in_flight.into());
        }
        if expired_key {
            idempotency::purge_expired(&tx, &request.idempotency, now).await?;
        }
        insert_bundles(&tx, std::slice::from_ref(&request.bundle)).await?;
        insert_audit(&tx, &request.audit).await?;
        idempotency::insert(&tx, &request.idempotency, &request.bundle.record.id.to_string(), now).await?;
        tx.commit().await?;
        Ok(AdmissionOutcome::Admitted { usage })
    }

    /// Quota and concurrency usage of a (group, environment), outside any
    /// lock: for previews (`validateDeployment`), never for admission.
    pub async fn usage(
        &self,
        group_id: &str,
        environment: &str,
        kind: DeploymentKind,
        day_start: DateTime<Utc>,
    ) -> Result<Usage, StoreError> {
        usage_in(self.conn(), group_id, environment, kind, day_start).await
    }

    /// Ids of in-flight records of a (group, environment).
    pub async fn in_flight_ids(&self, group_id: &str, environment: &str) -> Result<Vec<Uuid>, StoreError> {
        use sea_orm::QuerySelect;
        let ids: Vec<String> = deployment::Entity::find()
            .select_only()
            .column(deployment::Column::Id)
            .filter(deployment::Column::DeliveryGroupId.eq(group_id))
            .filter(deployment::Column::Environment.eq(environment))
            .filter(deployment::Column::State.is_in(in_flight_states()))
            .into_tuple()
            .all(self.conn())
            .await?;
        ids.iter().map(|id| super::convert::parse_uuid(id)).collect()
    }
}

impl Store {
    /// In-flight records per (group, environment), for the metrics gauge.
    pub async fn in_flight_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        use sea_orm::{
            sea_query::{Expr, ExprTrait},
            QuerySelect,
        };
        Ok(deployment::Entity::find()
            .select_only()
            .column(deployment::Column::DeliveryGroupId)
            .column(deployment::Column::Environment)
            .column_as(Expr::col(deployment::Column::Id).count(), "in_flight")
            .filter(deployment::Column::State.is_in(in_flight_states()))
            .group_by(deployment::Column::DeliveryGroupId)
            .group_by(deployment::Column::Environment)
            .into_tuple()
            .all(self.conn())
            .await?)
    }
}

fn in_flight_states() -> Vec<&'static str> {
    DeploymentState::IN_FLIGHT.iter().map(|s| s.as_str()).collect()
}

async fn lock_group_environment(
    conn: &impl ConnectionTrait,
    group_id: &str,
    environment: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    admission_lock::Entity::insert(admission_lock::ActiveModel {
        delivery_group_id: Set(group_id.to_owned()),
        environment: Set(environment.to_owned()),
        locked_at: Set(truncate_to_micros(now)),
    })
    .on_conflict(
        OnConflict::columns([admission_lock::Column::DeliveryGroupId, admission_lock::Column::Environment])
            .update_column(admission_lock::Column::LockedAt)
            .to_owned(),
    )
    .exec(conn)
    .await?;
    Ok(())
}

/// Quota and concurrency usage in one statement: two counts, each a
/// subquery served by its own index (a usage check runs on every deploy,
/// rollback and preview; a statement costs more than either count).
async fn usage_in(
    conn: &impl ConnectionTrait,
    group_id: &str,
    environment: &str,
    kind: DeploymentKind,
    day_start: DateTime<Utc>,
) -> Result<Usage, StoreError> {
    use sea_orm::{
        sea_query::{Alias, Asterisk, Expr, ExprTrait, Query, SelectStatement},
        QuerySelect, QueryTrait,
    };
    let count = |select: sea_orm::Select<deployment::Entity>| -> SelectStatement {
        select
            .select_only()
            // COUNT(*), not COUNT(id): the index answers it without
            // reading a single record.
            .column_as(Expr::col(Asterisk).count(), "n")
            .filter(deployment::Column::DeliveryGroupId.eq(group_id))
            .filter(deployment::Column::Environment.eq(environment))
            .into_query()
    };
    let created_today = count(
        deployment::Entity::find()
            .filter(deployment::Column::Kind.is_in(kind.sharing_quota().iter().map(|k| k.as_str())))
            .filter(deployment::Column::CreatedAt.gte(truncate_to_micros(day_start))),
    );
    let in_flight = count(deployment::Entity::find().filter(deployment::Column::State.is_in(in_flight_states())));
    let query = Query::select()
        .expr_as(Expr::SubQuery(None, Box::new(created_today.into())), Alias::new("created_today"))
        .expr_as(Expr::SubQuery(None, Box::new(in_flight.into())), Alias::new("in_flight"))
        .to_owned();
    let row = conn.query_one_raw(conn.get_database_backend().build(&query)).await?;
    let row = row.ok_or_else(|| StoreError::Other("the usage query returned no row".into()))?;
    Ok(Usage { created_today: row.try_get("", "created_today")?, in_flight: row.try_get("", "in_flight")? })
}
