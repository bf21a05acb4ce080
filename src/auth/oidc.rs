//! OIDC bearer tokens (`DXCP_AUTH=oidc`, DESIGN §9 and §10 "OIDC").
//!
//! A token is accepted only when all of this holds, cheapest check first:
//! - it is at most [`MAX_TOKEN_BYTES`] long and its header parses;
//! - the header's `alg` is RS256 and it names no `crit` extension. `none`,
//!   HS256 and every other algorithm are refused before any key is looked
//!   up, so they can neither be verified with an RSA key used as an HMAC
//!   secret nor trigger a JWKS fetch;
//! - the key comes from the JWKS at `DXCP_OIDC_JWKS_URL`, picked by `kid`.
//!   A token without `kid` is accepted only while the JWKS holds exactly one
//!   usable RS256 key: with several there is no unambiguous choice, and
//!   trying each would multiply the verification work an anonymous caller
//!   can cause. Header parameters that carry or point at keys (`jwk`, `jku`,
//!   `x5u`, `x5c`) are ignored: keys come from the configured JWKS only;
//! - the signature verifies; `exp` is present and not past, and `nbf`, when
//!   present, is not in the future, both with [`CLOCK_LEEWAY`];
//! - `iss` is exactly the issuer (one string), `aud` is the audience or a
//!   list containing it, `sub` is a usable actor id, and at least one group
//!   in the roles claim maps to a role (the highest [`Role::rank`] wins).
//!
//! The JWKS is fetched on first use and cached. An unknown `kid` refetches
//! it so a rotated key works within seconds, but fetches are serialised and
//! at most one starts per [`JWKS_REFETCH_INTERVAL`], so a flood of made-up
//! `kid`s costs the identity provider one request per interval. A failed
//! fetch keeps the keys we had.
//!
//! The JWKS request follows no redirect (a 3xx is a failed fetch: a
//! redirect could move the key source to plain http or another host) and
//! reads at most [`MAX_JWKS_BYTES`] of body.
//!
//! The token itself is never logged; refusals carry a [`Rejection`] that
//! the HTTP edge logs, and the client always gets 401 `UNAUTHORIZED`.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    errors::ErrorKind,
    jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse},
    Algorithm, DecodingKey, Validation,
};
use reqwest::{header, Url};
use serde_json::{Map, Value};

use super::{AuthError, Authenticator};
use crate::{
    config::OidcSettings,
    domain::{Principal, Role},
};

/// Clock skew tolerated between us and the identity provider, on `exp` (a
/// token stays valid this long after it expired) and on `nbf` (a token is
/// valid this long before its start). Short enough that an expired token
/// cannot be replayed for long.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(30);
/// At most one JWKS fetch starts per interval, whatever the traffic: an
/// unknown `kid` waits for the next slot, so a rotated key is accepted
/// within this long while bogus `kid`s cannot hammer the identity provider.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Cached keys older than this are refreshed on the next request, so a key
/// the identity provider withdrew stops verifying even if no unknown `kid`
/// ever arrives. A failed refresh keeps serving the cached keys.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(15 * 60);
/// Deadline of one JWKS fetch (connect and read); a request waiting for
/// keys waits at most this long.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest token looked at; identity-provider tokens are a few KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Largest JWKS document read; a larger one is a failed fetch. Real key
/// sets are a few KiB.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// OIDC Core §2 limits `sub` to 255 ASCII characters.
const MAX_SUBJECT_CHARS: usize = 255;

/// Why a token was refused. For logs only: every variant reaches the client
/// as the same 401 `UNAUTHORIZED`, so a caller learns nothing by probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("token too large")]
    TooLarge,
    #[error("not a JWT, or an unsupported alg such as none")]
    Malformed,
    #[error("alg is not RS256")]
    Algorithm,
    #[error("unsupported critical header extension")]
    CriticalHeader,
    #[error("no usable JWKS key for the token's kid")]
    UnknownKey,
    #[error("bad signature")]
    Signature,
    #[error("expired")]
    Expired,
    #[error("not valid yet (nbf)")]
    NotYetValid,
    #[error("missing or malformed exp or nbf")]
    TimeClaims,
    #[error("wrong or missing issuer")]
    Issuer,
    #[error("wrong or missing audience")]
    Audience,
    #[error("missing or unusable sub")]
    Subject,
    #[error("no group in the roles claim maps to a role")]
    NoMappedRole,
}

/// Misconfiguration found when building the authenticator (startup).
#[derive(Debug, thiserror::Error)]
pub enum OidcSetupError {
    #[error("DXCP_OIDC_JWKS_URL: {0}")]
    JwksUrl(String),
    #[error("DXCP_OIDC_ROLE_MAP maps no group to a role, so every token would be refused")]
    EmptyRoleMap,
    #[error("cannot build the JWKS HTTP client")]
    HttpClient(#[source] reqwest::Error),
}

/// The HTTP client for JWKS fetches: short deadlines, because a request
/// with an unknown `kid` waits for the fetch, and no redirects, because
/// whoever serves the JWKS can mint tokens: a redirect would let the
/// configured https URL hand the key source to plain http or another host.
pub fn http_client() -> Result<reqwest::Client, OidcSetupError> {
    reqwest::Client::builder()
        .connect_timeout(JWKS_FETCH_TIMEOUT)
        .timeout(JWKS_FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(OidcSetupError::HttpClient)
}

/// Validates identity-provider JWTs against a cached JWKS (module docs).
pub struct OidcAuthenticator {
    rules: ClaimRules,
    validation: Validation,
    keys: KeyCache,
}

impl OidcAuthenticator {
    /// Checks the settings; fetches nothing (the JWKS is loaded on first use,
    /// so the server starts while the identity provider is unreachable).
    pub fn new(settings: &OidcSettings, http: reqwest::Client) -> Result<Self, OidcSetupError> {
        let url = jwks_url(&settings.jwks_url)?;
        if settings.role_map.is_empty() {
            return Err(OidcSetupError::EmptyRoleMap);
        }
        Ok(Self {
            rules: ClaimRules::from(settings),
            validation: signature_validation(),
            keys: KeyCache::new(http, url),
        })
    }

    async fn verify(&self, token: &str) -> Result<Principal, Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::TooLarge);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(Rejection::Algorithm);
        }
        if header.crit.is_some() {
            return Err(Rejection::CriticalHeader);
        }
        let key = self.keys.key_for(header.kid.as_deref()).await?;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation)
            .map_err(|error| rejection_of(error.kind()))?
            .claims;
        principal_from_claims(&claims, &self.rules)
    }
}

#[async_trait::async_trait]
impl Authenticator for OidcAuthenticator {
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify(token).await.map_err(AuthError::Rejected)
    }
}

/// What the library checks: the RS256 signature and the time claims. The
/// identity claims are checked by [`principal_from_claims`], which is
/// stricter than the library (`iss` must be a single string).
fn signature_validation() -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = CLOCK_LEEWAY.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp"]);
    validation
}

fn rejection_of(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::InvalidSignature => Rejection::Signature,
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => Rejection::TimeClaims,
        ErrorKind::InvalidAlgorithm => Rejection::Algorithm,
        _ => Rejection::Malformed,
    }
}

/// The JWKS must come over TLS: whoever can change it can mint tokens.
/// Plain http is allowed for a loopback host only (local identity providers
/// and tests).
fn jwks_url(text: &str) -> Result<Url, OidcSetupError> {
    let url = Url::parse(text).map_err(|error| OidcSetupError::JwksUrl(format!("{text:?} is not a URL: {error}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(OidcSetupError::JwksUrl(format!("{text:?} must be https (plain http only for a loopback host)"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// What a token's claims must say, from [`OidcSettings`].
#[derive(Debug, Clone)]
struct ClaimRules {
    issuer: String,
    audience: String,
    roles_claim: String,
    role_map: Vec<(String, Role)>,
}

impl From<&OidcSettings> for ClaimRules {
    fn from(settings: &OidcSettings) -> Self {
        Self {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            roles_claim: settings.roles_claim.clone(),
            role_map: settings.role_map.clone(),
        }
    }
}

/// Turns verified claims into the caller. Group names only pick the role:
/// delivery-group membership is looked up from the groups' `members` by
/// `sub`, never read from the token.
fn principal_from_claims(claims: &Map<String, Value>, rules: &ClaimRules) -> Result<Principal, Rejection> {
    if claims.get("iss").and_then(Value::as_str) != Some(rules.issuer.as_str()) {
        return Err(Rejection::Issuer);
    }
    if !audience_contains(claims.get("aud"), &rules.audience) {
        return Err(Rejection::Audience);
    }
    let actor_id = subject(claims.get("sub")).ok_or(Rejection::Subject)?;
    let groups = group_names(claims.get(&rules.roles_claim));
    let role = highest_role(&groups, &rules.role_map).ok_or(Rejection::NoMappedRole)?;
    let email = claims.get("email").and_then(Value::as_str).filter(|e| !e.is_empty()).map(str::to_owned);
    // The instant this token stops being accepted: the validation accepts
    // it through the whole second `exp` + leeway.
    let leeway = CLOCK_LEEWAY.as_secs() as i64 + 1;
    let expires_at = claims
        .get("exp")
        .and_then(Value::as_i64)
        .and_then(|exp| chrono::DateTime::from_timestamp(exp.saturating_add(leeway), 0));
    Ok(Principal { actor_id, role, email, expires_at })
}

/// `aud` is one string or a list of strings (RFC 7519 §4.1.3).
fn audience_contains(aud: Option<&Value>, audience: &str) -> bool {
    match aud {
        Some(Value::String(one)) => one == audience,
        Some(Value::Array(many)) => many.iter().any(|item| item.as_str() == Some(audience)),
        _ => false,
    }
}

/// `sub` becomes the actor id in audit records and in the engine's user
/// header, so it must be a non-empty printable string of bounded length.
fn subject(sub: Option<&Value>) -> Option<String> {
    let sub = sub?.as_str()?;
    let usable = !sub.is_empty() && sub.chars().count() <= MAX_SUBJECT_CHARS && !sub.chars().any(char::is_control);
    usable.then(|| sub.to_owned())
}

/// The roles claim: a list of group names, or one name as a string.
/// Anything else (missing, numbers, objects) yields no group.
fn group_names(claim: Option<&Value>) -> Vec<&str> {
    match claim {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The highest-ranked role any of `groups` maps to.
fn highest_role(groups: &[&str], role_map: &[(String, Role)]) -> Option<Role> {
    role_map
        .iter()
        .filter(|(group, _)| groups.contains(&group.as_str()))
        .map(|(_, role)| *role)
        .max_by_key(|role| role.rank())
}

/// Why a JWKS fetch failed (logged; the cached keys stay in use).
#[derive(Debug, thiserror::Error)]
enum JwksError {
    #[error("request failed")]
    Request(#[from] reqwest::Error),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("answered a redirect (HTTP {0}), which is not followed")]
    Redirect(u16),
    #[error("document larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("not a JWKS document")]
    Parse(#[from] serde_json::Error),
    #[error("no usable RS256 signing key in the document")]
    NoUsableKey,
}

/// The RS256 verification keys of one JWKS document.
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<DecodingKey>>,
    /// The only usable key when the document holds exactly one: what a
    /// token without `kid` is verified with.
    sole: Option<Arc<DecodingKey>>,
    /// `None` until the first successful fetch.
    fetched_at: Option<Instant>,
}

/// The JWKS wire shape; keys are parsed one by one so that a key this
/// library cannot read (a new key type, an unknown `alg`) is skipped
/// instead of failing the whole document.
#[derive(serde::Deserialize)]
struct RawJwkSet {
    keys: Vec<Value>,
}

impl KeySet {
    fn parse(body: &[u8], fetched_at: Instant) -> Result<Self, JwksError> {
        let raw: RawJwkSet = serde_json::from_slice(body)?;
        let usable: Vec<(Option<String>, Arc<DecodingKey>)> = raw.keys.into_iter().filter_map(usable_key).collect();
        let sole = match usable.as_slice() {
            [(_, key)] => Some(key.clone()),
            [] => return Err(JwksError::NoUsableKey),
            _ => None,
        };
        let mut by_kid = HashMap::new();
        for (kid, key) in usable {
            if let Some(kid) = kid {
                // A duplicated kid is the provider's mistake; the first one listed wins.
                by_kid.entry(kid).or_insert(key);
            }
        }
        Ok(Self { by_kid, sole, fetched_at: Some(fetched_at) })
    }

    fn select(&self, kid: Option<&str>) -> Option<Arc<DecodingKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None => self.sole.clone(),
        }
    }

    fn is_fresh(&self) -> bool {
        self.fetched_at.is_some_and(|at| at.elapsed() < JWKS_MAX_AGE)
    }

    fn len(&self) -> usize {
        self.by_kid.len().max(usize::from(self.sole.is_some()))
    }
}

/// A JWK we may verify RS256 signatures with, with its `kid`. Other keys
/// are skipped, not errors: providers publish encryption and EC keys
/// beside their signing keys.
fn usable_key(value: Value) -> Option<(Option<String>, Arc<DecodingKey>)> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if !is_rs256_signing_key(&jwk) {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((jwk.common.key_id, Arc::new(key)))
}

fn is_rs256_signing_key(jwk: &Jwk) -> bool {
    let rsa = matches!(jwk.algorithm, AlgorithmParameters::RSA(_));
    let for_signatures = matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature));
    let may_verify = jwk.common.key_operations.as_ref().is_none_or(|ops| ops.contains(&KeyOperations::Verify));
    let rs256 = matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256));
    rsa && for_signatures && may_verify && rs256
}

/// The JWKS keys, fetched lazily and refetched under a throttle.
struct KeyCache {
    http: reqwest::Client,
    url: Url,
    /// The last good key set. Read on every request and swapped whole after
    /// a fetch; the lock is never held across an await.
    keys: RwLock<Arc<KeySet>>,
    /// Held for the duration of a fetch, so only one runs at a time; holds
    /// when the last fetch started, successful or not, for the throttle.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl KeyCache {
    fn new(http: reqwest::Client, url: Url) -> Self {
        Self { http, url, keys: RwLock::new(Arc::new(KeySet::default())), last_fetch: tokio::sync::Mutex::new(None) }
    }

    /// The key for `kid`, refreshing the cache when the key is unknown or
    /// the cache is stale (subject to the throttle).
    async fn key_for(&self, kid: Option<&str>) -> Result<Arc<DecodingKey>, Rejection> {
        let keys = self.current();
        if let Some(key) = keys.select(kid).filter(|_| keys.is_fresh()) {
            return Ok(key);
        }
        self.refresh().await;
        self.current().select(kid).ok_or(Rejection::UnknownKey)
    }

    fn current(&self) -> Arc<KeySet> {
        // A poisoned lock still holds a whole key set (it is only ever swapped).
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Fetches the JWKS unless a fetch started within the throttle interval.
    /// Requests that queued behind a fetch find it recent and use its result.
    async fn refresh(&self) {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL) {
            return;
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(jwks_url = %self.url, keys = keys.len(), "fetched the OIDC signing keys");
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
            }
            Err(error) => {
                tracing::warn!(
                    jwks_url = %self.url,
                    error = %crate::telemetry::error_chain(&error),
                    "JWKS fetch failed; keeping the cached keys"
                );
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, JwksError> {
        let mut response = self.http.get(self.url.clone()).header(header::ACCEPT, "application/json").send().await?;
        let status = response.status();
        if status.is_redirection() {
            return Err(JwksError::Redirect(status.as_u16()));
        }
        if !status.is_success() {
            return Err(JwksError::Status(status.as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(JwksError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        KeySet::parse(&body, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: "https://idp.example".into(),
            audience: "dxcp".into(),
            roles_claim: "roles".into(),
            role_map: vec![
                ("dxcp-platform-admins".into(), Role::PlatformAdmin),
                ("dxcp-delivery-owners".into(), Role::DeliveryOwner),
                ("dxcp-observers".into(), Role::Observer),
                ("dxcp-ci-publishers".into(), Role::CiPublisher),
            ],
        }
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut claims = json!({
            "iss": "https://idp.example",
            "aud": "dxcp",
            "sub": "alice",
            "exp": 4_000_000_000u64,
            "roles": ["dxcp-observers"],
        });
        if let (Some(base), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            base.extend(extra);
        }
        match claims {
            Value::Object(map) => map,
            _ => unreachable!("built from an object literal"),
        }
    }

    fn rsa_jwk(kid: Option<&str>, extra: Value) -> Value {
        let mut jwk = json!({ "kty": "RSA", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri", "e": "AQAB" });
        if let Some(kid) = kid {
            jwk["kid"] = json!(kid);
        }
        if let (Some(base), Value::Object(extra)) = (jwk.as_object_mut(), extra) {
            base.extend(extra);
        }
        jwk
    }

    fn key_set(keys: Vec<Value>) -> Result<KeySet, JwksError> {
        KeySet::parse(json!({ "keys": keys }).to_string().as_bytes(), Instant::now())
    }

    #[test]
    fn valid_claims_become_a_principal_with_sub_as_actor_and_the_email_kept() {
        let principal =
            principal_from_claims(&claims(json!({ "email": "alice@example.com" })), &rules()).expect("accepted");
        assert_eq!(principal.actor_id, "alice");
        assert_eq!(principal.role, Role::Observer);
        assert_eq!(principal.email.as_deref(), Some("alice@example.com"));
    }

    #[test]
    fn the_email_is_absent_when_the_token_has_none() {
        let principal = principal_from_claims(&claims(json!({})), &rules()).expect("accepted");
        assert_eq!(principal.email, None);
    }

    #[test]
    fn the_highest_mapped_role_wins_whatever_the_order_of_groups() {
        let groups = ["dxcp-ci-publishers", "unrelated", "dxcp-delivery-owners", "dxcp-observers"];
        assert_eq!(highest_role(&groups, &rules().role_map), Some(Role::DeliveryOwner));
        let groups = ["dxcp-observers", "dxcp-platform-admins"];
        assert_eq!(highest_role(&groups, &rules().role_map), Some(Role::PlatformAdmin));
    }

    #[test]
    fn no_mapped_group_is_refused() {
        let token = claims(json!({ "roles": ["payments", "Dxcp-Observers"] }));
        assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::NoMappedRole));
        let token = claims(json!({ "roles": [] }));
        assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::NoMappedRole));
        let mut token = claims(json!({}));
        token.remove("roles");
        assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::NoMappedRole));
    }

    #[test]
    fn the_roles_claim_may_be_a_single_string() {
        let token = claims(json!({ "roles": "dxcp-platform-admins" }));
        assert_eq!(principal_from_claims(&token, &rules()).map(|p| p.role), Ok(Role::PlatformAdmin));
    }

    #[test]
    fn non_string_roles_are_ignored() {
        let token = claims(json!({ "roles": [1, { "name": "dxcp-platform-admins" }, "dxcp-ci-publishers"] }));
        assert_eq!(principal_from_claims(&token, &rules()).map(|p| p.role), Ok(Role::CiPublisher));
        let token = claims(json!({ "roles": { "dxcp-platform-admins": true } }));
        assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::NoMappedRole));
    }

    #[test]
    fn the_roles_claim_name_is_configurable() {
        let rules = ClaimRules { roles_claim: "groups".into(), ..rules() };
        let token = claims(json!({ "groups": ["dxcp-delivery-owners"], "roles": ["dxcp-platform-admins"] }));
        assert_eq!(principal_from_claims(&token, &rules).map(|p| p.role), Ok(Role::DeliveryOwner));
    }

    #[test]
    fn a_custom_role_map_replaces_the_default_one() {
        let rules = ClaimRules { role_map: vec![("ops".into(), Role::PlatformAdmin)], ..rules() };
        let token = claims(json!({ "roles": ["ops"] }));
        assert_eq!(principal_from_claims(&token, &rules).map(|p| p.role), Ok(Role::PlatformAdmin));
        let token = claims(json!({ "roles": ["dxcp-observers"] }));
        assert_eq!(principal_from_claims(&token, &rules), Err(Rejection::NoMappedRole));
    }

    #[test]
    fn the_audience_may_be_a_string_or_a_list_containing_ours() {
        assert!(audience_contains(Some(&json!("dxcp")), "dxcp"));
        assert!(audience_contains(Some(&json!(["other", "dxcp"])), "dxcp"));
        assert!(!audience_contains(Some(&json!("other")), "dxcp"));
        assert!(!audience_contains(Some(&json!(["other"])), "dxcp"));
        assert!(!audience_contains(Some(&json!([])), "dxcp"));
        assert!(!audience_contains(Some(&json!({ "dxcp": true })), "dxcp"));
        assert!(!audience_contains(None, "dxcp"));
    }

    #[test]
    fn a_wrong_or_missing_audience_is_refused() {
        let token = claims(json!({ "aud": ["other"] }));
        assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::Audience));
        let mut token = claims(json!({}));
        token.remove("aud");
        assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::Audience));
    }

    #[test]
    fn the_issuer_must_be_exactly_ours_as_one_string() {
        for iss in [json!("https://idp.example/"), json!(["https://idp.example"]), json!(null)] {
            let token = claims(json!({ "iss": iss }));
            assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::Issuer), "iss {iss}");
        }
    }

    #[test]
    fn a_missing_empty_or_unprintable_sub_is_refused() {
        for sub in [json!(null), json!(""), json!(42), json!("ali\nce"), json!("x".repeat(256))] {
            let token = claims(json!({ "sub": sub }));
            assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::Subject), "sub {sub}");
        }
        let mut token = claims(json!({}));
        token.remove("sub");
        assert_eq!(principal_from_claims(&token, &rules()), Err(Rejection::Subject));
    }

    #[test]
    fn library_errors_map_to_rejections() {
        assert_eq!(rejection_of(&ErrorKind::ExpiredSignature), Rejection::Expired);
        assert_eq!(rejection_of(&ErrorKind::ImmatureSignature), Rejection::NotYetValid);
        assert_eq!(rejection_of(&ErrorKind::InvalidSignature), Rejection::Signature);
        assert_eq!(rejection_of(&ErrorKind::MissingRequiredClaim("exp".into())), Rejection::TimeClaims);
        assert_eq!(rejection_of(&ErrorKind::InvalidToken), Rejection::Malformed);
    }

    #[test]
    fn the_validation_accepts_rs256_only_and_requires_exp_with_a_30_second_leeway() {
        let validation = signature_validation();
        assert_eq!(validation.algorithms, vec![Algorithm::RS256]);
        assert_eq!(validation.leeway, 30);
        assert!(validation.validate_exp && validation.validate_nbf);
        assert!(validation.required_spec_claims.contains("exp"));
    }

    #[test]
    fn keys_are_found_by_kid() {
        let keys = key_set(vec![rsa_jwk(Some("a"), json!({})), rsa_jwk(Some("b"), json!({ "alg": "RS256" }))])
            .expect("parsed");
        assert!(keys.select(Some("a")).is_some());
        assert!(keys.select(Some("b")).is_some());
        assert!(keys.select(Some("c")).is_none());
    }

    #[test]
    fn a_token_without_kid_is_verified_only_against_a_single_key_set() {
        let one = key_set(vec![rsa_jwk(Some("a"), json!({}))]).expect("parsed");
        assert!(one.select(None).is_some());
        let two = key_set(vec![rsa_jwk(Some("a"), json!({})), rsa_jwk(Some("b"), json!({}))]).expect("parsed");
        assert!(two.select(None).is_none());
    }

    #[test]
    fn encryption_hmac_ec_and_other_algorithm_keys_are_skipped() {
        let keys = key_set(vec![
            rsa_jwk(Some("enc"), json!({ "use": "enc" })),
            rsa_jwk(Some("rs384"), json!({ "alg": "RS384" })),
            rsa_jwk(Some("sign-only"), json!({ "key_ops": ["sign"] })),
            rsa_jwk(Some("future"), json!({ "alg": "RSA-OAEP-512" })),
            json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" }),
            json!({ "kty": "EC", "kid": "ec", "crv": "P-256", "x": "AAAA", "y": "AAAA" }),
            json!({ "kty": "OKP-new", "kid": "unknown" }),
            rsa_jwk(Some("good"), json!({ "use": "sig", "alg": "RS256", "key_ops": ["verify"] })),
        ])
        .expect("parsed");
        assert_eq!(keys.len(), 1);
        assert!(keys.select(Some("good")).is_some());
        // The one usable key also serves tokens without kid.
        assert!(keys.select(None).is_some());
    }

    #[test]
    fn a_document_without_a_usable_key_is_an_error_so_the_cached_keys_stay() {
        assert!(matches!(key_set(vec![]), Err(JwksError::NoUsableKey)));
        assert!(matches!(key_set(vec![rsa_jwk(Some("enc"), json!({ "use": "enc" }))]), Err(JwksError::NoUsableKey)));
        assert!(matches!(KeySet::parse(b"<html>", Instant::now()), Err(JwksError::Parse(_))));
    }

    #[test]
    fn the_jwks_url_must_be_https_unless_the_host_is_loopback() {
        assert!(jwks_url("https://idp.example/keys").is_ok());
        assert!(jwks_url("http://127.0.0.1:8080/keys").is_ok());
        assert!(jwks_url("http://localhost/keys").is_ok());
        assert!(jwks_url("http://[::1]:9000/keys").is_ok());
        assert!(jwks_url("http://idp.example/keys").is_err());
        assert!(jwks_url("ftp://127.0.0.1/keys").is_err());
        assert!(jwks_url("not a url").is_err());
    }

    #[test]
    fn an_empty_role_map_stops_startup() {
        let built = OidcAuthenticator::new(&settings_for("https://idp.example/keys"), reqwest::Client::new());
        assert!(matches!(built, Err(OidcSetupError::EmptyRoleMap)));
    }

    #[tokio::test]
    async fn tokens_that_are_not_rs256_are_refused_before_any_key_is_fetched() {
        // The JWKS URL points nowhere: reaching it would fail differently.
        let settings = OidcSettings { role_map: rules().role_map, ..settings_for("https://127.0.0.1:9/keys") };
        let authenticator = OidcAuthenticator::new(&settings, reqwest::Client::new()).expect("built");
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.";
        assert_eq!(authenticator.verify(none).await, Err(Rejection::Malformed));
        let hs256 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
        assert_eq!(authenticator.verify(hs256).await, Err(Rejection::Algorithm));
        assert_eq!(authenticator.verify("dxcp-dev-admin").await, Err(Rejection::Malformed));
        assert_eq!(authenticator.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)).await, Err(Rejection::TooLarge));
        assert!(authenticator.keys.last_fetch.lock().await.is_none());
    }

    fn settings_for(jwks_url: &str) -> OidcSettings {
        OidcSettings {
            issuer: "https://idp.example".into(),
            audience: "dxcp".into(),
            jwks_url: jwks_url.into(),
            roles_claim: "roles".into(),
            role_map: Vec::new(),
        }
    }
}
