//! The Mutation root, merged from one object per domain.

mod admin;
mod build;
mod deployment;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Mutation(deployment::DeploymentMutation, build::BuildMutation, admin::AdminMutation);
