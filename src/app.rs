//! Wiring: configuration in, a bound listener and a ready router out.
//! `Application::build` is what `dxcp serve` and the integration tests run,
//! so tests exercise the real startup path (port 0 in tests).

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use chrono::Utc;
use tokio::net::TcpListener;

use crate::{
    auth::{dev_tokens::DevTokenAuthenticator, Authenticator},
    catalog::{self, CATALOG_ACTOR},
    config::{AuthMode, Config, EngineKind},
    domain::catalog::SystemSettings,
    engine::{
        instrumented::InstrumentedEngine,
        simulated::SimulatedEngine,
        spinnaker::{GateClient, GateConfig},
        Engine,
    },
    graphql::build_schema,
    http::{router, AppState, EdgeSettings},
    metrics::Metrics,
    service::{RuntimePolicy, Services},
    store::Store,
};

/// Builds registered per CI publisher per day unless an admin changes it.
pub const DEFAULT_DAILY_BUILD_REGISTER_QUOTA: i32 = 200;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    services: Services,
    /// The timer that writes closed audit bursts; stopped when the
    /// application is dropped or has shut down.
    burst_flusher: AbortOnDrop,
}

/// A background task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Application {
    /// Connects and migrates the database, loads the catalogue into an empty
    /// one, builds the engine, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = Store::connect(&config.database_url).await.context("connecting to the database")?;
        store.migrate().await.context("applying migrations")?;
        seed_first_start(&store, &config).await?;

        let metrics = Arc::new(Metrics::new().context("registering metrics")?);
        let engine: Arc<dyn Engine> = Arc::new(InstrumentedEngine::new(build_engine(&config)?, metrics.clone()));
        let services = Services::new(
            store,
            engine,
            RuntimePolicy {
                engine_timeout: config.engine_timeout,
                stale_after: config.stale_after,
                audit_burst_window: config.audit_burst_window,
            },
            metrics,
        );
        let failed = services.sweep_stale().await.map_err(|e| anyhow::anyhow!("stale-record pass: {}", e.message))?;
        if failed > 0 {
            tracing::warn!(failed, "failed stale in-flight records at startup");
        }
        let auth = build_authenticator(&config)?;
        let state = AppState {
            schema: build_schema(services.clone()),
            services: services.clone(),
            auth,
            edge: EdgeSettings {
                introspection: config.introspection,
                graphiql: config.graphiql,
                request_timeout: config.request_timeout,
                cors_origins: config.cors_origins.clone(),
            },
        };
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let burst_flusher = AbortOnDrop(services.spawn_audit_burst_flusher());
        Ok(Self { listener, router: router(state), services, burst_flusher })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The use cases behind the server (tests read the store's statement count).
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves, drains in-flight requests, then writes
    /// the audit bursts still open so no refusal count is lost.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Self { listener, router, services, burst_flusher } = self;
        let served = axum::serve(listener, router).with_graceful_shutdown(stop).await;
        drop(burst_flusher);
        let flushed = services.flush_audit_bursts(true).await;
        if flushed > 0 {
            tracing::info!(flushed, "audit bursts written at shutdown");
        }
        served
    }
}

/// On a database with no delivery group: loads the catalogue and writes
/// the initial settings. Afterwards both change only through mutations.
pub async fn seed_first_start(store: &Store, config: &Config) -> anyhow::Result<()> {
    let now = Utc::now();
    let parsed = if store.has_delivery_groups().await? {
        None
    } else {
        let text = match &config.catalog_path {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading DXCP_CATALOG file {}", path.display()))?,
            None => catalog::DEMO_CATALOG.to_owned(),
        };
        Some(catalog::parse(&text, now)?)
    };
    let ci_publishers = parsed.as_ref().map(|c| c.ci_publishers.clone()).unwrap_or_default();
    store
        .init_settings(
            &SystemSettings {
                mutations_disabled: config.kill_switch,
                read_rpm: config.read_rpm,
                mutate_rpm: config.mutate_rpm,
                daily_build_register_quota: DEFAULT_DAILY_BUILD_REGISTER_QUOTA,
                ci_publishers,
            },
            now,
        )
        .await?;
    if let Some(catalog) = parsed {
        store.load_catalog(&catalog.snapshot, CATALOG_ACTOR, now).await.context("loading the catalogue")?;
        tracing::info!(
            groups = catalog.snapshot.delivery_groups.len(),
            services = catalog.snapshot.services.len(),
            "catalogue loaded into an empty database"
        );
    }
    Ok(())
}

fn build_engine(config: &Config) -> anyhow::Result<Arc<dyn Engine>> {
    match config.engine {
        EngineKind::Simulated => Ok(Arc::new(SimulatedEngine::new(config.simulated_duration))),
        EngineKind::Spinnaker => {
            let gate = config.gate.as_ref().context("DXCP_SPINNAKER_GATE_URL is required for the spinnaker engine")?;
            let client_identity_pem = gate
                .client_identity_pem
                .as_ref()
                .map(|path| std::fs::read(path).with_context(|| format!("reading {}", path.display())))
                .transpose()?;
            let client = GateClient::new(GateConfig {
                base_url: gate.url.clone(),
                timeout: config.engine_timeout,
                bearer_token: gate.token.as_ref().map(|t| t.expose().to_owned()),
                extra_header: gate.extra_header.as_ref().map(|(n, v)| (n.clone(), v.expose().to_owned())),
                client_identity_pem,
                ui_base_url: gate.ui_url.clone(),
            })
            .map_err(|e| anyhow::anyhow!("configuring the Gate client: {}", e.operator_detail()))?;
            Ok(Arc::new(client))
        }
    }
}

fn build_authenticator(config: &Config) -> anyhow::Result<Arc<dyn Authenticator>> {
    match config.auth {
        AuthMode::Dev => {
            for token in &config.dev_tokens {
                // Dev tokens are printed on purpose: they only work on loopback.
                tracing::warn!(
                    token = token.token.expose(),
                    actor = %token.principal.actor_id,
                    role = %token.principal.role,
                    "development token (DXCP_AUTH=dev; never use in production)"
                );
            }
            Ok(Arc::new(DevTokenAuthenticator::new(&config.dev_tokens)))
        }
        AuthMode::Oidc => {
            // Config leaves `dev_tokens` empty in this mode; only the OIDC
            // authenticator is built, so no static token can be accepted.
            let settings = config.oidc.as_ref().context("DXCP_AUTH=oidc needs the DXCP_OIDC_* settings")?;
            let http = crate::auth::oidc::http_client()?;
            let authenticator = crate::auth::oidc::OidcAuthenticator::new(settings, http)?;
            tracing::info!(
                issuer = %settings.issuer,
                audience = %settings.audience,
                jwks_url = %settings.jwks_url,
                roles_claim = %settings.roles_claim,
                "OIDC authentication (RS256 tokens from the JWKS)"
            );
            Ok(Arc::new(authenticator))
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
