//! Failure normalization (DESIGN §2 Failure, §6, §10 "Failure text").
//!
//! Pure rules: engine text in, a [`Failure`] out. No IO and no async; the
//! observation time is an argument so every rule is testable. Engine text is
//! redacted here, before it can be stored or shown, because it may echo
//! request headers or URLs that carry credentials.

use chrono::{DateTime, Utc};

use super::deployment::{Failure, FailureCategory};
use super::ErrorCode;

/// Longest summary, in characters; a summary is one line for lists and toasts.
pub const SUMMARY_MAX_CHARS: usize = 200;

/// Longest stored detail, in characters; engine text can be very long
/// (stack traces, clouddriver histories) and only the start is useful.
pub const DETAIL_MAX_CHARS: usize = 4000;

/// What replaces a secret in engine text.
pub const REDACTED: &str = "[REDACTED]";

/// Summary of a failure observed after a deployment stayed in flight too long.
pub const STALE_SUMMARY: &str = "no terminal status observed";

/// Keyword rules, checked in this order; the first category with a keyword
/// found anywhere in the messages or the failed stage wins. Order matters:
/// "health check timed out" is a TIMEOUT, "artifact download forbidden" an
/// ARTIFACT problem.
const CATEGORY_KEYWORDS: &[(FailureCategory, &[&str])] = &[
    (FailureCategory::Timeout, &["timeout", "timed out", "deadline exceeded"]),
    (FailureCategory::Artifact, &["artifact", "checksum", "errimagepull", "imagepullbackoff"]),
    (
        FailureCategory::Config,
        &["permission", "credential", "forbidden", "unauthorized", "access denied", "access is denied"],
    ),
    (
        FailureCategory::App,
        &[
            "health check",
            "healthcheck",
            "crash",
            "exit code",
            "exited with code",
            "oomkilled",
            "readiness probe",
            "liveness probe",
        ],
    ),
    (
        FailureCategory::Infrastructure,
        &[
            "capacity",
            "network",
            "unavailable",
            "quota",
            "connection refused",
            "connection reset",
            "bad gateway",
            "internal server error",
        ],
    ),
];

/// Normalizes an engine failure into a [`Failure`].
///
/// `messages` are the engine's failure texts in precedence order (the first is
/// the most specific), `failed_stage` the halting stage as `type:name`.
/// Categories come from case-insensitive keywords over all of them; a failed
/// rollback with no better match is `ROLLBACK`, anything else `UNKNOWN`.
pub fn normalize(
    messages: &[String],
    failed_stage: Option<&str>,
    is_rollback: bool,
    observed_at: DateTime<Utc>,
) -> Failure {
    let category = categorize(messages, failed_stage, is_rollback);
    Failure {
        category,
        summary: summary(messages, failed_stage, category),
        detail: detail(messages, failed_stage),
        action_hint: Some(action_hint(category).to_owned()),
        observed_at,
    }
}

/// The failure recorded when the engine call itself failed (trigger refused,
/// engine down, timeout), so the pipeline never reported anything.
pub fn engine_call_failure(code: ErrorCode, observed_at: DateTime<Utc>) -> Failure {
    let (summary, hint) = match code {
        ErrorCode::EngineUnavailable => (
            "The engine was unavailable, so the deployment was not started.",
            "Retry later; if it persists, a platform admin should check the engine's health.",
        ),
        ErrorCode::EngineTimeout => (
            "The engine did not answer in time; the deployment was not confirmed.",
            "Ask a platform admin to check the engine for a run of this deployment before retrying.",
        ),
        ErrorCode::EngineUnauthorized => (
            "The engine refused DXCP's credentials, so the deployment was not started.",
            "A platform admin should check DXCP's engine credentials and permissions.",
        ),
        _ => (
            "The engine rejected the deployment request.",
            "A platform admin should check the recipe's engine application and pipeline.",
        ),
    };
    Failure {
        category: FailureCategory::Infrastructure,
        summary: summary.to_owned(),
        detail: Some(format!("Engine call failed with {code}.")),
        action_hint: Some(hint.to_owned()),
        observed_at,
    }
}

/// The failure recorded when a deployment stayed in flight without a usable
/// engine answer for too long (or was left PENDING by a crash), so its
/// concurrency slot is released.
pub fn stale_failure(observed_at: DateTime<Utc>) -> Failure {
    Failure {
        category: FailureCategory::Infrastructure,
        summary: STALE_SUMMARY.to_owned(),
        detail: Some(
            "The engine gave no usable answer for longer than the stale limit, \
             so DXCP marked the deployment failed."
                .to_owned(),
        ),
        action_hint: Some("Ask a platform admin to check the engine execution before deploying again.".to_owned()),
        observed_at,
    }
}

/// Replaces credentials in free text with `[REDACTED]`.
///
/// Covers bearer tokens (`Bearer xyz`), `Authorization: ...` values,
/// `token=`/`password=`/`passwd=`/`secret=`/`api_key=` values (also with `:`
/// and in JSON, so `access_token=` and `"password": "x"` are covered) and the
/// password of a URL's user info. Matching is case-insensitive and errs
/// towards redacting too much. Applying it twice changes nothing more.
pub fn redact_secrets(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = String::with_capacity(text.len());
    // Everything before `copied` is already in `out`.
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        match find_secret(&lower, at) {
            Some(secret) => {
                // Matches start and end on ASCII bytes, so these are char boundaries.
                out.push_str(&text[copied..secret.start]);
                out.push_str(REDACTED);
                copied = secret.end;
                at = secret.end.max(at + 1);
            }
            None => at += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Redacts `text`, then cuts it to `max_chars` characters (marking the cut
/// with `…`). Redaction comes first so a cut cannot hide half a secret from
/// the patterns.
pub fn redacted_excerpt(text: &str, max_chars: usize) -> String {
    truncate_chars(&redact_secrets(text), max_chars)
}

fn categorize(messages: &[String], failed_stage: Option<&str>, is_rollback: bool) -> FailureCategory {
    let mut haystack = messages.join("\n").to_lowercase();
    if let Some(stage) = failed_stage {
        haystack.push('\n');
        haystack.push_str(&stage.to_lowercase());
    }
    let fallback = if is_rollback { FailureCategory::Rollback } else { FailureCategory::Unknown };
    CATEGORY_KEYWORDS
        .iter()
        .find(|(_, keywords)| keywords.iter().any(|keyword| haystack.contains(keyword)))
        .map_or(fallback, |(category, _)| *category)
}

fn summary(messages: &[String], failed_stage: Option<&str>, category: FailureCategory) -> String {
    let first_line = messages.iter().find_map(|message| message.lines().map(str::trim).find(|line| !line.is_empty()));
    match (first_line, failed_stage) {
        (Some(line), _) => redacted_excerpt(line, SUMMARY_MAX_CHARS),
        (None, Some(stage)) => {
            redacted_excerpt(&format!("Stage {stage} failed without an error message"), SUMMARY_MAX_CHARS)
        }
        (None, None) => default_summary(category).to_owned(),
    }
}

fn detail(messages: &[String], failed_stage: Option<&str>) -> Option<String> {
    let mut lines: Vec<&str> =
        messages.iter().map(|message| message.trim()).filter(|message| !message.is_empty()).collect();
    if lines.is_empty() {
        return None;
    }
    let stage_line = failed_stage.map(|stage| format!("Failed stage: {stage}"));
    if let Some(stage_line) = &stage_line {
        lines.push(stage_line);
    }
    Some(redacted_excerpt(&lines.join("\n"), DETAIL_MAX_CHARS))
}

fn default_summary(category: FailureCategory) -> &'static str {
    match category {
        FailureCategory::Timeout => "The deployment timed out",
        FailureCategory::Artifact => "The deployment's artifact could not be used",
        FailureCategory::Config => "The engine lacked permission or configuration",
        FailureCategory::App => "The application failed its health checks",
        FailureCategory::Infrastructure => "The platform had an infrastructure problem",
        FailureCategory::Rollback => "The rollback failed",
        FailureCategory::Validation | FailureCategory::Policy | FailureCategory::Unknown => {
            "The engine reported a failure without an error message"
        }
    }
}

fn action_hint(category: FailureCategory) -> &'static str {
    match category {
        FailureCategory::Timeout => "Check for a stuck resource or a stage that needs more time, then deploy again.",
        FailureCategory::Artifact => "Check that the build's artifact exists and matches its registered checksum.",
        FailureCategory::Config => {
            "A platform admin should check the engine's credentials and permissions for this target."
        }
        FailureCategory::App => {
            "Check the application's logs and health checks for this version; fix forward or roll back."
        }
        FailureCategory::Infrastructure => {
            "Retry later; if it persists, contact the platform team about capacity or network issues."
        }
        FailureCategory::Rollback => "Ask a platform admin to inspect the rollback's engine execution before retrying.",
        FailureCategory::Validation | FailureCategory::Policy | FailureCategory::Unknown => {
            "Ask a platform admin to inspect the engine execution for details."
        }
    }
}

fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().nth(max_chars).is_none() {
        return text.to_owned();
    }
    // One character of the budget goes to the ellipsis.
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

// ---------------------------------------------------------------------------
// Secret scanning. Works on the ASCII-lowercased text, whose byte offsets equal
// the original's, and reports the byte range of the secret value to replace.

/// Byte range of a secret value in the scanned text.
struct Secret {
    start: usize,
    end: usize,
}

/// Names whose value, after `=` or `:`, is a secret. Matched as a suffix of a
/// longer name too (`access_token`, `client_secret`, `db_password`).
const SECRET_KEYS: &[&str] = &["token", "password", "passwd", "secret", "api_key", "apikey"];

fn find_secret(lower: &str, at: usize) -> Option<Secret> {
    // Byte slices: `at` may sit inside a multi-byte character, where no
    // (ASCII) pattern can start anyway.
    let rest = &lower.as_bytes()[at..];
    if rest.starts_with(b"authorization") && starts_word(lower, at) {
        return keyed_value(lower, at + "authorization".len(), ValueEnd::Credential);
    }
    if rest.starts_with(b"bearer") && starts_word(lower, at) {
        return bearer_token(lower, at + "bearer".len());
    }
    if rest.starts_with(b"://") {
        return url_password(lower, at + "://".len());
    }
    SECRET_KEYS
        .iter()
        .find(|key| rest.starts_with(key.as_bytes()))
        .and_then(|key| keyed_value(lower, at + key.len(), ValueEnd::Word))
}

/// How far an unquoted value reaches.
#[derive(Clone, Copy)]
enum ValueEnd {
    /// One word: up to whitespace or punctuation that separates fields.
    Word,
    /// A header credential: one word, or an auth scheme and its word
    /// (`Basic dXNl...`, `Bearer abc`).
    Credential,
}

/// After a key: optional closing quote, spaces, `=` or `:`, spaces, then the
/// value (quoted or not). `None` when no separator or no value follows.
fn keyed_value(lower: &str, after_key: usize, end: ValueEnd) -> Option<Secret> {
    let bytes = lower.as_bytes();
    let mut at = after_key;
    if matches!(bytes.get(at), Some(b'"' | b'\'')) {
        at += 1;
    }
    at = skip_spaces(bytes, at);
    if !matches!(bytes.get(at), Some(b'=' | b':')) {
        return None;
    }
    at = skip_spaces(bytes, at + 1);
    value_at(bytes, at, end)
}

/// `Bearer` followed by spaces and a token.
fn bearer_token(lower: &str, after_word: usize) -> Option<Secret> {
    let bytes = lower.as_bytes();
    let start = skip_spaces(bytes, after_word);
    if start == after_word {
        return None;
    }
    value_at(bytes, start, ValueEnd::Word)
}

/// `user:password@` right after `scheme://`: the password is the secret.
fn url_password(lower: &str, authority_start: usize) -> Option<Secret> {
    let bytes = lower.as_bytes();
    let authority_end = (authority_start..bytes.len())
        .find(|&i| matches!(bytes[i], b'/' | b'?' | b'#' | b'"' | b'\'') || bytes[i].is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let authority = &lower[authority_start..authority_end];
    let at_sign = authority.rfind('@')?;
    let colon = authority[..at_sign].find(':')?;
    let start = authority_start + colon + 1;
    let end = authority_start + at_sign;
    (end > start).then_some(Secret { start, end })
}

fn value_at(bytes: &[u8], start: usize, end: ValueEnd) -> Option<Secret> {
    // An already redacted value stays as it is (its `]` would end a word early).
    let redacted = REDACTED.to_ascii_lowercase();
    if bytes[start.min(bytes.len())..].starts_with(redacted.as_bytes()) {
        return Some(Secret { start, end: start + redacted.len() });
    }
    let value_end = match bytes.get(start) {
        Some(&quote @ (b'"' | b'\'')) => {
            let inner = start + 1;
            let close = (inner..bytes.len()).find(|&i| bytes[i] == quote || bytes[i] == b'\n').unwrap_or(bytes.len());
            return (close > inner).then_some(Secret { start: inner, end: close });
        }
        Some(_) => word_end(bytes, start),
        None => return None,
    };
    let is_scheme = bytes[start..value_end].iter().all(u8::is_ascii_alphabetic);
    let next_word = skip_spaces(bytes, value_end);
    let value_end = match end {
        ValueEnd::Credential if is_scheme && next_word > value_end => word_end(bytes, next_word).max(value_end),
        _ => value_end,
    };
    (value_end > start).then_some(Secret { start, end: value_end })
}

/// End of the word starting at `start`: whitespace and field punctuation stop it.
fn word_end(bytes: &[u8], start: usize) -> usize {
    (start..bytes.len())
        .find(|&i| {
            bytes[i].is_ascii_whitespace()
                || matches!(bytes[i], b'"' | b'\'' | b',' | b';' | b'&' | b'}' | b')' | b']' | b'<' | b'>')
        })
        .unwrap_or(bytes.len())
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    at
}

/// True when `at` does not continue a longer word (so "Bearer" in
/// "cupbearer" is left alone).
fn starts_word(lower: &str, at: usize) -> bool {
    at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap()
    }

    fn messages(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| text.to_string()).collect()
    }

    #[test]
    fn each_keyword_rule_picks_its_category() {
        let cases: &[(&str, FailureCategory)] = &[
            ("Stage timeout exceeded after 30m", FailureCategory::Timeout),
            ("Operation timed out waiting for instances", FailureCategory::Timeout),
            ("context deadline exceeded", FailureCategory::Timeout),
            ("Artifact s3://builds/a.zip not found", FailureCategory::Artifact),
            ("Checksum mismatch for payments-1.2.0.zip", FailureCategory::Artifact),
            ("Back-off pulling image: ImagePullBackOff", FailureCategory::Artifact),
            ("User lacks permission to deploy to prod", FailureCategory::Config),
            ("No credentials found for account prod", FailureCategory::Config),
            ("403 Forbidden from cloud provider", FailureCategory::Config),
            ("Unauthorized: invalid service account", FailureCategory::Config),
            ("Access is denied", FailureCategory::Config),
            ("Health check failed: container exited with code 1", FailureCategory::App),
            ("Pod is in CrashLoopBackOff", FailureCategory::App),
            ("process ended with exit code 137", FailureCategory::App),
            ("Container was OOMKilled", FailureCategory::App),
            ("Insufficient capacity in us-east-1a", FailureCategory::Infrastructure),
            ("Network unreachable", FailureCategory::Infrastructure),
            ("Service Unavailable", FailureCategory::Infrastructure),
            ("Instance quota reached for project", FailureCategory::Infrastructure),
            ("java.net.ConnectException: Connection refused", FailureCategory::Infrastructure),
            ("Something odd happened", FailureCategory::Unknown),
        ];
        for (text, expected) in cases {
            let failure = normalize(&messages(&[text]), None, false, now());
            assert_eq!(failure.category, *expected, "for {text:?}");
        }
    }

    #[test]
    fn keywords_match_case_insensitively_across_all_messages() {
        let failure = normalize(&messages(&["Deploy failed", "HEALTH CHECK never passed"]), None, false, now());
        assert_eq!(failure.category, FailureCategory::App);
    }

    #[test]
    fn earlier_rules_win_when_several_keywords_match() {
        let failure = normalize(&messages(&["Health check timed out"]), None, false, now());
        assert_eq!(failure.category, FailureCategory::Timeout);
        let failure = normalize(&messages(&["Artifact download forbidden"]), None, false, now());
        assert_eq!(failure.category, FailureCategory::Artifact);
    }

    #[test]
    fn the_failed_stage_counts_as_text_to_categorize() {
        let failure = normalize(&[], Some("checkHealth:Health check"), false, now());
        assert_eq!(failure.category, FailureCategory::App);
    }

    #[test]
    fn a_failed_rollback_without_a_better_match_is_a_rollback_failure() {
        let failure = normalize(&messages(&["Something odd happened"]), None, true, now());
        assert_eq!(failure.category, FailureCategory::Rollback);
        let failure = normalize(&messages(&["Health check failed"]), None, true, now());
        assert_eq!(failure.category, FailureCategory::App);
    }

    #[test]
    fn the_summary_is_the_first_line_of_the_first_message() {
        let failure = normalize(&messages(&["  \n", "Health check failed\nat line 2", "second"]), None, false, now());
        assert_eq!(failure.summary, "Health check failed");
    }

    #[test]
    fn a_long_summary_is_cut_to_two_hundred_characters() {
        let long = "x".repeat(500);
        let failure = normalize(&[long], None, false, now());
        assert_eq!(failure.summary.chars().count(), SUMMARY_MAX_CHARS);
        assert!(failure.summary.ends_with('…'));
    }

    #[test]
    fn without_messages_the_summary_names_the_stage_or_the_category() {
        let failure = normalize(&[], Some("deploy:Deploy"), false, now());
        assert_eq!(failure.summary, "Stage deploy:Deploy failed without an error message");
        assert_eq!(failure.detail, None);
        let failure = normalize(&[], None, true, now());
        assert_eq!(failure.summary, "The rollback failed");
    }

    #[test]
    fn detail_joins_every_message_and_names_the_stage() {
        let failure = normalize(&messages(&["first", "second"]), Some("deploy:Deploy"), false, now());
        assert_eq!(failure.detail.as_deref(), Some("first\nsecond\nFailed stage: deploy:Deploy"));
        assert_eq!(failure.observed_at, now());
        assert!(failure.action_hint.is_some());
    }

    #[test]
    fn summary_and_detail_are_redacted() {
        let failure = normalize(
            &messages(&["call failed: Authorization: Bearer abc.def", "password=hunter2"]),
            None,
            false,
            now(),
        );
        let all = format!("{} {}", failure.summary, failure.detail.unwrap_or_default());
        assert!(!all.contains("abc.def"), "{all}");
        assert!(!all.contains("hunter2"), "{all}");
    }

    #[test]
    fn every_category_has_an_action_hint() {
        for text in ["timeout", "artifact", "forbidden", "crash", "quota", "odd"] {
            let failure = normalize(&messages(&[text]), None, false, now());
            assert!(failure.action_hint.is_some_and(|hint| !hint.is_empty()));
        }
    }

    #[test]
    fn engine_call_failures_are_infrastructure_with_a_summary_per_code() {
        let cases = [
            (ErrorCode::EngineUnavailable, "The engine was unavailable"),
            (ErrorCode::EngineTimeout, "did not answer in time"),
            (ErrorCode::EngineUnauthorized, "refused DXCP's credentials"),
            (ErrorCode::EngineCallFailed, "rejected the deployment request"),
        ];
        for (code, expected) in cases {
            let failure = engine_call_failure(code, now());
            assert_eq!(failure.category, FailureCategory::Infrastructure);
            assert!(failure.summary.contains(expected), "{code}: {}", failure.summary);
            assert!(failure.detail.as_deref().is_some_and(|d| d.contains(code.as_str())));
            assert!(failure.action_hint.is_some());
            assert_eq!(failure.observed_at, now());
        }
    }

    #[test]
    fn a_stale_failure_says_no_terminal_status_was_observed() {
        let failure = stale_failure(now());
        assert_eq!(failure.category, FailureCategory::Infrastructure);
        assert_eq!(failure.summary, "no terminal status observed");
        assert_eq!(failure.observed_at, now());
    }

    #[test]
    fn each_secret_pattern_is_redacted() {
        let cases: &[(&str, &str)] = &[
            ("Authorization: Bearer abc.def-123", "Authorization: [REDACTED]"),
            ("authorization=Basic dXNlcjpwYXNz ok", "authorization=[REDACTED] ok"),
            ("Authorization: abc123, next", "Authorization: [REDACTED], next"),
            ("{\"Authorization\": \"Bearer xyz\"}", "{\"Authorization\": \"[REDACTED]\"}"),
            ("sent Bearer eyJhbGciOi.x.y to gate", "sent Bearer [REDACTED] to gate"),
            ("bearer   t0k3n", "bearer   [REDACTED]"),
            ("GET /x?token=s3cr3t&page=2", "GET /x?token=[REDACTED]&page=2"),
            ("access_token=abc123", "access_token=[REDACTED]"),
            ("password=hunter2 user=bob", "password=[REDACTED] user=bob"),
            ("password: hunter2", "password: [REDACTED]"),
            ("{\"password\":\"hunter 2\"}", "{\"password\":\"[REDACTED]\"}"),
            ("DB_PASSWORD='p@ss'", "DB_PASSWORD='[REDACTED]'"),
            ("secret=shh", "secret=[REDACTED]"),
            ("client_secret: shh,", "client_secret: [REDACTED],"),
            ("api_key=k-123", "api_key=[REDACTED]"),
            ("clone https://bot:ghp_abc@github.com/x.git", "clone https://bot:[REDACTED]@github.com/x.git"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_secrets(input), *expected, "for {input:?}");
        }
    }

    #[test]
    fn text_without_secrets_is_unchanged() {
        let cases = [
            "",
            "Health check failed: container exited with code 1",
            "tokens were 5; the cupbearer left",
            "https://gate.example.com/pipelines/01J",
            "token without a separator",
            "password=",
            "naïve café ✓ Bearer",
        ];
        for input in cases {
            assert_eq!(redact_secrets(input), input);
        }
    }

    #[test]
    fn redaction_keeps_non_ascii_text_around_secrets() {
        assert_eq!(redact_secrets("échec ✗ token=abc ✓ fin"), "échec ✗ token=[REDACTED] ✓ fin");
    }

    #[test]
    fn redacting_twice_changes_nothing_more() {
        let once = redact_secrets("Authorization: Bearer x token=y password: z https://u:p@h/");
        assert_eq!(once, "Authorization: [REDACTED] token=[REDACTED] password: [REDACTED] https://u:[REDACTED]@h/");
        assert_eq!(redact_secrets(&once), once);
    }

    #[test]
    fn an_excerpt_is_redacted_before_it_is_cut() {
        let excerpt = redacted_excerpt("token=abcdefghijklmnop", 12);
        assert_eq!(excerpt, "token=[REDA…");
        assert!(!excerpt.contains("abc"));
    }
}
