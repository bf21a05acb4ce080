//! Idempotency keys: (actor, mutation, key) -> the fingerprint of the
//! normalized input and what the first request produced. Kept 24 h.

use chrono::{DateTime, Duration, Utc};
use entity::idempotency_key;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{convert::truncate_to_micros, first, Store, StoreError};

/// How long a key protects against re-execution.
pub const IDEMPOTENCY_TTL_HOURS: i64 = 24;

/// A key as the caller sent it, with the fingerprint of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyEntry {
    pub actor_id: String,
    pub mutation: String,
    pub key: String,
    /// Canonical JSON of the normalized input: a replay must match it.
    pub fingerprint: String,
}

/// A key already used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub fingerprint: String,
    pub result_id: Option<String>,
}

impl Store {
    /// The live (unexpired) use of a key, if any.
    pub async fn find_idempotency(
        &self,
        entry: &IdempotencyEntry,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredKey>, StoreError> {
        find(self.conn(), entry, now).await
    }

    /// Records a key for a mutation that wrote no deployment record (cancel):
    /// `false` when a concurrent request recorded it first.
    pub async fn remember_idempotency(
        &self,
        entry: &IdempotencyEntry,
        result_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let writer = self.writer().await;
        purge_expired(&writer, entry, now).await?;
        match insert(&writer, entry, result_id, now).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

/// What the table holds for a key.
pub(crate) enum KeyUse {
    Unused,
    /// Used more than the TTL ago: the key may be used again once the old
    /// row is purged.
    Expired,
    Live(StoredKey),
}

/// The use of a key, live or expired, in one read.
pub(crate) async fn lookup(
    conn: &impl ConnectionTrait,
    entry: &IdempotencyEntry,
    now: DateTime<Utc>,
) -> Result<KeyUse, StoreError> {
    let row = first(
        idempotency_key::Entity::find_by_id((entry.actor_id.clone(), entry.mutation.clone(), entry.key.clone())),
        conn,
    )
    .await?;
    Ok(match row {
        None => KeyUse::Unused,
        Some(r) if r.expires_at > now => {
            KeyUse::Live(StoredKey { fingerprint: r.request_hash, result_id: r.result_id })
        }
        Some(_) => KeyUse::Expired,
    })
}

pub(crate) async fn find(
    conn: &impl ConnectionTrait,
    entry: &IdempotencyEntry,
    now: DateTime<Utc>,
) -> Result<Option<StoredKey>, StoreError> {
    Ok(match lookup(conn, entry, now).await? {
        KeyUse::Live(stored) => Some(stored),
        KeyUse::Unused | KeyUse::Expired => None,
    })
}

/// Deletes this key's expired row so the key can be used again.
pub(crate) async fn purge_expired(
    conn: &impl ConnectionTrait,
    entry: &IdempotencyEntry,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ActorId.eq(&entry.actor_id))
        .filter(idempotency_key::Column::Mutation.eq(&entry.mutation))
        .filter(idempotency_key::Column::Key.eq(&entry.key))
        .filter(idempotency_key::Column::ExpiresAt.lte(truncate_to_micros(now)))
        .exec(conn)
        .await?;
    Ok(())
}

pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    entry: &IdempotencyEntry,
    result_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    idempotency_key::Entity::insert(idempotency_key::ActiveModel {
        actor_id: Set(entry.actor_id.clone()),
        mutation: Set(entry.mutation.clone()),
        key: Set(entry.key.clone()),
        request_hash: Set(entry.fingerprint.clone()),
        status: Set("COMPLETED".to_owned()),
        result_id: Set(Some(result_id.to_owned())),
        created_at: Set(truncate_to_micros(now)),
        expires_at: Set(truncate_to_micros(now + Duration::hours(IDEMPOTENCY_TTL_HOURS))),
    })
    .exec(conn)
    .await?;
    Ok(())
}
