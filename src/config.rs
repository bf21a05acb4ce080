//! Typed configuration from `DXCP_*` environment variables (DESIGN §9),
//! validated once at startup. Every error names the variable. Secrets are
//! wrapped so `Debug` never prints them.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use crate::domain::{Principal, Role};

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Simulated,
    Spinnaker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    Dev,
    Oidc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    On,
    Admin,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A dev token and the caller it stands for.
#[derive(Debug, Clone)]
pub struct DevToken {
    pub token: Secret,
    pub principal: Principal,
}

#[derive(Debug, Clone)]
pub struct GateSettings {
    pub url: String,
    pub token: Option<Secret>,
    pub extra_header: Option<(String, Secret)>,
    pub client_identity_pem: Option<PathBuf>,
    pub ui_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub roles_claim: String,
    pub role_map: Vec<(String, Role)>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// A second address serving only `/metrics`, without authentication
    /// (a private scrape network). `None`: `/metrics` is on `listen` and
    /// needs a PLATFORM_ADMIN token.
    pub metrics_listen: Option<SocketAddr>,
    pub database_url: String,
    pub engine: EngineKind,
    pub gate: Option<GateSettings>,
    pub auth: AuthMode,
    pub dev_tokens: Vec<DevToken>,
    pub oidc: Option<OidcSettings>,
    /// `None`: the built-in demo catalogue.
    pub catalog_path: Option<PathBuf>,
    pub kill_switch: bool,
    pub read_rpm: i32,
    pub mutate_rpm: i32,
    pub stale_after: Duration,
    pub engine_timeout: Duration,
    pub simulated_duration: Duration,
    pub cors_origins: Vec<String>,
    pub introspection: Introspection,
    pub graphiql: bool,
    pub log_format: LogFormat,
    pub otlp_endpoint: Option<String>,
    /// Deadline of one GraphQL request.
    pub request_timeout: Duration,
    /// How long a burst of identical refusals is aggregated into one audit
    /// event (`service::audit_burst`).
    pub audit_burst_window: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/dxcp.db?mode=rwc";
pub const DEFAULT_DEV_TOKENS: &str =
    "dxcp-dev-admin=admin:PLATFORM_ADMIN,dxcp-dev-owner=owner:DELIVERY_OWNER,dxcp-dev-observer=observer:OBSERVER,dxcp-dev-ci=ci:CI_PUBLISHER";
pub const DEFAULT_ROLE_MAP: &str = "dxcp-platform-admins=PLATFORM_ADMIN,dxcp-delivery-owners=DELIVERY_OWNER,dxcp-observers=OBSERVER,dxcp-ci-publishers=CI_PUBLISHER";
pub use crate::domain::settings::RPM_RANGE;
/// How long identical refusals are aggregated unless `DXCP_AUDIT_BURST_WINDOW_MS` says otherwise.
pub const DEFAULT_AUDIT_BURST_WINDOW: Duration = Duration::from_secs(60);

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let auth = match get("DXCP_AUTH").as_deref() {
            None | Some("dev") => AuthMode::Dev,
            Some("oidc") => AuthMode::Oidc,
            Some(other) => return Err(bad("DXCP_AUTH", format!("'{other}' is not dev or oidc"))),
        };
        let listen_text = get("DXCP_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr =
            listen_text.parse().map_err(|_| bad("DXCP_LISTEN", format!("'{listen_text}' is not host:port")))?;
        if auth == AuthMode::Dev && !listen.ip().is_loopback() {
            return Err(bad("DXCP_LISTEN", "dev auth mode only binds to a loopback address; set DXCP_AUTH=oidc"));
        }
        let metrics_listen = get("DXCP_METRICS_LISTEN")
            .map(|text| {
                text.parse::<SocketAddr>().map_err(|_| bad("DXCP_METRICS_LISTEN", format!("'{text}' is not host:port")))
            })
            .transpose()?;
        if metrics_listen.is_some_and(|m| m.port() != 0 && m == listen) {
            return Err(bad("DXCP_METRICS_LISTEN", "must differ from DXCP_LISTEN"));
        }
        let engine = match get("DXCP_ENGINE").as_deref() {
            None | Some("simulated") => EngineKind::Simulated,
            Some("spinnaker") => EngineKind::Spinnaker,
            Some(other) => return Err(bad("DXCP_ENGINE", format!("'{other}' is not simulated or spinnaker"))),
        };
        let gate = match get("DXCP_SPINNAKER_GATE_URL") {
            Some(url) => Some(GateSettings {
                url,
                token: get("DXCP_SPINNAKER_TOKEN").map(Secret::new),
                extra_header: get("DXCP_SPINNAKER_EXTRA_HEADER").map(|h| parse_header(&h)).transpose()?,
                client_identity_pem: get("DXCP_SPINNAKER_CLIENT_PEM").map(PathBuf::from),
                ui_url: get("DXCP_SPINNAKER_UI_URL"),
            }),
            None if engine == EngineKind::Spinnaker => {
                return Err(bad("DXCP_SPINNAKER_GATE_URL", "required when DXCP_ENGINE=spinnaker"))
            }
            None => None,
        };
        let dev_tokens = match auth {
            AuthMode::Dev => {
                parse_dev_tokens(&get("DXCP_DEV_TOKENS").unwrap_or_else(|| DEFAULT_DEV_TOKENS.to_owned()))?
            }
            // In OIDC mode dev tokens are refused even when configured.
            AuthMode::Oidc => Vec::new(),
        };
        let oidc = match auth {
            AuthMode::Dev => None,
            AuthMode::Oidc => Some(OidcSettings {
                issuer: get("DXCP_OIDC_ISSUER").ok_or_else(|| bad("DXCP_OIDC_ISSUER", "required in oidc mode"))?,
                audience: get("DXCP_OIDC_AUDIENCE")
                    .ok_or_else(|| bad("DXCP_OIDC_AUDIENCE", "required in oidc mode"))?,
                jwks_url: get("DXCP_OIDC_JWKS_URL")
                    .ok_or_else(|| bad("DXCP_OIDC_JWKS_URL", "required in oidc mode"))?,
                roles_claim: get("DXCP_OIDC_ROLES_CLAIM").unwrap_or_else(|| "roles".to_owned()),
                role_map: parse_role_map(&get("DXCP_OIDC_ROLE_MAP").unwrap_or_else(|| DEFAULT_ROLE_MAP.to_owned()))?,
            }),
        };
        let introspection = match get("DXCP_INTROSPECTION").as_deref() {
            None if auth == AuthMode::Dev => Introspection::On,
            None => Introspection::Admin,
            Some("on") => Introspection::On,
            Some("admin") => Introspection::Admin,
            Some("off") => Introspection::Off,
            Some(other) => return Err(bad("DXCP_INTROSPECTION", format!("'{other}' is not on, admin or off"))),
        };
        let graphiql = match get("DXCP_GRAPHIQL") {
            None => auth == AuthMode::Dev,
            Some(v) => parse_bool("DXCP_GRAPHIQL", &v)?,
        };
        let log_format = match get("DXCP_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(bad("DXCP_LOG_FORMAT", format!("'{other}' is not text or json"))),
        };
        Ok(Self {
            listen,
            metrics_listen,
            database_url: get("DXCP_DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            engine,
            gate,
            auth,
            dev_tokens,
            oidc,
            catalog_path: get("DXCP_CATALOG").map(PathBuf::from),
            kill_switch: get("DXCP_KILL_SWITCH")
                .map(|v| parse_bool("DXCP_KILL_SWITCH", &v))
                .transpose()?
                .unwrap_or(false),
            read_rpm: parse_rpm("DXCP_READ_RPM", get("DXCP_READ_RPM"), 600)?,
            mutate_rpm: parse_rpm("DXCP_MUTATE_RPM", get("DXCP_MUTATE_RPM"), 60)?,
            stale_after: Duration::from_secs(parse_number(
                "DXCP_STALE_AFTER_SECONDS",
                get("DXCP_STALE_AFTER_SECONDS"),
                900,
            )?),
            engine_timeout: Duration::from_millis(parse_number(
                "DXCP_ENGINE_TIMEOUT_MS",
                get("DXCP_ENGINE_TIMEOUT_MS"),
                10_000,
            )?),
            simulated_duration: Duration::from_millis(parse_number(
                "DXCP_SIMULATED_DURATION_MS",
                get("DXCP_SIMULATED_DURATION_MS"),
                2_000,
            )?),
            cors_origins: get("DXCP_CORS_ORIGINS")
                .map(|v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            introspection,
            graphiql,
            log_format,
            otlp_endpoint: get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            request_timeout: Duration::from_millis(parse_number(
                "DXCP_REQUEST_TIMEOUT_MS",
                get("DXCP_REQUEST_TIMEOUT_MS"),
                30_000,
            )?),
            audit_burst_window: parse_positive_ms(
                "DXCP_AUDIT_BURST_WINDOW_MS",
                get("DXCP_AUDIT_BURST_WINDOW_MS"),
                DEFAULT_AUDIT_BURST_WINDOW,
            )?,
        })
    }
}

fn bad(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

fn parse_bool(variable: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(variable, format!("'{value}' is not true or false"))),
    }
}

fn parse_number(variable: &'static str, value: Option<String>, default: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| bad(variable, format!("'{v}' is not a non-negative integer"))),
    }
}

fn parse_positive_ms(
    variable: &'static str,
    value: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
    match parse_number(variable, value, default_ms)? {
        0 => Err(bad(variable, "must be at least 1")),
        ms => Ok(Duration::from_millis(ms)),
    }
}

fn parse_rpm(variable: &'static str, value: Option<String>, default: i32) -> Result<i32, ConfigError> {
    let n = parse_number(variable, value, default as u64)?;
    i32::try_from(n)
        .ok()
        .filter(|n| RPM_RANGE.contains(n))
        .ok_or_else(|| bad(variable, format!("{n} is outside 1..=100000")))
}

fn parse_header(text: &str) -> Result<(String, Secret), ConfigError> {
    text.split_once(':')
        .map(|(name, value)| (name.trim().to_owned(), Secret::new(value.trim())))
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| bad("DXCP_SPINNAKER_EXTRA_HEADER", "expected 'Header-Name: value'"))
}

/// `token=actorId:ROLE` entries, comma-separated.
fn parse_dev_tokens(text: &str) -> Result<Vec<DevToken>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (token, rest) =
                entry.split_once('=').ok_or_else(|| bad("DXCP_DEV_TOKENS", "expected token=actorId:ROLE"))?;
            let (actor, role) =
                rest.rsplit_once(':').ok_or_else(|| bad("DXCP_DEV_TOKENS", "expected token=actorId:ROLE"))?;
            let role: Role = role.trim().parse().map_err(|e: String| bad("DXCP_DEV_TOKENS", e))?;
            if token.trim().is_empty() || actor.trim().is_empty() {
                return Err(bad("DXCP_DEV_TOKENS", "token and actor must not be empty"));
            }
            Ok(DevToken { token: Secret::new(token.trim()), principal: Principal::new(actor.trim(), role) })
        })
        .collect()
}

fn parse_role_map(text: &str) -> Result<Vec<(String, Role)>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (group, role) =
                entry.split_once('=').ok_or_else(|| bad("DXCP_OIDC_ROLE_MAP", "expected group=ROLE"))?;
            let role: Role = role.trim().parse().map_err(|e: String| bad("DXCP_OIDC_ROLE_MAP", e))?;
            Ok((group.trim().to_owned(), role))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_embedded_development_setup() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.engine, EngineKind::Simulated);
        assert_eq!(c.auth, AuthMode::Dev);
        assert_eq!(c.dev_tokens.len(), 4);
        assert_eq!(c.introspection, Introspection::On);
        assert!(c.graphiql);
        assert_eq!((c.read_rpm, c.mutate_rpm), (600, 60));
        assert_eq!(c.audit_burst_window, Duration::from_secs(60));
    }

    #[test]
    fn the_audit_burst_window_is_a_positive_number_of_milliseconds() {
        let c = config(&[("DXCP_AUDIT_BURST_WINDOW_MS", "250")]).expect("valid");
        assert_eq!(c.audit_burst_window, Duration::from_millis(250));
        let e = config(&[("DXCP_AUDIT_BURST_WINDOW_MS", "0")]).expect_err("refused");
        assert_eq!(e.variable, "DXCP_AUDIT_BURST_WINDOW_MS");
    }

    #[test]
    fn dev_mode_refuses_a_public_address() {
        let e = config(&[("DXCP_LISTEN", "0.0.0.0:8080")]).expect_err("refused");
        assert_eq!(e.variable, "DXCP_LISTEN");
    }

    #[test]
    fn metrics_have_their_own_listener_only_when_one_is_configured() {
        assert_eq!(config(&[]).expect("defaults").metrics_listen, None);
        let c = config(&[("DXCP_METRICS_LISTEN", "0.0.0.0:9464")]).expect("a scrape address");
        assert_eq!(c.metrics_listen.map(|a| a.to_string()).as_deref(), Some("0.0.0.0:9464"));
        for bad in ["9464", "localhost", "127.0.0.1:8080"] {
            let e = config(&[("DXCP_METRICS_LISTEN", bad)]).expect_err(bad);
            assert_eq!(e.variable, "DXCP_METRICS_LISTEN", "{bad}");
        }
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(config(&[("DXCP_ENGINE", "nope")]).expect_err("bad").variable, "DXCP_ENGINE");
        assert_eq!(config(&[("DXCP_READ_RPM", "0")]).expect_err("bad").variable, "DXCP_READ_RPM");
        assert_eq!(config(&[("DXCP_DEV_TOKENS", "x=y:KING")]).expect_err("bad").variable, "DXCP_DEV_TOKENS");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let c = config(&[]).expect("defaults");
        assert!(!format!("{c:?}").contains("dxcp-dev-admin"));
    }
}
