//! The execution engine behind DXCP (DESIGN §6): a trait with two
//! implementations, the Spinnaker Gate HTTP client ([`spinnaker::GateClient`])
//! and the in-process [`simulated::SimulatedEngine`].
//!
//! Engine errors are classified once, here, into [`EngineError`]; services map
//! them to client codes with [`EngineError::code`] and show engine text only
//! to admins through [`EngineError::operator_detail`].

pub mod instrumented;
pub mod simulated;
pub mod spinnaker;

use crate::domain::{deployment::EngineType, failure::redacted_excerpt, ErrorCode};

/// Longest engine text kept in an error, in characters (after redaction).
pub const OPERATOR_DETAIL_MAX_CHARS: usize = 500;

/// An execution engine that runs deploy and rollback pipelines.
///
/// `actor` is the DXCP caller on whose behalf the engine is called; it is
/// passed to the engine for attribution (`X-Spinnaker-User`).
#[async_trait::async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Which engine this is, recorded on every deployment.
    fn engine_type(&self) -> EngineType;

    /// Trigger a deploy or rollback pipeline. Sent once, never retried.
    async fn trigger(&self, request: &TriggerRequest) -> Result<TriggerAccepted, EngineError>;

    /// The current state of an execution started by [`Engine::trigger`].
    async fn execution(&self, execution_id: &str, actor: &str) -> Result<ExecutionSnapshot, EngineError>;

    /// Ask the engine to cancel an execution. Cancellation is asynchronous:
    /// read the execution until it reports [`ExecutionStatus::Canceled`].
    async fn cancel(&self, execution_id: &str, actor: &str, reason: &str) -> Result<(), EngineError>;

    /// Names of the engine applications the caller may see.
    async fn applications(&self, actor: &str) -> Result<Vec<String>, EngineError>;

    /// Pipeline configurations of one engine application.
    async fn pipelines(&self, application: &str, actor: &str) -> Result<Vec<PipelineConfig>, EngineError>;

    /// Whether the engine answers at all.
    async fn health(&self) -> Result<(), EngineError>;
}

/// Everything the engine needs to start one deploy or rollback run.
#[derive(Debug, Clone)]
pub struct TriggerRequest {
    /// The DXCP deployment record this run belongs to.
    pub deployment_id: uuid::Uuid,
    /// Engine application (frozen from the recipe revision).
    pub application: String,
    /// Deploy or rollback pipeline name (frozen from the recipe revision).
    pub pipeline: String,
    pub service: String,
    /// The version to deploy, or for a rollback the version restored.
    pub version: String,
    pub environment: String,
    /// The registered build's artifact reference (`s3://bucket/key`).
    pub artifact_ref: String,
    /// The DXCP caller; the engine attributes the run to them.
    pub actor: String,
    /// DXCP's request id, forwarded so engine logs can be correlated.
    pub request_id: Option<String>,
    pub is_rollback: bool,
    /// For a promotion: the environment the version succeeded in, passed to
    /// the pipeline as `parameters.sourceEnvironment`.
    pub source_environment: Option<String>,
}

/// The engine accepted a trigger and started (or queued) an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerAccepted {
    /// The engine's execution id (for Gate, the id at the end of `ref`).
    pub execution_id: String,
    /// Where a human can look at the execution; contains `execution_id`.
    pub execution_url: String,
}

/// An execution's status, normalized from the engine's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionStatus {
    /// Accepted but not started yet (queued or buffered).
    Active,
    /// Running, paused or waiting.
    InProgress,
    Succeeded,
    Failed,
    Canceled,
    /// A status DXCP does not know; it must change nothing.
    Unknown(String),
}

impl ExecutionStatus {
    /// True for the statuses after which the execution never changes again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, ExecutionStatus::Succeeded | ExecutionStatus::Failed | ExecutionStatus::Canceled)
    }
}

/// What the engine said about an execution at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSnapshot {
    pub status: ExecutionStatus,
    /// The engine's own status word, for operators and logs.
    pub raw_status: String,
    /// Failure text in Deck's precedence: stage exception errors (or the
    /// short error), then task exceptions, then clouddriver (`kato.tasks`)
    /// exception messages, then the execution's cancellation reason.
    /// Not redacted; normalize it with `domain::failure::normalize`.
    pub failure_messages: Vec<String>,
    /// `type:name` of the first top-level halting stage, if any.
    pub failed_stage: Option<String>,
}

/// One pipeline configuration of an engine application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    pub id: Option<String>,
    pub name: String,
    /// A disabled pipeline cannot be triggered.
    pub disabled: bool,
}

/// Why an engine call failed, classified from the HTTP status or the
/// transport error kind only (never from message text).
///
/// `detail` fields hold redacted, truncated engine text for operators; they
/// never reach non-admin clients (see [`EngineError::operator_detail`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// 401, 403, or a redirect (Gate's OAuth login redirect means DXCP's
    /// credentials are missing or wrong).
    #[error("engine refused our credentials (HTTP {status})")]
    Unauthorized { status: u16, detail: String },
    /// Any other 4xx, an answer without the expected content (a 2xx trigger
    /// without `ref`, an empty or non-JSON body), or a client misconfiguration
    /// found before anything was sent (`status` is then `None`).
    #[error("engine rejected the call (HTTP {status:?})")]
    CallFailed { status: Option<u16>, detail: String },
    /// 5xx, connection refused or reset, DNS and other transport failures.
    #[error("engine unavailable")]
    Unavailable { detail: String },
    /// No answer within the configured deadline.
    #[error("engine call timed out")]
    Timeout,
    /// The execution does not exist (404 on reading it).
    #[error("execution not found")]
    NotFound { detail: String },
}

impl EngineError {
    /// The client-facing code (DESIGN §10 "Engine call errors").
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::Unauthorized { .. } => ErrorCode::EngineUnauthorized,
            EngineError::CallFailed { .. } | EngineError::NotFound { .. } => ErrorCode::EngineCallFailed,
            EngineError::Unavailable { .. } => ErrorCode::EngineUnavailable,
            EngineError::Timeout => ErrorCode::EngineTimeout,
        }
    }

    /// The error and the engine's answer (status and redacted body, at most
    /// [`OPERATOR_DETAIL_MAX_CHARS`] characters of it), for admins only.
    pub fn operator_detail(&self) -> String {
        let (head, detail) = match self {
            EngineError::Unauthorized { status, detail } | EngineError::CallFailed { status: Some(status), detail } => {
                (format!("HTTP {status}"), detail)
            }
            EngineError::CallFailed { status: None, detail } => ("not sent".to_owned(), detail),
            EngineError::Unavailable { detail } => ("unavailable".to_owned(), detail),
            EngineError::NotFound { detail } => ("HTTP 404".to_owned(), detail),
            EngineError::Timeout => return "no answer within the engine timeout".to_owned(),
        };
        let detail = redacted_excerpt(detail, OPERATOR_DETAIL_MAX_CHARS);
        if detail.is_empty() {
            head
        } else {
            format!("{head}: {detail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_error_maps_to_its_client_code() {
        let cases = [
            (EngineError::Unauthorized { status: 302, detail: String::new() }, ErrorCode::EngineUnauthorized),
            (EngineError::CallFailed { status: Some(400), detail: String::new() }, ErrorCode::EngineCallFailed),
            (EngineError::Unavailable { detail: String::new() }, ErrorCode::EngineUnavailable),
            (EngineError::Timeout, ErrorCode::EngineTimeout),
            (EngineError::NotFound { detail: String::new() }, ErrorCode::EngineCallFailed),
        ];
        for (error, code) in cases {
            assert_eq!(error.code(), code, "{error:?}");
        }
    }

    #[test]
    fn operator_detail_shows_the_status_and_a_redacted_truncated_body() {
        let body = format!("token=abc123 {}", "x".repeat(2000));
        let error = EngineError::Unavailable { detail: format!("HTTP 503: {body}") };
        let detail = error.operator_detail();
        assert!(detail.starts_with("unavailable: HTTP 503: token=[REDACTED] x"));
        assert!(!detail.contains("abc123"));
        assert!(detail.chars().count() <= OPERATOR_DETAIL_MAX_CHARS + "unavailable: ".len());

        let error = EngineError::Unauthorized { status: 401, detail: "Authorization: Bearer leaked".to_owned() };
        assert_eq!(error.operator_detail(), "HTTP 401: Authorization: [REDACTED]");
        assert_eq!(EngineError::Timeout.operator_detail(), "no answer within the engine timeout");
    }

    #[test]
    fn both_engines_can_be_shared_as_trait_objects() {
        use std::sync::Arc;
        use std::time::Duration;

        let simulated: Arc<dyn Engine> = Arc::new(simulated::SimulatedEngine::new(Duration::from_secs(2)));
        let gate: Arc<dyn Engine> = Arc::new(
            spinnaker::GateClient::new(spinnaker::GateConfig {
                base_url: "https://gate.example.com".to_owned(),
                timeout: Duration::from_secs(5),
                bearer_token: None,
                extra_header: None,
                client_identity_pem: None,
                ui_base_url: None,
            })
            .unwrap(),
        );
        assert_eq!(simulated.engine_type(), EngineType::Simulated);
        assert_eq!(gate.engine_type(), EngineType::Spinnaker);
    }

    #[test]
    fn only_succeeded_failed_and_canceled_are_terminal() {
        assert!(ExecutionStatus::Succeeded.is_terminal());
        assert!(ExecutionStatus::Failed.is_terminal());
        assert!(ExecutionStatus::Canceled.is_terminal());
        assert!(!ExecutionStatus::Active.is_terminal());
        assert!(!ExecutionStatus::InProgress.is_terminal());
        assert!(!ExecutionStatus::Unknown("REDIRECT".into()).is_terminal());
    }
}
