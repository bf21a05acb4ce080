//! Storage errors, classified once from SeaORM's `DbErr`.

use sea_orm::{DbErr, RuntimeErr};

use crate::domain::{DomainError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique or primary-key constraint refused a write.
    #[error("conflicting write: {0}")]
    Conflict(String),
    /// The database could not be reached or a connection could not be had.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be turned into a domain value.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) {
            return StoreError::Conflict(err.to_string());
        }
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => StoreError::Unavailable(err.to_string()),
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))
                if is_transport(e.as_ref()) =>
            {
                StoreError::Unavailable(err.to_string())
            }
            _ => StoreError::Other(err.to_string()),
        }
    }
}

fn is_transport(err: &sea_orm::sqlx::Error) -> bool {
    matches!(err, sea_orm::sqlx::Error::Io(_) | sea_orm::sqlx::Error::PoolTimedOut | sea_orm::sqlx::Error::PoolClosed)
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// Clients never see storage detail: it is logged at the edge with the
/// request id, and the client gets `INTERNAL`.
impl From<StoreError> for DomainError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "storage failure");
        DomainError::new(ErrorCode::Internal, "internal error; see the server log for this request id")
    }
}
