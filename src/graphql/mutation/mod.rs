//! The Mutation root, merged from one object per domain.

mod admin;
mod deployment;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Mutation(deployment::DeploymentMutation, admin::AdminMutation);
