//! `ConfigPreview`: what `previewDeliveryGroup` and `previewRecipe` answer.

use async_graphql::{Enum, SimpleObject};

use crate::domain::admin::{Preview, Severity};

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "crate::domain::admin::Severity")]
pub enum PreviewSeverity {
    /// Legal but risky: the mutation would accept it.
    Warning,
    /// The mutation would refuse the input.
    Error,
}

/// The worst severity of a preview's messages.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum PreviewStatus {
    /// No message.
    Ok,
    Warning,
    Error,
}

/// One finding about one input field.
#[derive(SimpleObject)]
pub struct PreviewMessage {
    pub severity: PreviewSeverity,
    /// The input field, as a camelCase path (`guardrails.dailyDeployQuota`).
    pub field: String,
    pub message: String,
}

/// Every error (in the order the mutation checks them) then every warning.
#[derive(SimpleObject)]
pub struct ConfigPreview {
    pub status: PreviewStatus,
    pub messages: Vec<PreviewMessage>,
}

impl From<Preview> for ConfigPreview {
    fn from(preview: Preview) -> Self {
        let status = match preview.worst() {
            None => PreviewStatus::Ok,
            Some(Severity::Warning) => PreviewStatus::Warning,
            Some(Severity::Error) => PreviewStatus::Error,
        };
        let messages = preview
            .findings
            .into_iter()
            .map(|f| PreviewMessage { severity: f.severity.into(), field: f.field.to_owned(), message: f.message })
            .collect();
        Self { status, messages }
    }
}
