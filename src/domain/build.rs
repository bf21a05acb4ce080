//! Rules for registered builds (DESIGN §2 Build, §10 Builds).

use super::{ids::is_valid_version, DomainError, ErrorCode};

/// Largest artifact DXCP accepts: 200 MiB.
pub const MAX_ARTIFACT_BYTES: i64 = 200 * 1024 * 1024;

/// Content types of deployable artifacts: zip, and tar.gz under either of
/// its common names.
pub const ALLOWED_CONTENT_TYPES: [&str; 3] = ["application/zip", "application/gzip", "application/x-gzip"];

/// The shape of a build's identity and artifact, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFacts<'a> {
    pub version: &'a str,
    pub artifact_ref: &'a str,
    pub sha256: &'a str,
    pub size_bytes: i64,
    pub content_type: &'a str,
}

/// Checks version and artifact facts; the first problem found is returned.
pub fn validate_artifact(facts: &ArtifactFacts<'_>) -> Result<(), DomainError> {
    if !is_valid_version(facts.version) {
        return Err(DomainError::new(
            ErrorCode::InvalidVersion,
            format!("version '{}' is not MAJOR.MINOR.PATCH with an optional -tag", facts.version),
        ));
    }
    let invalid = |message: String| Err(DomainError::new(ErrorCode::InvalidArtifact, message));
    if !is_s3_ref(facts.artifact_ref) {
        return invalid(format!("artifactRef '{}' is not s3://bucket/key", facts.artifact_ref));
    }
    if facts.sha256.len() != 64 || !facts.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return invalid("sha256 must be 64 hexadecimal characters".to_owned());
    }
    if !(1..=MAX_ARTIFACT_BYTES).contains(&facts.size_bytes) {
        return invalid(format!("sizeBytes must be between 1 and {MAX_ARTIFACT_BYTES}"));
    }
    if !ALLOWED_CONTENT_TYPES.contains(&facts.content_type) {
        return invalid(format!(
            "contentType '{}' is not one of {}",
            facts.content_type,
            ALLOWED_CONTENT_TYPES.join(", ")
        ));
    }
    Ok(())
}

/// `s3://bucket/key` with a non-empty bucket and key.
fn is_s3_ref(artifact_ref: &str) -> bool {
    artifact_ref
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(bucket, key)| !bucket.is_empty() && !key.is_empty() && !bucket.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ArtifactFacts<'static> {
        ArtifactFacts {
            version: "1.2.3",
            artifact_ref: "s3://bucket/app/1.2.3.zip",
            sha256: "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12",
            size_bytes: 1024,
            content_type: "application/zip",
        }
    }

    fn code(f: ArtifactFacts<'_>) -> Option<ErrorCode> {
        validate_artifact(&f).err().map(|e| e.code)
    }

    #[test]
    fn a_well_formed_build_is_accepted() {
        assert_eq!(code(facts()), None);
        assert_eq!(code(ArtifactFacts { content_type: "application/x-gzip", ..facts() }), None);
    }

    #[test]
    fn each_malformed_fact_has_its_code() {
        assert_eq!(code(ArtifactFacts { version: "1.2", ..facts() }), Some(ErrorCode::InvalidVersion));
        assert_eq!(code(ArtifactFacts { artifact_ref: "https://x/y", ..facts() }), Some(ErrorCode::InvalidArtifact));
        assert_eq!(code(ArtifactFacts { artifact_ref: "s3://bucket", ..facts() }), Some(ErrorCode::InvalidArtifact));
        assert_eq!(code(ArtifactFacts { sha256: "xyz", ..facts() }), Some(ErrorCode::InvalidArtifact));
        assert_eq!(code(ArtifactFacts { size_bytes: 0, ..facts() }), Some(ErrorCode::InvalidArtifact));
        assert_eq!(
            code(ArtifactFacts { size_bytes: MAX_ARTIFACT_BYTES + 1, ..facts() }),
            Some(ErrorCode::InvalidArtifact)
        );
        assert_eq!(code(ArtifactFacts { content_type: "text/plain", ..facts() }), Some(ErrorCode::InvalidArtifact));
    }
}
