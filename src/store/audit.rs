//! The append-only audit log: inserts (inside the caller's transaction when
//! there is one) and keyset pages. Nothing here updates or deletes.

use entity::audit_event;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    convert::{truncate_to_micros, StoredFieldChange},
    limited, Store, StoreError,
};
use crate::domain::{
    audit::{AuditEvent, AuditFilter},
    page::{Page, PageRequest},
};

impl Store {
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        insert_audit(&self.writer().await, event).await
    }

    pub async fn audit_page(&self, filter: &AuditFilter, page: &PageRequest) -> Result<Page<AuditEvent>, StoreError> {
        let mut cond = Condition::all();
        if let Some(v) = &filter.event_type {
            cond = cond.add(audit_event::Column::EventType.eq(v));
        }
        if let Some(v) = &filter.actor_id {
            cond = cond.add(audit_event::Column::ActorId.eq(v));
        }
        if let Some(v) = &filter.target_type {
            cond = cond.add(audit_event::Column::TargetType.eq(v));
        }
        if let Some(v) = &filter.target_id {
            cond = cond.add(audit_event::Column::TargetId.eq(v));
        }
        if let Some(v) = filter.outcome {
            cond = cond.add(audit_event::Column::Outcome.eq(v.as_str()));
        }
        if let Some(v) = &filter.delivery_group_id {
            cond = cond.add(audit_event::Column::DeliveryGroupId.eq(v));
        }
        if let Some(v) = &filter.service_name {
            cond = cond.add(audit_event::Column::ServiceName.eq(v));
        }
        if let Some(v) = filter.since {
            cond = cond.add(audit_event::Column::Timestamp.gte(truncate_to_micros(v)));
        }
        if let Some(v) = filter.until {
            cond = cond.add(audit_event::Column::Timestamp.lt(truncate_to_micros(v)));
        }
        if let Some(after) = &page.after {
            let at = truncate_to_micros(after.at);
            cond = cond.add(
                Condition::any().add(audit_event::Column::Timestamp.lt(at)).add(
                    Condition::all()
                        .add(audit_event::Column::Timestamp.eq(at))
                        .add(audit_event::Column::Id.lt(after.id.clone())),
                ),
            );
        }
        let query = audit_event::Entity::find()
            .filter(cond)
            .order_by_desc(audit_event::Column::Timestamp)
            .order_by_desc(audit_event::Column::Id);
        let rows = limited(query, self.backend(), page.first + 1).all(self.conn()).await?;
        let events = rows.into_iter().map(AuditEvent::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(events, page.first))
    }
}

/// Writes one audit event on `conn` (a pool or an open transaction).
pub(crate) async fn insert_audit(conn: &impl ConnectionTrait, event: &AuditEvent) -> Result<(), StoreError> {
    audit_event::Entity::insert(audit_row(event)?).exec(conn).await?;
    Ok(())
}

/// The row of `event`. Every audit row is built here, so this is where the
/// audit log bounds caller-supplied text (`AuditEvent::bounded`).
fn audit_row(event: &AuditEvent) -> Result<audit_event::ActiveModel, StoreError> {
    let event = &event.clone().bounded();
    let changes: Vec<StoredFieldChange> = event
        .changes
        .iter()
        .map(|c| StoredFieldChange {
            field: c.field.clone(),
            old_value: c.old_value.clone(),
            new_value: c.new_value.clone(),
        })
        .collect();
    Ok(audit_event::ActiveModel {
        id: Set(event.id.to_string()),
        event_type: Set(event.event_type.clone()),
        actor_id: Set(event.actor_id.clone()),
        actor_role: Set(event.actor_role.as_str().to_owned()),
        target_type: Set(event.target_type.clone()),
        target_id: Set(event.target_id.clone()),
        timestamp: Set(truncate_to_micros(event.timestamp)),
        outcome: Set(event.outcome.as_str().to_owned()),
        summary: Set(event.summary.clone()),
        delivery_group_id: Set(event.delivery_group_id.clone()),
        service_name: Set(event.service_name.clone()),
        environment: Set(event.environment.clone()),
        request_id: Set(event.request_id.clone()),
        changes: Set(serde_json::to_string(&changes)?),
        repeat_count: Set(event.repeat_count.max(1)),
    })
}

impl Store {
    /// Multi-row audit inserts in one transaction (history import and seeding).
    pub async fn append_audit_batch(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        for chunk in events.chunks(500) {
            let mut rows = Vec::with_capacity(chunk.len());
            for event in chunk {
                rows.push(audit_row(event)?);
            }
            audit_event::Entity::insert_many(rows).exec(&tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
