//! Deployment intent input.

use async_graphql::{InputObject, ID};

use crate::domain::guardrails::Intent;

/// What to deploy, where, and why. No engine fields.
#[derive(InputObject)]
pub struct DeploymentIntentInput {
    pub service: String,
    pub version: String,
    pub environment: String,
    /// Why: 1 to 240 characters after trimming.
    pub change_summary: String,
    /// The group's default recipe when absent.
    pub recipe_id: Option<ID>,
}

impl From<DeploymentIntentInput> for Intent {
    fn from(i: DeploymentIntentInput) -> Self {
        Self {
            service: i.service,
            version: i.version,
            environment: i.environment,
            change_summary: i.change_summary,
            recipe_id: i.recipe_id.map(|id| id.0),
        }
    }
}
