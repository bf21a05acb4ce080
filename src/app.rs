//! Wiring: configuration in, bound listeners and ready routers out.
//! `Application::build` is what `dxcp serve` and the integration tests run,
//! so tests exercise the real startup path (port 0 in tests).
//!
//! With `DXCP_METRICS_LISTEN` a second listener serves `/metrics`; both
//! stop on the same signal, and an error of either stops the other.

use std::{future::IntoFuture, net::SocketAddr, sync::Arc};

use anyhow::Context as _;
use chrono::Utc;
use tokio::net::TcpListener;

use crate::{
    auth::{dev_tokens::DevTokenAuthenticator, Authenticator},
    catalog_file::{self, CATALOG_ACTOR},
    config::{AuthMode, Config, EngineKind},
    domain::settings::SystemSettings,
    engine::{
        instrumented::InstrumentedEngine,
        simulated::SimulatedEngine,
        spinnaker::{GateClient, GateConfig},
        Engine,
    },
    graphql::{build_schema, root_field_names},
    http::{metrics_router, router, AppState, EdgeSettings},
    metrics::Metrics,
    service::{RuntimePolicy, Services},
    store::Store,
};

/// Builds registered per CI publisher per day unless an admin changes it.
pub const DEFAULT_DAILY_BUILD_REGISTER_QUOTA: i32 = 200;

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    /// The `DXCP_METRICS_LISTEN` listener and its router, when configured.
    metrics: Option<(TcpListener, axum::Router)>,
    services: Services,
    /// Set once the server is stopping; long-lived connections (WebSocket)
    /// watch it to close with 1001 instead of being cut.
    stopping: tokio::sync::watch::Sender<bool>,
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
    /// one, builds the engine, and binds the listener(s).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = Store::connect(&config.database_url).await.context("connecting to the database")?;
        store.migrate().await.context("applying migrations")?;
        seed_first_start(&store, &config).await?;

        let metrics = Arc::new(Metrics::new(root_field_names()).context("registering metrics")?);
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
        let (stopping, stop_watch) = tokio::sync::watch::channel(false);
        let state = AppState {
            schema: build_schema(services.clone()),
            services: services.clone(),
            auth,
            edge: EdgeSettings {
                introspection: config.introspection,
                graphiql: config.graphiql,
                request_timeout: config.request_timeout,
                cors_origins: config.cors_origins.clone(),
                metrics_listener: config.metrics_listen.is_some(),
            },
            ws_caps: Arc::default(),
            stopping: stop_watch,
        };
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let metrics = match config.metrics_listen {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("binding DXCP_METRICS_LISTEN {address}"))?;
                tracing::info!(address = %address, "serving /metrics on its own listener, without authentication");
                Some((listener, metrics_router(services.clone())))
            }
            None => None,
        };
        let burst_flusher = AbortOnDrop(services.spawn_audit_burst_flusher());
        Ok(Self { listener, router: router(state), metrics, services, stopping, burst_flusher })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address of the `/metrics` listener, when `DXCP_METRICS_LISTEN` is set.
    pub fn metrics_addr(&self) -> Option<std::io::Result<SocketAddr>> {
        self.metrics.as_ref().map(|(listener, _)| listener.local_addr())
    }

    /// The use cases behind the server (tests read the store's statement count).
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Serves until SIGINT or SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves (tests), on every listener; then tells
    /// long-lived connections to close, drains in-flight requests, and
    /// writes the audit bursts still open so no refusal count is lost.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Self { listener, router, metrics, services, stopping, burst_flusher } = self;
        let signal = {
            let stopped = stopping.subscribe();
            move || {
                let mut stopped = stopped.clone();
                async move {
                    // An error means the sender is gone: stop as well.
                    let _ = stopped.wait_for(|stop| *stop).await;
                }
            }
        };
        let trigger = async move {
            stop.await;
            let _ = stopping.send(true);
            Ok::<(), std::io::Error>(())
        };
        // The client address is known to handlers (WebSocket caps per address).
        let main_service = router.into_make_service_with_connect_info::<SocketAddr>();
        let main = axum::serve(listener, main_service).with_graceful_shutdown(signal());
        // `try_join!` drops the other server when one fails, so neither
        // outlives the other.
        let served = match metrics {
            None => tokio::try_join!(trigger, main.into_future()).map(|_| ()),
            Some((metrics_listener, metrics_router)) => {
                let metrics = axum::serve(metrics_listener, metrics_router).with_graceful_shutdown(signal());
                tokio::try_join!(trigger, main.into_future(), metrics.into_future()).map(|_| ())
            }
        };
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
            None => catalog_file::DEMO_CATALOG.to_owned(),
        };
        Some(catalog_file::parse(&text, now)?)
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
                promotion_allow_jumps: false,
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
