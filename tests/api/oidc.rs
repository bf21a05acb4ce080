//! OIDC authentication (`DXCP_AUTH=oidc`, DESIGN §9 and §10 "OIDC")
//! through HTTP: the real server validates RS256 tokens against a JWKS
//! served by the test, whose key set the test changes and whose fetches it
//! counts. Every refusal is a 401 with code `UNAUTHORIZED`.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use axum::{
    extract::State,
    http::{header, StatusCode},
    routing::get,
    Json, Router,
};
use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use dxcp::auth::oidc::{JWKS_REFETCH_INTERVAL, MAX_JWKS_BYTES};
use jsonwebtoken::{
    jwk::{Jwk, PublicKeyUse},
    Algorithm, EncodingKey, Header,
};
use serde_json::{json, Value};

use crate::harness::{ws::WsClient, GqlResponse, TestApp, TestAppBuilder};

const ISSUER: &str = "https://idp.test/realms/dxcp";
const AUDIENCE: &str = "dxcp-api";
const VIEWER: &str = "{ viewer { actorId role } }";
const ADMINS: &str = "dxcp-platform-admins";
const OWNERS: &str = "dxcp-delivery-owners";
const OBSERVERS: &str = "dxcp-observers";
const CI_PUBLISHERS: &str = "dxcp-ci-publishers";

/// An RSA signing key of the test identity provider.
struct SigningKey {
    kid: String,
    private: EncodingKey,
    /// The public key as a JWK, as the JWKS publishes it.
    jwk: Value,
    /// The public key as PEM: what an attacker has and tries as an HMAC secret.
    public_pem: String,
}

impl SigningKey {
    fn generate(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key pair");
        let pkcs8 = pair.as_der().expect("PKCS#8 private key");
        let private = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", pkcs8.as_ref()).as_bytes()).expect("encoding key");
        let public = pair.public_key().as_der().expect("SPKI public key");
        let mut jwk = Jwk::from_encoding_key(&private, Algorithm::RS256).expect("JWK");
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Self {
            kid: kid.to_owned(),
            private,
            jwk: serde_json::to_value(jwk).expect("JWK as JSON"),
            public_pem: pem("PUBLIC KEY", public.as_ref()),
        }
    }

    /// An RS256 token with this key's `kid`.
    fn sign(&self, claims: &Value) -> String {
        let header = Header { kid: Some(self.kid.clone()), ..Header::new(Algorithm::RS256) };
        self.sign_with(header, claims)
    }

    fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.private).expect("signed token")
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ascii")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

/// The test identity provider: serves `GET /jwks` on 127.0.0.1:0 and counts
/// the fetches. Stops with the test's runtime.
struct Idp {
    jwks_url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct IdpState {
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
}

async fn serve_jwks(State(state): State<IdpState>) -> Json<Value> {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let keys = state.keys.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Json(json!({ "keys": keys }))
}

impl Idp {
    async fn start(keys: &[&SigningKey]) -> Self {
        let state = IdpState { keys: Arc::new(Mutex::new(Vec::new())), hits: Arc::new(AtomicUsize::new(0)) };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the JWKS server");
        let address = listener.local_addr().expect("JWKS address");
        let router = Router::new().route("/jwks", get(serve_jwks)).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let idp = Self { jwks_url: format!("http://{address}/jwks"), keys: state.keys, hits: state.hits };
        idp.publish(keys);
        idp
    }

    /// Replaces the published key set.
    fn publish(&self, keys: &[&SigningKey]) {
        *self.keys.lock().unwrap_or_else(PoisonError::into_inner) = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    /// Adds a JSON value to the published `keys` (not a signing key).
    fn publish_extra(&self, value: Value) {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).push(value);
    }

    /// How many times the JWKS was fetched.
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// A test server in OIDC mode trusting this provider.
    fn app(&self) -> TestAppBuilder {
        TestApp::builder()
            .env("DXCP_AUTH", "oidc")
            .env("DXCP_OIDC_ISSUER", ISSUER)
            .env("DXCP_OIDC_AUDIENCE", AUDIENCE)
            .env("DXCP_OIDC_JWKS_URL", self.jwks_url.clone())
    }
}

/// A server on 127.0.0.1:0 whose `GET /jwks` answers `302 Location:
/// target`; returns its JWKS URL and its hit counter.
async fn redirecting_jwks(target: String) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the redirecting server");
    let address = listener.local_addr().expect("redirecting server address");
    let router = Router::new().route(
        "/jwks",
        get(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let target = target.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, target)]) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{address}/jwks"), hits)
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

/// Valid claims for `sub` with `groups` in the default roles claim.
fn claims(sub: &str, groups: &[&str]) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": now(),
        "exp": now() + 600,
        "email": format!("{sub}@example.com"),
        "roles": groups,
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    if let (Some(base), Value::Object(changes)) = (claims.as_object_mut(), changes) {
        base.extend(changes);
    }
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    if let Some(base) = claims.as_object_mut() {
        base.remove(name);
    }
    claims
}

/// A token with an arbitrary header and signature, for algorithms the
/// library refuses to produce.
fn forged(header: &Value, claims: &Value, signature: &[u8]) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{}", part(header), part(claims), URL_SAFE_NO_PAD.encode(signature))
}

fn hs256(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let header = Header { kid: Some(kid.to_owned()), ..Header::new(Algorithm::HS256) };
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("HS256 token")
}

async fn viewer(app: &TestApp, token: &str) -> GqlResponse {
    app.gql_as(Some(token), VIEWER, json!({})).await
}

#[track_caller]
fn assert_unauthorized(response: &GqlResponse, what: &str) {
    assert_eq!(response.status, 401, "{what}: {}", response.body);
    assert_eq!(response.first_code().as_deref(), Some("UNAUTHORIZED"), "{what}: {}", response.body);
    assert!(response.body.get("data").is_none(), "{what}: {}", response.body);
}

#[track_caller]
fn assert_viewer(response: &GqlResponse, actor: &str, role: &str) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.ok()["viewer"], json!({ "actorId": actor, "role": role }));
}

#[tokio::test]
async fn a_valid_token_authenticates_its_sub_with_the_mapped_role() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    let response = viewer(&app, &key.sign(&claims("alice", &[OBSERVERS]))).await;

    assert_viewer(&response, "alice", "OBSERVER");
}

#[tokio::test]
async fn each_default_group_maps_to_its_role() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    for (group, role) in [
        (ADMINS, "PLATFORM_ADMIN"),
        (OWNERS, "DELIVERY_OWNER"),
        (OBSERVERS, "OBSERVER"),
        (CI_PUBLISHERS, "CI_PUBLISHER"),
    ] {
        let response = viewer(&app, &key.sign(&claims("bob", &[group]))).await;
        assert_viewer(&response, "bob", role);
    }
}

#[tokio::test]
async fn several_mapped_groups_give_the_highest_role() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    let owner = key.sign(&claims("carol", &[CI_PUBLISHERS, "unrelated", OWNERS, OBSERVERS]));
    let admin = key.sign(&claims("carol", &[OBSERVERS, ADMINS]));

    assert_viewer(&viewer(&app, &owner).await, "carol", "DELIVERY_OWNER");
    assert_viewer(&viewer(&app, &admin).await, "carol", "PLATFORM_ADMIN");
}

#[tokio::test]
async fn a_custom_role_map_replaces_the_default_one() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().env("DXCP_OIDC_ROLE_MAP", "ops=PLATFORM_ADMIN,readers=OBSERVER").spawn().await;

    let custom = viewer(&app, &key.sign(&claims("dave", &["readers", "ops"]))).await;
    let default_group = viewer(&app, &key.sign(&claims("dave", &[ADMINS]))).await;

    assert_viewer(&custom, "dave", "PLATFORM_ADMIN");
    assert_unauthorized(&default_group, "a group of the default map only");
}

#[tokio::test]
async fn the_roles_claim_name_is_configurable_and_may_hold_a_single_string() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().env("DXCP_OIDC_ROLES_CLAIM", "groups").spawn().await;

    let token = key.sign(&with(claims("erin", &[ADMINS]), json!({ "groups": OWNERS })));

    // `roles` says admin, but only the configured claim counts.
    assert_viewer(&viewer(&app, &token).await, "erin", "DELIVERY_OWNER");
}

#[tokio::test]
async fn a_token_with_no_mapped_group_is_refused() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    let unmapped = key.sign(&claims("frank", &["payments", "storefront", "Dxcp-Observers"]));
    let no_claim = key.sign(&without(claims("frank", &[ADMINS]), "roles"));

    assert_unauthorized(&viewer(&app, &unmapped).await, "only unmapped groups");
    assert_unauthorized(&viewer(&app, &no_claim).await, "no roles claim");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;
    let claims = claims("mallory", &[ADMINS]);

    for alg in ["none", "None", "NONE"] {
        let token = forged(&json!({ "alg": alg, "typ": "JWT", "kid": key.kid }), &claims, b"");
        assert_unauthorized(&viewer(&app, &token).await, alg);
    }
    // A valid RS256 signature does not help a header that says none.
    let signed = key.sign(&claims);
    let signature = signed.rsplit('.').next().expect("three parts");
    let token =
        forged(&json!({ "alg": "none", "kid": key.kid }), &claims, &URL_SAFE_NO_PAD.decode(signature).expect("b64"));
    assert_unauthorized(&viewer(&app, &token).await, "none with a signature");
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_as_secret_is_refused() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;
    let claims = claims("mallory", &[ADMINS]);

    // The classic confusion attack: a verifier that trusts the header's alg
    // would HMAC-verify with the RSA public key it has.
    let with_pem = hs256(&key.kid, &claims, key.public_pem.as_bytes());
    let n = key.jwk["n"].as_str().expect("modulus");
    let with_modulus = hs256(&key.kid, &claims, n.as_bytes());

    assert_unauthorized(&viewer(&app, &with_pem).await, "HS256 with the public key PEM");
    assert_unauthorized(&viewer(&app, &with_modulus).await, "HS256 with the JWK modulus");
    assert_eq!(idp.hits(), 0, "a non-RS256 token never reaches the identity provider");
}

#[tokio::test]
async fn hs256_signed_with_a_random_secret_is_refused() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    let token = hs256(&key.kid, &claims("mallory", &[ADMINS]), uuid::Uuid::new_v4().as_bytes());

    assert_unauthorized(&viewer(&app, &token).await, "HS256 with a random secret");
}

#[tokio::test]
async fn a_token_signed_by_a_key_outside_the_jwks_is_refused() {
    let published = SigningKey::generate("k1");
    let stranger = SigningKey::generate("stranger");
    let idp = Idp::start(&[&published]).await;
    let app = idp.app().spawn().await;
    let claims = claims("mallory", &[ADMINS]);

    let unknown_kid = stranger.sign(&claims);
    let borrowed_kid =
        stranger.sign_with(Header { kid: Some(published.kid.clone()), ..Header::new(Algorithm::RS256) }, &claims);

    assert_unauthorized(&viewer(&app, &unknown_kid).await, "a kid the JWKS does not have");
    assert_unauthorized(&viewer(&app, &borrowed_kid).await, "a published kid on a foreign signature");
}

#[tokio::test]
async fn a_token_without_kid_is_accepted_only_while_the_jwks_has_one_key() {
    let key = SigningKey::generate("k1");
    let other = SigningKey::generate("k2");
    let idp = Idp::start(&[&key]).await;
    let single = idp.app().spawn().await;
    let token = key.sign_with(Header::new(Algorithm::RS256), &claims("gina", &[OBSERVERS]));

    assert_viewer(&viewer(&single, &token).await, "gina", "OBSERVER");

    // A second server, so the first one's cached single-key set plays no part.
    idp.publish(&[&key, &other]);
    let several = idp.app().spawn().await;
    assert_unauthorized(&viewer(&several, &token).await, "no kid with two published keys");
}

#[tokio::test]
async fn an_expired_token_is_refused_but_the_clock_leeway_is_honoured() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    let expired = key.sign(&with(claims("hank", &[OBSERVERS]), json!({ "exp": now() - 120 })));
    let just_expired = key.sign(&with(claims("hank", &[OBSERVERS]), json!({ "exp": now() - 5 })));
    let no_exp = key.sign(&without(claims("hank", &[OBSERVERS]), "exp"));

    assert_unauthorized(&viewer(&app, &expired).await, "expired two minutes ago");
    assert_viewer(&viewer(&app, &just_expired).await, "hank", "OBSERVER");
    assert_unauthorized(&viewer(&app, &no_exp).await, "no exp");
}

#[tokio::test]
async fn a_token_whose_nbf_is_in_the_future_is_refused() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    let future = key.sign(&with(claims("ivan", &[OBSERVERS]), json!({ "nbf": now() + 300 })));
    let skewed = key.sign(&with(claims("ivan", &[OBSERVERS]), json!({ "nbf": now() + 5 })));

    assert_unauthorized(&viewer(&app, &future).await, "nbf five minutes ahead");
    assert_viewer(&viewer(&app, &skewed).await, "ivan", "OBSERVER");
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    for iss in [json!("https://evil.test/realms/dxcp"), json!(format!("{ISSUER}/")), json!([ISSUER])] {
        let token = key.sign(&with(claims("judy", &[OBSERVERS]), json!({ "iss": iss })));
        assert_unauthorized(&viewer(&app, &token).await, &format!("iss {iss}"));
    }
    let no_iss = key.sign(&without(claims("judy", &[OBSERVERS]), "iss"));
    assert_unauthorized(&viewer(&app, &no_iss).await, "no iss");
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    for aud in [json!("another-api"), json!(["another-api", "billing"]), json!([])] {
        let token = key.sign(&with(claims("ken", &[OBSERVERS]), json!({ "aud": aud })));
        assert_unauthorized(&viewer(&app, &token).await, &format!("aud {aud}"));
    }
    let no_aud = key.sign(&without(claims("ken", &[OBSERVERS]), "aud"));
    assert_unauthorized(&viewer(&app, &no_aud).await, "no aud");
}

#[tokio::test]
async fn an_audience_list_containing_ours_is_accepted() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    let token = key.sign(&with(claims("lena", &[OBSERVERS]), json!({ "aud": ["account", AUDIENCE] })));

    assert_viewer(&viewer(&app, &token).await, "lena", "OBSERVER");
}

#[tokio::test]
async fn a_token_without_sub_is_refused() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;

    let missing = key.sign(&without(claims("x", &[ADMINS]), "sub"));
    let empty = key.sign(&claims("", &[ADMINS]));

    assert_unauthorized(&viewer(&app, &missing).await, "no sub");
    assert_unauthorized(&viewer(&app, &empty).await, "empty sub");
}

#[tokio::test]
async fn dev_tokens_are_refused_in_oidc_mode_even_when_configured() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().env("DXCP_DEV_TOKENS", "dxcp-dev-admin=admin:PLATFORM_ADMIN").spawn().await;

    for token in ["dxcp-dev-admin", "dxcp-dev-owner", "dxcp-dev-observer", "dxcp-dev-ci"] {
        assert_unauthorized(&viewer(&app, token).await, token);
    }
    assert_eq!(idp.hits(), 0, "a non-JWT never reaches the identity provider");
}

#[tokio::test]
async fn the_jwks_is_fetched_lazily_once_and_served_from_cache_for_a_known_kid() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;
    assert_eq!(idp.hits(), 0, "nothing is fetched at startup");

    for n in 0..20 {
        let token = key.sign(&claims(&format!("user-{n}"), &[OBSERVERS]));
        assert_viewer(&viewer(&app, &token).await, &format!("user-{n}"), "OBSERVER");
    }

    assert_eq!(idp.hits(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_a_refetch_on_its_unknown_kid() {
    let old = SigningKey::generate("2024-old");
    let new = SigningKey::generate("2025-new");
    let idp = Idp::start(&[&old]).await;
    let app = idp.app().spawn().await;
    assert_viewer(&viewer(&app, &old.sign(&claims("mia", &[OWNERS]))).await, "mia", "DELIVERY_OWNER");
    assert_eq!(idp.hits(), 1);

    // The provider rotates; the next fetch slot opens one interval after the first fetch.
    idp.publish(&[&new]);
    tokio::time::sleep(JWKS_REFETCH_INTERVAL + Duration::from_millis(200)).await;
    let refetched = Instant::now();
    let rotated = viewer(&app, &new.sign(&claims("mia", &[OWNERS]))).await;
    let retired = viewer(&app, &old.sign(&claims("mia", &[OWNERS]))).await;

    assert_viewer(&rotated, "mia", "DELIVERY_OWNER");
    assert_unauthorized(&retired, "a key the provider withdrew");
    // Only a machine too slow to send two requests within the interval may see a third fetch.
    let within_interval = refetched.elapsed() < JWKS_REFETCH_INTERVAL;
    assert!(idp.hits() == 2 || !within_interval, "the retired kid refetched within the interval: {}", idp.hits());
}

#[tokio::test]
async fn a_flood_of_unknown_kids_fetches_the_jwks_at_most_once_per_interval() {
    let published = SigningKey::generate("k1");
    let stranger = SigningKey::generate("stranger");
    let idp = Idp::start(&[&published]).await;
    let app = idp.app().spawn().await;
    let claims = claims("mallory", &[ADMINS]);
    let started = Instant::now();

    for n in 0..30 {
        let header = Header { kid: Some(format!("bogus-{n}")), ..Header::new(Algorithm::RS256) };
        assert_unauthorized(&viewer(&app, &stranger.sign_with(header, &claims)).await, "bogus kid");
    }

    let intervals = (started.elapsed().as_secs_f64() / JWKS_REFETCH_INTERVAL.as_secs_f64()).floor() as usize;
    assert!(idp.hits() >= 1 && idp.hits() <= 1 + intervals, "{} fetches for 30 bogus kids", idp.hits());
}

#[tokio::test]
async fn delivery_group_membership_comes_from_the_catalogue_not_from_token_groups() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;
    let query = "{ viewer { actorId role deliveryGroups { id } } }";

    // The demo catalogue lists "owner" as a member of both groups.
    let member = app.gql_as(Some(&key.sign(&claims("owner", &[OWNERS]))), query, json!({})).await;
    // Group names in the token (even the demo groups' ids) grant nothing.
    let outsider_claims = claims("someone-else", &[OWNERS, "payments", "storefront", "Payments"]);
    let outsider = app.gql_as(Some(&key.sign(&outsider_claims)), query, json!({})).await;

    let mut groups: Vec<String> = member.ok()["viewer"]["deliveryGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["id"].as_str().expect("id").to_owned())
        .collect();
    groups.sort();
    assert_eq!(groups, ["payments", "storefront"]);
    assert_eq!(
        outsider.ok()["viewer"],
        json!({ "actorId": "someone-else", "role": "DELIVERY_OWNER", "deliveryGroups": [] })
    );
}

/// A WebSocket connection lives no longer than its token: it is closed
/// with 4403 the moment the token stops being accepted (`exp` plus the
/// clock leeway), with no operation needed to notice.
#[tokio::test]
async fn a_websocket_connection_is_closed_with_4403_when_its_token_expires() {
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    let app = idp.app().spawn().await;
    let leeway = dxcp::auth::oidc::CLOCK_LEEWAY.as_secs() as i64;
    // Accepted for about two more seconds.
    let expiring = key.sign(&with(claims("hank", &[OBSERVERS]), json!({ "exp": now() - leeway + 2 })));

    let mut ws = WsClient::session(&app, &expiring).await;
    let answered = ws.execute("1", VIEWER, json!({})).await;
    assert_eq!(answered["data"]["viewer"]["actorId"], "hank", "{answered}");

    let started = Instant::now();
    assert_eq!(ws.closed_code(Duration::from_secs(10)).await, Some(4403));
    assert!(started.elapsed() < Duration::from_secs(6), "closed when the token lapsed, after {:?}", started.elapsed());
    assert_unauthorized(&viewer(&app, &expiring).await, "the same token over HTTP");
}

#[tokio::test]
async fn a_jwks_url_that_redirects_is_a_failed_fetch_even_when_the_target_holds_the_keys() {
    // Arrange: the configured URL redirects to a server publishing the real key.
    let key = SigningKey::generate("k1");
    let target = Idp::start(&[&key]).await;
    let (redirecting_url, redirects) = redirecting_jwks(target.jwks_url.clone()).await;
    let app = target.app().env("DXCP_OIDC_JWKS_URL", redirecting_url).spawn().await;

    // Act
    let response = viewer(&app, &key.sign(&claims("mia", &[ADMINS]))).await;

    // Assert
    assert_unauthorized(&response, "keys behind a redirect");
    assert!(redirects.load(Ordering::SeqCst) >= 1, "the configured JWKS URL was asked");
    assert_eq!(target.hits(), 0, "the redirect was not followed");
}

#[tokio::test]
async fn a_jwks_document_over_the_size_limit_is_a_failed_fetch() {
    // Arrange: a valid key, padded past the limit with a key we would skip.
    let key = SigningKey::generate("k1");
    let idp = Idp::start(&[&key]).await;
    idp.publish_extra(json!({ "kty": "oct", "kid": "padding", "k": "A".repeat(MAX_JWKS_BYTES) }));
    let app = idp.app().spawn().await;

    // Act
    let oversized = viewer(&app, &key.sign(&claims("mia", &[ADMINS]))).await;

    // Assert
    assert_unauthorized(&oversized, "an oversized JWKS");
    assert_eq!(idp.hits(), 1, "the JWKS was fetched");

    // The same key in a document of normal size works after the next fetch slot.
    idp.publish(&[&key]);
    tokio::time::sleep(JWKS_REFETCH_INTERVAL + Duration::from_millis(200)).await;
    assert_viewer(&viewer(&app, &key.sign(&claims("mia", &[ADMINS]))).await, "mia", "PLATFORM_ADMIN");
}
