//! The deployment record and its vocabulary (DESIGN §2).

use chrono::{DateTime, Utc};
use uuid::Uuid;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The stored and wire form (SCREAMING_SNAKE).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored form; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// The stored form, so idempotency fingerprints never depend on `Debug`.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// Lifecycle state of a deployment record.
    DeploymentState {
        Pending => "PENDING",
        Active => "ACTIVE",
        InProgress => "IN_PROGRESS",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Canceled => "CANCELED",
        RolledBack => "ROLLED_BACK",
    }
);

impl DeploymentState {
    /// States that count against a (group, environment)'s concurrency.
    pub const IN_FLIGHT: [DeploymentState; 3] =
        [DeploymentState::Pending, DeploymentState::Active, DeploymentState::InProgress];

    pub fn is_terminal(self) -> bool {
        !self.is_in_flight()
    }

    pub fn is_in_flight(self) -> bool {
        Self::IN_FLIGHT.contains(&self)
    }
}

string_enum!(
    /// The result of a finished deployment; null while in flight.
    DeploymentOutcome {
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        RolledBack => "ROLLED_BACK",
        Canceled => "CANCELED",
        Superseded => "SUPERSEDED",
    }
);

string_enum!(
    /// Whether a record rolls forward, restores an earlier version, or
    /// promotes a version that succeeded in another environment.
    DeploymentKind {
        RollForward => "ROLL_FORWARD",
        Rollback => "ROLLBACK",
        Promotion => "PROMOTION",
    }
);

impl DeploymentKind {
    /// The kinds that count against the same daily quota as this one: a
    /// promotion is a deploy into its target (DESIGN §11.1).
    pub fn sharing_quota(self) -> &'static [DeploymentKind] {
        match self {
            DeploymentKind::RollForward | DeploymentKind::Promotion => {
                &[DeploymentKind::RollForward, DeploymentKind::Promotion]
            }
            DeploymentKind::Rollback => &[DeploymentKind::Rollback],
        }
    }

    /// The audit event type of submitting a record of this kind.
    pub fn submit_event_type(self) -> &'static str {
        match self {
            DeploymentKind::RollForward => "DEPLOY_SUBMIT",
            DeploymentKind::Rollback => "ROLLBACK_SUBMIT",
            DeploymentKind::Promotion => "PROMOTION_SUBMIT",
        }
    }
}

string_enum!(
    /// Which engine ran a deployment, so a simulated run is never mistaken
    /// for a real one.
    EngineType {
        Spinnaker => "SPINNAKER",
        Simulated => "SIMULATED",
    }
);

string_enum!(
    /// Normalized failure categories (DESIGN §2 Failure).
    FailureCategory {
        Validation => "VALIDATION",
        Policy => "POLICY",
        Artifact => "ARTIFACT",
        Infrastructure => "INFRASTRUCTURE",
        Config => "CONFIG",
        App => "APP",
        Timeout => "TIMEOUT",
        Rollback => "ROLLBACK",
        Unknown => "UNKNOWN",
    }
);

/// A normalized failure attached to a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub category: FailureCategory,
    pub summary: String,
    pub detail: Option<String>,
    pub action_hint: Option<String>,
    pub observed_at: DateTime<Utc>,
}

/// One step in a deployment's history, e.g. "submitted", "engine accepted".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEvent {
    pub key: String,
    pub label: String,
    pub occurred_at: DateTime<Utc>,
    pub detail: Option<String>,
}

/// The authoritative record of one deployment, as stored.
///
/// Failures and timeline events are loaded separately (through DataLoaders
/// at the GraphQL edge) so a history page does not pay for them unless asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    pub id: Uuid,
    pub service: String,
    pub environment: String,
    pub version: String,
    pub recipe_id: String,
    pub recipe_revision: i32,
    pub effective_behavior_summary: String,
    pub state: DeploymentState,
    pub kind: DeploymentKind,
    pub outcome: Option<DeploymentOutcome>,
    pub change_summary: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivery_group_id: String,
    pub created_by: String,
    pub rollback_of: Option<Uuid>,
    pub superseded_by: Option<Uuid>,
    pub engine_type: EngineType,
    pub engine_execution_id: Option<String>,
    pub engine_execution_url: Option<String>,
    /// Engine mapping frozen at submit (application, deploy and rollback
    /// pipelines of the recipe revision used).
    pub spinnaker_application: String,
    pub deploy_pipeline: String,
    pub rollback_pipeline: String,
    pub artifact_ref: Option<String>,
    /// When the engine last gave a usable answer; drives stale detection.
    pub last_engine_contact_at: Option<DateTime<Utc>>,
    /// For a PROMOTION: the environment the version succeeded in.
    pub source_environment: Option<String>,
}

/// The running version of a service in an environment, derived from records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningState {
    pub service: String,
    pub environment: String,
    pub version: String,
    pub deployment_id: Uuid,
    pub kind: DeploymentKind,
    pub derived_at: DateTime<Utc>,
}

/// A version a service+environment can go back to (`rollbackTargets`):
/// one that reached the SUCCEEDED state there and is not the running one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackTarget {
    pub version: String,
    /// The newest SUCCEEDED-state deployment of `version` there.
    pub deployment_id: Uuid,
    /// When that deployment succeeded: its SUCCEEDED timeline entry, else
    /// (history imported without one) its last update.
    pub succeeded_at: DateTime<Utc>,
}

/// Filters of the deployment history (GraphQL `DeploymentFilter`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentFilter {
    pub service: Option<String>,
    pub environment: Option<String>,
    pub state: Option<DeploymentState>,
    pub outcome: Option<DeploymentOutcome>,
    pub kind: Option<DeploymentKind>,
    pub delivery_group_id: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_stored_form() {
        for state in [
            DeploymentState::Pending,
            DeploymentState::Active,
            DeploymentState::InProgress,
            DeploymentState::Succeeded,
            DeploymentState::Failed,
            DeploymentState::Canceled,
            DeploymentState::RolledBack,
        ] {
            assert_eq!(DeploymentState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DeploymentState::parse("RUNNING"), None);
    }

    #[test]
    fn only_pending_active_and_in_progress_are_in_flight() {
        assert!(DeploymentState::Pending.is_in_flight());
        assert!(DeploymentState::InProgress.is_in_flight());
        assert!(DeploymentState::Succeeded.is_terminal());
        assert!(DeploymentState::RolledBack.is_terminal());
    }
}
