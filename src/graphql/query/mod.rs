//! The Query root, merged from one object per domain.

mod actions;
mod audit;
mod catalog;
mod deployment;
mod preview;
mod running_state;
mod viewer;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    deployment::DeploymentQuery,
    running_state::RunningStateQuery,
    catalog::CatalogQuery,
    audit::AuditQuery,
    preview::PreviewQuery,
    actions::ActionsQuery,
);
