//! `TestApp`: the real server (`Application::build`) on 127.0.0.1:0 with a
//! fresh database, plus per-role GraphQL clients.
//!
//! The harness, one place per concern:
//! - `graphql`: documents and one call per deployment operation (deploy,
//!   rollback, cancel, reads, preflights), intents, idempotency keys, polls,
//!   the audit log and connection pages as the API serves them;
//! - `admin`: the administrative mutations, their inputs and readers;
//! - `storage`: the ONE way a test reads storage directly (what a refusal did
//!   not write, engine execution ids, reads that must not touch a rate limit);
//! - `catalog`: test catalogues; `seed`: history written straight to storage;
//! - `fake_gate`: a fake Spinnaker Gate; `ws`: a WebSocket client; `db`: the
//!   per-test database.

pub mod admin;
pub mod catalog;
pub mod db;
pub mod fake_gate;
pub mod graphql;
pub mod seed;
pub mod storage;
pub mod ws;

use std::collections::HashMap;

use dxcp::{app::Application, config::Config, service::Services};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub use db::TestDb;

pub const ADMIN: &str = "dxcp-dev-admin";
pub const OWNER: &str = "dxcp-dev-owner";
pub const OBSERVER: &str = "dxcp-dev-observer";
pub const CI: &str = "dxcp-dev-ci";

pub struct TestApp {
    pub address: String,
    /// `http://host:port` of the `/metrics` listener, when `DXCP_METRICS_LISTEN` is set.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub services: Services,
    /// Kept alive for the test; dropped (and dropped on PostgreSQL) after the server.
    pub _db: TestDb,
    stop: Option<oneshot::Sender<()>>,
    /// The server task: resolves once it has shut down.
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// The configuration the server runs with, for a restart.
    env: HashMap<String, String>,
    _files: Option<tempfile::TempDir>,
}

/// Builder for a test server: environment overrides on top of test defaults.
pub struct TestAppBuilder {
    env: HashMap<String, String>,
    /// Files the server reads (a catalogue), kept until the test ends.
    files: Option<tempfile::TempDir>,
}

impl TestAppBuilder {
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    /// Runs deployments through the real Gate client against `gate`, which
    /// accepts any pipeline of the catalogue.
    pub fn gate(self, gate: &fake_gate::FakeGate) -> Self {
        gate.accept_any_pipeline();
        self.env("DXCP_ENGINE", "spinnaker")
            .env("DXCP_SPINNAKER_GATE_URL", gate.base_url())
            .env("DXCP_ENGINE_TIMEOUT_MS", "1000")
    }

    /// Loads this TOML text as the catalogue instead of the demo one.
    pub fn catalog(self, toml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("catalog.toml");
        std::fs::write(&path, toml).expect("write catalogue");
        let builder = self.env("DXCP_CATALOG", path.display().to_string());
        TestAppBuilder { files: Some(dir), ..builder }
    }

    pub async fn spawn(self) -> TestApp {
        let db = TestDb::create().await;
        let mut env = self.env.clone();
        env.entry("DXCP_LISTEN".into()).or_insert_with(|| "127.0.0.1:0".into());
        env.entry("DXCP_DATABASE_URL".into()).or_insert_with(|| db.url.clone());
        env.entry("DXCP_SIMULATED_DURATION_MS".into()).or_insert_with(|| "300".into());
        let server = start(&env).await;
        TestApp {
            address: server.address,
            metrics_address: server.metrics_address,
            client: reqwest::Client::new(),
            services: server.services,
            _db: db,
            stop: Some(server.stop),
            server: Some(server.task),
            env,
            _files: self.files,
        }
    }
}

/// A running server.
struct Started {
    address: String,
    metrics_address: Option<String>,
    services: Services,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(env: &HashMap<String, String>) -> Started {
    let config = Config::from_lookup(|name| env.get(name).cloned()).expect("test configuration");
    let app = Application::build(config).await.expect("application starts");
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    let metrics_address = app.metrics_addr().map(|a| format!("http://{}", a.expect("bound metrics address")));
    let services = app.services().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    Started { address, metrics_address, services, stop, task }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A GraphQL answer: HTTP status, headers and JSON body.
#[derive(Debug)]
pub struct GqlResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl GqlResponse {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn errors(&self) -> Vec<Value> {
        self.body["errors"].as_array().cloned().unwrap_or_default()
    }

    /// Codes of all errors, in order.
    pub fn codes(&self) -> Vec<String> {
        self.errors().iter().filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned)).collect()
    }

    pub fn first_code(&self) -> Option<String> {
        self.codes().into_iter().next()
    }

    /// Panics with the body when the response carries errors.
    pub fn ok(&self) -> &Value {
        assert!(self.errors().is_empty(), "unexpected errors: {}", self.body);
        self.data()
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder { env: HashMap::new(), files: None }
    }

    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.address)
    }

    /// POSTs a GraphQL request with `token` (or none).
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> GqlResponse {
        let mut request = self.client.post(self.graphql_url()).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        GqlResponse { status, headers, body }
    }

    pub async fn admin(&self, query: &str, variables: Value) -> GqlResponse {
        self.gql_as(Some(ADMIN), query, variables).await
    }
    pub async fn owner(&self, query: &str, variables: Value) -> GqlResponse {
        self.gql_as(Some(OWNER), query, variables).await
    }
    pub async fn observer(&self, query: &str, variables: Value) -> GqlResponse {
        self.gql_as(Some(OBSERVER), query, variables).await
    }
    pub async fn ci(&self, query: &str, variables: Value) -> GqlResponse {
        self.gql_as(Some(CI), query, variables).await
    }

    /// Starts the server's graceful shutdown, as SIGTERM does.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts the server down gracefully (as SIGTERM does), waits until it
    /// has, and starts a new one on the same database and configuration.
    pub async fn restart(&mut self) {
        self.begin_shutdown();
        if let Some(task) = self.server.take() {
            let stopped = tokio::time::timeout(std::time::Duration::from_secs(15), task).await;
            stopped.expect("the server shuts down").expect("the server task").expect("a clean shutdown");
        }
        let server = start(&self.env).await;
        self.address = server.address;
        self.metrics_address = server.metrics_address;
        self.services = server.services;
        self.stop = Some(server.stop);
        self.server = Some(server.task);
    }

    /// SQL statements executed by the server so far.
    pub fn statements(&self) -> u64 {
        self.services.store().statements_executed()
    }
}

/// `http://127.0.0.1:<port>` of a port nothing listens on (bound, then freed).
pub fn unused_local_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free local port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
