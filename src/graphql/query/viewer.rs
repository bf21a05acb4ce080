use async_graphql::{Context, Object};

use crate::graphql::{context::ContextExt, types::catalog::Viewer};

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The authenticated caller and their delivery groups.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let caller = ctx.caller()?;
        let groups = ctx.services()?.viewer_groups(caller).await?;
        Ok(Viewer::new(&caller.principal, groups))
    }
}
