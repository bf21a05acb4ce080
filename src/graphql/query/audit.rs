use async_graphql::{Context, Object};

use crate::graphql::{
    context::ContextExt,
    inputs::filters::AuditEventFilter,
    pagination::{connection_complexity, page_request, AuditEventConnection},
    types::{audit::AuditEvent, catalog::SystemSettings},
};

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, newest first. PLATFORM_ADMIN only. `first` is capped at 100.
    #[graphql(complexity = "connection_complexity(first.unwrap_or(50), child_complexity)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        let page = page_request(first.unwrap_or(50), after.as_deref())?;
        let filter = filter.unwrap_or_default().into();
        let events = ctx.services()?.audit_events(ctx.caller()?, &filter, &page).await?;
        Ok(AuditEventConnection::from_page(
            events,
            |e| crate::domain::page::Keyset { at: e.timestamp, id: e.id.to_string() },
            AuditEvent::from,
        ))
    }

    /// Kill switch, rate limits, build quota and CI publishers. PLATFORM_ADMIN only.
    async fn system_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<SystemSettings> {
        Ok(ctx.services()?.system_settings(ctx.caller()?).await?.into())
    }
}
