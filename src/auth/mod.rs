//! Turning a bearer token into a [`Principal`]. One trait, one
//! implementation per `DXCP_AUTH` mode; the HTTP edge calls it before any
//! GraphQL parsing, so an unauthenticated request does no work.

pub mod dev_tokens;
pub mod oidc;

use crate::domain::Principal;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed authorization header")]
    Malformed,
    #[error("invalid or unknown token")]
    Invalid,
    /// An OIDC token that failed validation. The reason is for the edge's
    /// log line only: the client gets the same 401 as for any other refusal.
    #[error("token refused: {0}")]
    Rejected(oidc::Rejection),
}

#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Validates a bearer token (without the `Bearer ` prefix).
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError>;
}

/// Extracts the token from an `Authorization` header value.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(char::is_whitespace) {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_taken_from_the_header() {
        assert_eq!(bearer_token(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthError::Malformed));
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthError::Malformed));
        assert_eq!(bearer_token(Some("Bearer a b")), Err(AuthError::Malformed));
    }
}
