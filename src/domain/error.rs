//! The one list of error codes DXCP returns to clients (DESIGN §4, §6, §7).
//!
//! Every refusal and failure is a [`DomainError`] carrying an [`ErrorCode`]; the
//! GraphQL edge turns it into `extensions.code` in exactly one place. Adding a
//! variant fails to compile until `as_str` names it.

use std::fmt;

use super::bounded::{clip, clip_owned, MAX_ID_CHARS, MAX_TEXT_CHARS};

/// A machine-readable error code, rendered SCREAMING_SNAKE in `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthorized,
    RoleForbidden,
    MutationsDisabled,
    RateLimited,
    IdempotencyConflict,
    IdempotencyInProgress,
    InvalidRequest,
    InvalidVersion,
    InvalidEnvironment,
    InvalidArtifact,
    ServiceNotAllowlisted,
    ServiceNotInDeliveryGroup,
    DeliveryGroupScopeRequired,
    EnvironmentNotAllowed,
    EnvironmentDisabled,
    RecipeNotAllowed,
    RecipeNotFound,
    RecipeDeprecated,
    RecipeIncompatible,
    VersionNotFound,
    RollbackOfRollback,
    RollbackTargetNotCurrent,
    NoPriorSuccessfulVersion,
    QuotaExceeded,
    ConcurrencyLimitReached,
    EngineUnavailable,
    EngineTimeout,
    EngineUnauthorized,
    EngineCallFailed,
    DeploymentNotCancelable,
    CiOnly,
    BuildRegistrationConflict,
    PromotionSameEnvironment,
    PromotionPathNotAllowed,
    PromotionVersionIneligible,
    PromotionAtHighestEnvironment,
    PromotionNoSuccessfulVersion,
    PromotionSourceNotOnPath,
    NothingInFlight,
    NotFound,
    Timeout,
    /// A connection or subscription cap of the edge.
    LimitExceeded,
    Internal,
}

impl ErrorCode {
    /// The wire form used in `extensions.code` and in audit summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::RoleForbidden => "ROLE_FORBIDDEN",
            ErrorCode::MutationsDisabled => "MUTATIONS_DISABLED",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            ErrorCode::IdempotencyInProgress => "IDEMPOTENCY_IN_PROGRESS",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::InvalidVersion => "INVALID_VERSION",
            ErrorCode::InvalidEnvironment => "INVALID_ENVIRONMENT",
            ErrorCode::InvalidArtifact => "INVALID_ARTIFACT",
            ErrorCode::ServiceNotAllowlisted => "SERVICE_NOT_ALLOWLISTED",
            ErrorCode::ServiceNotInDeliveryGroup => "SERVICE_NOT_IN_DELIVERY_GROUP",
            ErrorCode::DeliveryGroupScopeRequired => "DELIVERY_GROUP_SCOPE_REQUIRED",
            ErrorCode::EnvironmentNotAllowed => "ENVIRONMENT_NOT_ALLOWED",
            ErrorCode::EnvironmentDisabled => "ENVIRONMENT_DISABLED",
            ErrorCode::RecipeNotAllowed => "RECIPE_NOT_ALLOWED",
            ErrorCode::RecipeNotFound => "RECIPE_NOT_FOUND",
            ErrorCode::RecipeDeprecated => "RECIPE_DEPRECATED",
            ErrorCode::RecipeIncompatible => "RECIPE_INCOMPATIBLE",
            ErrorCode::VersionNotFound => "VERSION_NOT_FOUND",
            ErrorCode::RollbackOfRollback => "ROLLBACK_OF_ROLLBACK",
            ErrorCode::RollbackTargetNotCurrent => "ROLLBACK_TARGET_NOT_CURRENT",
            ErrorCode::NoPriorSuccessfulVersion => "NO_PRIOR_SUCCESSFUL_VERSION",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::ConcurrencyLimitReached => "CONCURRENCY_LIMIT_REACHED",
            ErrorCode::EngineUnavailable => "ENGINE_UNAVAILABLE",
            ErrorCode::EngineTimeout => "ENGINE_TIMEOUT",
            ErrorCode::EngineUnauthorized => "ENGINE_UNAUTHORIZED",
            ErrorCode::EngineCallFailed => "ENGINE_CALL_FAILED",
            ErrorCode::DeploymentNotCancelable => "DEPLOYMENT_NOT_CANCELABLE",
            ErrorCode::CiOnly => "CI_ONLY",
            ErrorCode::BuildRegistrationConflict => "BUILD_REGISTRATION_CONFLICT",
            ErrorCode::PromotionSameEnvironment => "PROMOTION_SAME_ENVIRONMENT",
            ErrorCode::PromotionPathNotAllowed => "PROMOTION_PATH_NOT_ALLOWED",
            ErrorCode::PromotionVersionIneligible => "PROMOTION_VERSION_INELIGIBLE",
            ErrorCode::PromotionAtHighestEnvironment => "PROMOTION_AT_HIGHEST_ENVIRONMENT",
            ErrorCode::PromotionNoSuccessfulVersion => "PROMOTION_NO_SUCCESSFUL_VERSION",
            ErrorCode::PromotionSourceNotOnPath => "PROMOTION_SOURCE_NOT_ON_PATH",
            ErrorCode::NothingInFlight => "NOTHING_IN_FLIGHT",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal or failure with its client-facing code and message.
///
/// `operator_hint` carries detail only a PLATFORM_ADMIN may see (for example
/// the engine's answer); the edge drops it for every other role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub code: ErrorCode,
    pub message: String,
    pub operator_hint: Option<String>,
    /// Seconds the caller should wait before retrying (rate limits).
    pub retry_after_seconds: Option<u64>,
}

impl DomainError {
    /// A refusal or failure. Messages that echo caller input are bounded
    /// here (at [`MAX_TEXT_CHARS`], with a visible marker), so no path can
    /// hand a client's megabyte back to it or into the audit log.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let message = clip_owned(message.into(), MAX_TEXT_CHARS);
        Self { code, message, operator_hint: None, retry_after_seconds: None }
    }

    pub fn with_operator_hint(mut self, hint: impl Into<String>) -> Self {
        self.operator_hint = Some(hint.into());
        self
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} '{}' was not found", clip(id, MAX_ID_CHARS)))
    }

    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error; see the server log for this request id")
    }
}

/// A refusal of one input field, before it becomes a [`DomainError`]: the
/// field's wire name (a camelCase path such as
/// `guardrails.dailyDeployQuota`) and a message that names it. Validators
/// return it so every front door can say *which* field in its own terms:
/// the GraphQL edge passes the message through, the catalogue loader names
/// the entry and the file's own key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: ErrorCode,
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(code: ErrorCode, field: &'static str, message: impl Into<String>) -> Self {
        Self { code, field, message: message.into() }
    }

    /// An `INVALID_REQUEST` refusal of `field`.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, field, message)
    }
}

impl From<FieldError> for DomainError {
    fn from(error: FieldError) -> Self {
        DomainError::new(error.code, error.message)
    }
}

// DomainError deliberately implements neither `Display` nor `Error`: the
// GraphQL edge converts it with its code (graphql/error.rs), and a blanket
// `Display` conversion would silently drop that code.
