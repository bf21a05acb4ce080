//! Rules for registered builds (DESIGN §2 Build, §10 Builds).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ids::is_valid_version, ErrorCode, FieldError};

/// Largest artifact DXCP accepts: 200 MiB.
pub const MAX_ARTIFACT_BYTES: i64 = 200 * 1024 * 1024;

/// Content types of deployable artifacts: zip, and tar.gz under either of
/// its common names.
pub const ALLOWED_CONTENT_TYPES: [&str; 3] = ["application/zip", "application/gzip", "application/x-gzip"];

/// Longest CI field (`gitSha`, `gitBranch`, `ciProvider`, `ciRunId`).
pub const MAX_CI_FIELD_CHARS: usize = 256;

/// A build as CI (or the catalogue file) describes it, before it is stored.
///
/// Serialized in camelCase for idempotency fingerprints (those names must
/// never change); read from the catalogue file with its snake_case keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all(serialize = "camelCase"), deny_unknown_fields)]
pub struct BuildRegistration {
    pub service: String,
    pub version: String,
    pub artifact_ref: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
    pub git_sha: String,
    pub git_branch: String,
    pub ci_provider: String,
    pub ci_run_id: String,
    pub built_at: DateTime<Utc>,
    #[serde(default)]
    pub repo: Option<String>,
}

/// A registered build (DESIGN §2 Build): what was registered, by whom, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub registration: BuildRegistration,
    pub registered_at: DateTime<Utc>,
    pub registered_by: String,
}

impl BuildRegistration {
    /// Checks version, artifact facts and CI fields; the first problem found
    /// is returned. Whether the service is allowlisted is the caller's
    /// question: it needs the catalogue.
    pub fn validate(&self) -> Result<(), FieldError> {
        if !is_valid_version(&self.version) {
            return Err(FieldError::new(
                ErrorCode::InvalidVersion,
                "version",
                format!("version '{}' is not MAJOR.MINOR.PATCH with an optional -tag", self.version),
            ));
        }
        let invalid = |field, message: String| Err(FieldError::new(ErrorCode::InvalidArtifact, field, message));
        if !is_s3_ref(&self.artifact_ref) {
            return invalid("artifactRef", format!("artifactRef '{}' is not s3://bucket/key", self.artifact_ref));
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return invalid("sha256", "sha256 must be 64 hexadecimal characters".to_owned());
        }
        if !(1..=MAX_ARTIFACT_BYTES).contains(&self.size_bytes) {
            return invalid("sizeBytes", format!("sizeBytes must be between 1 and {MAX_ARTIFACT_BYTES}"));
        }
        if !ALLOWED_CONTENT_TYPES.contains(&self.content_type.as_str()) {
            return invalid(
                "contentType",
                format!("contentType '{}' is not one of {}", self.content_type, ALLOWED_CONTENT_TYPES.join(", ")),
            );
        }
        for (field, value) in [
            ("gitSha", &self.git_sha),
            ("gitBranch", &self.git_branch),
            ("ciProvider", &self.ci_provider),
            ("ciRunId", &self.ci_run_id),
        ] {
            if value.trim().is_empty() || value.len() > MAX_CI_FIELD_CHARS {
                return Err(FieldError::invalid(
                    field,
                    format!("{field} must be 1 to {MAX_CI_FIELD_CHARS} characters"),
                ));
            }
        }
        Ok(())
    }

    /// The stored build: registered now by `actor`, checksum in lower case.
    pub fn registered(mut self, at: DateTime<Utc>, actor: &str) -> Build {
        self.sha256.make_ascii_lowercase();
        Build { registration: self, registered_at: at, registered_by: actor.to_owned() }
    }

    /// Same build: a different sha256, gitSha or artifactRef is a conflict.
    pub fn has_same_content(&self, stored: &Build) -> bool {
        let stored = &stored.registration;
        stored.sha256.eq_ignore_ascii_case(&self.sha256)
            && stored.git_sha == self.git_sha
            && stored.artifact_ref == self.artifact_ref
    }
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

    fn build() -> BuildRegistration {
        BuildRegistration {
            service: "ledger".to_owned(),
            version: "1.2.3".to_owned(),
            artifact_ref: "s3://bucket/app/1.2.3.zip".to_owned(),
            sha256: "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12".to_owned(),
            size_bytes: 1024,
            content_type: "application/zip".to_owned(),
            git_sha: "abc123".to_owned(),
            git_branch: "main".to_owned(),
            ci_provider: "github".to_owned(),
            ci_run_id: "42".to_owned(),
            built_at: DateTime::UNIX_EPOCH,
            repo: None,
        }
    }

    fn refusal(b: BuildRegistration) -> Option<(ErrorCode, &'static str)> {
        b.validate().err().map(|e| (e.code, e.field))
    }

    #[test]
    fn a_well_formed_build_is_accepted() {
        assert_eq!(refusal(build()), None);
        assert_eq!(refusal(BuildRegistration { content_type: "application/x-gzip".to_owned(), ..build() }), None);
    }

    #[test]
    fn each_malformed_fact_has_its_code_and_field() {
        let artifact = ErrorCode::InvalidArtifact;
        let cases = [
            (BuildRegistration { version: "1.2".to_owned(), ..build() }, (ErrorCode::InvalidVersion, "version")),
            (BuildRegistration { artifact_ref: "https://x/y".to_owned(), ..build() }, (artifact, "artifactRef")),
            (BuildRegistration { artifact_ref: "s3://bucket".to_owned(), ..build() }, (artifact, "artifactRef")),
            (BuildRegistration { sha256: "xyz".to_owned(), ..build() }, (artifact, "sha256")),
            (BuildRegistration { size_bytes: 0, ..build() }, (artifact, "sizeBytes")),
            (BuildRegistration { size_bytes: MAX_ARTIFACT_BYTES + 1, ..build() }, (artifact, "sizeBytes")),
            (BuildRegistration { content_type: "text/plain".to_owned(), ..build() }, (artifact, "contentType")),
            (BuildRegistration { git_sha: " ".to_owned(), ..build() }, (ErrorCode::InvalidRequest, "gitSha")),
            (BuildRegistration { ci_run_id: "x".repeat(257), ..build() }, (ErrorCode::InvalidRequest, "ciRunId")),
        ];
        for (input, expected) in cases {
            assert_eq!(refusal(input), Some(expected));
        }
    }
}
