//! Deployment and promotion intent inputs.

use async_graphql::{InputObject, ID};

use crate::domain::{guardrails::Intent, promotion::Promotion};

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

/// Which version to move from the environment it succeeded in to the next
/// one on the delivery group's promotion path, and why.
#[derive(InputObject)]
pub struct PromotionIntentInput {
    pub service: String,
    pub version: String,
    /// Where the version succeeded.
    pub source_environment: String,
    /// Where it goes: the next environment on the path.
    pub target_environment: String,
    /// Why: 1 to 240 characters after trimming.
    pub change_summary: String,
    /// The group's default recipe when absent.
    pub recipe_id: Option<ID>,
}

impl From<PromotionIntentInput> for Promotion {
    fn from(i: PromotionIntentInput) -> Self {
        Self {
            intent: Intent {
                service: i.service,
                version: i.version,
                environment: i.target_environment,
                change_summary: i.change_summary,
                recipe_id: i.recipe_id.map(|id| id.0),
            },
            source_environment: i.source_environment,
        }
    }
}
