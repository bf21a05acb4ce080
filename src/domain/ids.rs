//! Validated names and keys: parse once at the edge, trust afterwards.

use uuid::Uuid;

use super::{DomainError, ErrorCode};

/// Longest allowed name (service, environment, group, recipe id).
pub const MAX_NAME_LEN: usize = 63;
/// Longest allowed idempotency key (DESIGN §7 conventions).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 128;

/// `^[a-z0-9][a-z0-9-]{0,62}$`: the shape of service, environment, group and
/// recipe identifiers.
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `^[0-9]+\.[0-9]+\.[0-9]+(-[A-Za-z0-9.-]+)?$`
pub fn is_valid_version(version: &str) -> bool {
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (version, None),
    };
    let mut parts = core.split('.');
    let numeric = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let core_ok = numeric(parts.next()) && numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none();
    let pre_ok =
        pre.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    core_ok && pre_ok
}

/// A validated idempotency key: 1..=128 printable characters (no control
/// characters; any script).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let printable = raw.chars().all(|c| !c.is_control());
        let length = raw.chars().count();
        if length == 0 || length > MAX_IDEMPOTENCY_KEY_LEN || !printable {
            return Err(DomainError::new(
                ErrorCode::InvalidRequest,
                "idempotencyKey must be 1 to 128 printable characters",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An idempotency key as a client sent it, parsed once at the edge. A
/// malformed key is refused with `INVALID_REQUEST` only at its step of a
/// mutation (after rate limit, role and kill switch), so the parse result
/// travels with the request instead of failing it early.
#[derive(Debug, Clone)]
pub struct KeyInput(Result<IdempotencyKey, DomainError>);

impl KeyInput {
    pub fn parse(raw: &str) -> Self {
        Self(IdempotencyKey::parse(raw))
    }

    /// The key, or the refusal of a malformed one.
    pub fn key(&self) -> Result<&IdempotencyKey, DomainError> {
        self.0.as_ref().map_err(Clone::clone)
    }
}

/// A deployment record's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeploymentId(Uuid);

impl DeploymentId {
    /// `None` unless `raw` is a UUID.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }

    pub fn uuid(self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for DeploymentId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

/// A deployment as a client named it, parsed once at the edge: the text it
/// sent (for audit targets, fingerprints and messages) and the id that text
/// is. A malformed id names no deployment, exactly like an unknown one
/// (ADR 0003): a read finds nothing, a mutation fails with `NOT_FOUND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRef {
    text: String,
    id: Option<DeploymentId>,
}

impl DeploymentRef {
    pub fn parse(raw: &str) -> Self {
        Self { text: raw.to_owned(), id: DeploymentId::parse(raw) }
    }

    /// The id as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `None` when the text is not an id (so no deployment has it).
    pub fn id(&self) -> Option<DeploymentId> {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_lowercase_dash_pattern() {
        assert!(is_valid_name("payments-api"));
        assert!(is_valid_name("a"));
        assert!(is_valid_name(&"a".repeat(63)));
        assert!(!is_valid_name(&"a".repeat(64)));
        assert!(!is_valid_name("-payments"));
        assert!(!is_valid_name("Payments"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("pay ments"));
    }

    #[test]
    fn versions_are_semver_with_an_optional_tag() {
        assert!(is_valid_version("1.2.3"));
        assert!(is_valid_version("10.0.0-rc.1"));
        assert!(is_valid_version("1.2.0-fail"));
        assert!(!is_valid_version("1.2"));
        assert!(!is_valid_version("1.2.3.4"));
        assert!(!is_valid_version("v1.2.3"));
        assert!(!is_valid_version("1.2.3-"));
        assert!(!is_valid_version("1.2.3-bad_tag"));
    }

    #[test]
    fn idempotency_keys_are_bounded_and_printable() {
        assert!(IdempotencyKey::parse("k-1").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(128)).is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(129)).is_err());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("clé-1").is_ok());
    }

    #[test]
    fn a_malformed_deployment_id_keeps_its_text_and_names_no_deployment() {
        let id = Uuid::now_v7();
        assert_eq!(DeploymentRef::parse(&id.to_string()).id(), Some(DeploymentId::from(id)));
        let malformed = DeploymentRef::parse("not-a-uuid");
        assert_eq!(malformed.id(), None);
        assert_eq!(malformed.as_str(), "not-a-uuid");
        assert_eq!(DeploymentRef::parse("").id(), None);
    }
}
