//! A fake Spinnaker Gate: a real axum server on `127.0.0.1:0` that speaks the
//! subset of Gate's contract DXCP uses (SPINNAKER-GATE.md §9), with scriptable
//! execution statuses, injectable faults and a record of every request.
//!
//! ```ignore
//! let gate = FakeGate::start().await;
//! gate.add_pipeline("payments", "deploy-payments");
//! // ... point DXCP's GateClient at gate.base_url() and deploy ...
//! let id = gate.last_execution_id().unwrap();
//! gate.set_status(&id, "RUNNING");
//! gate.succeed(&id); // or gate.fail_execution(&id, &["Health check failed"])
//! gate.inject(Route::Trigger, Fault::Status(503));
//! assert_eq!(gate.triggers()[0].header("x-spinnaker-user"), Some("alice"));
//! ```
//!
//! Handle methods are synchronous (the state sits behind a std mutex that is
//! never held across an await), so tests call them from anywhere. The server
//! stops when the handle is dropped.

// A shared harness: each test uses only some of its helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Gate's request-id header, echoed on every response.
const REQUEST_ID: &str = "x-spinnaker-request-id";
/// Gate's acting-user header.
const USER: &str = "x-spinnaker-user";
/// Largest request body the fake reads.
const MAX_BODY: usize = 1 << 20;
/// Statuses after which orca never changes an execution again.
const COMPLETE: &[&str] = &["SUCCEEDED", "TERMINAL", "CANCELED", "STOPPED", "SKIPPED", "FAILED_CONTINUE"];

/// The kinds of Gate call a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /pipelines/{application}/{pipelineNameOrId}`
    Trigger,
    /// `GET /pipelines/{id}`
    GetExecution,
    /// `PUT /pipelines/{id}/cancel`
    Cancel,
    /// `GET /applications`
    Applications,
    /// `GET /applications/{application}/pipelineConfigs`
    PipelineConfigs,
    /// `GET /health`
    Health,
    /// Every request, including unknown paths.
    Any,
}

impl Route {
    fn of(method: &Method, path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["pipelines", _, _]) => Some(Route::Trigger),
            ("GET", ["pipelines", _]) => Some(Route::GetExecution),
            ("PUT", ["pipelines", _, "cancel"]) => Some(Route::Cancel),
            ("GET", ["applications"]) => Some(Route::Applications),
            ("GET", ["applications", _, "pipelineConfigs"]) => Some(Route::PipelineConfigs),
            ("GET", ["health"]) => Some(Route::Health),
            _ => None,
        }
    }

    fn matches(self, route: Option<Route>) -> bool {
        self == Route::Any || Some(self) == route
    }
}

/// A misbehaviour to inject into matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a kork error body (429 gets Gate's rate
    /// limiter body and `X-RateLimit-Reset`).
    Status(u16),
    /// Answer with this status and exactly this body (as JSON content).
    Raw { status: u16, body: String },
    /// 200 with an empty body (Gate's answer to `GET /pipelines/{id}` when
    /// orca failed with anything but 404).
    EmptyOk,
    /// Wait this long, then answer normally (or with the next fault).
    Delay(Duration),
    /// 302 to `/login`, as Gate's OAuth setups answer without credentials.
    Redirect,
    /// 200 with an HTML body.
    NotJson,
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// The path as sent, still percent-encoded.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Header names lower-cased; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    /// The body as text (lossy), for non-JSON bodies.
    pub raw_body: String,
}

static NULL: Value = Value::Null;

impl RecordedRequest {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// A decoded query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    }

    /// The JSON body, or `null`.
    pub fn json(&self) -> &Value {
        self.body.as_ref().unwrap_or(&NULL)
    }
}

/// A pipeline configuration the fake knows (front50's view).
#[derive(Debug, Clone)]
struct FakePipeline {
    application: String,
    name: String,
    id: String,
    disabled: bool,
    required_parameters: Vec<String>,
}

impl FakePipeline {
    fn to_json(&self) -> Value {
        let parameter_config: Vec<Value> = self
            .required_parameters
            .iter()
            .map(|name| json!({"name": name, "label": name, "required": true, "default": null}))
            .collect();
        json!({
            "id": self.id, "name": self.name, "application": self.application,
            "disabled": self.disabled, "parameterConfig": parameter_config,
            "stages": [{"refId": "1", "type": "deploy", "name": "Deploy"}],
            "triggers": [], "expectedArtifacts": [], "limitConcurrent": true,
            "keepWaitingPipelines": false, "notifications": [], "index": 0,
            "updateTs": "1715700000000", "lastModifiedBy": "admin", "spelEvaluator": "v4"
        })
    }
}

#[derive(Debug)]
struct InjectedFault {
    route: Route,
    fault: Fault,
    /// `None` for a fault that stays until cleared.
    remaining: Option<u32>,
}

#[derive(Debug, Clone)]
enum Auth {
    Open,
    Bearer { token: String, login_redirect: bool },
}

#[derive(Debug)]
struct GateState {
    address: SocketAddr,
    pipelines: Vec<FakePipeline>,
    applications: BTreeSet<String>,
    accept_any_pipeline: bool,
    default_status: String,
    /// Executions in creation order.
    executions: Vec<Value>,
    faults: Vec<InjectedFault>,
    auth: Auth,
    healthy: bool,
    requests: Vec<RecordedRequest>,
}

type Shared = Arc<Mutex<GateState>>;

/// Handle to a running fake Gate; the server stops when it is dropped.
pub struct FakeGate {
    address: SocketAddr,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGate {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeGate {
    /// Starts a fake Gate on a free local port: open auth, healthy, no
    /// pipelines known, new executions `NOT_STARTED`.
    pub async fn start() -> FakeGate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Gate to a local port");
        let address = listener.local_addr().expect("fake Gate local address");
        let state: Shared = Arc::new(Mutex::new(GateState {
            address,
            pipelines: Vec::new(),
            applications: BTreeSet::new(),
            accept_any_pipeline: false,
            default_status: "NOT_STARTED".to_owned(),
            executions: Vec::new(),
            faults: Vec::new(),
            auth: Auth::Open,
            healthy: true,
            requests: Vec::new(),
        }));
        let app = router(Arc::clone(&state));
        let server = tokio::spawn(async move {
            // Ends when the handle aborts it.
            let _ = axum::serve(listener, app).await;
        });
        FakeGate { address, state, server }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        lock(&self.state)
    }

    // --- catalogue -------------------------------------------------------

    /// Registers a pipeline config (and its application); returns its id.
    pub fn add_pipeline(&self, application: &str, name: &str) -> String {
        let mut state = self.lock();
        state.add_pipeline(application, name).id.clone()
    }

    /// Registers an application with no pipelines.
    pub fn add_application(&self, application: &str) {
        self.lock().applications.insert(application.to_owned());
    }

    /// Makes triggers of the pipeline fail as orca does for a disabled config.
    pub fn disable_pipeline(&self, application: &str, name: &str) {
        self.lock().add_pipeline(application, name).disabled = true;
    }

    /// Declares a required parameter without default; Gate refuses a trigger
    /// that does not supply it (400).
    pub fn require_parameter(&self, application: &str, name: &str, parameter: &str) {
        self.lock().add_pipeline(application, name).required_parameters.push(parameter.to_owned());
    }

    /// Accepts triggers of unknown pipelines, registering them on the fly
    /// (handy for end-to-end tests that do not care about the catalogue).
    pub fn accept_any_pipeline(&self) {
        self.lock().accept_any_pipeline = true;
    }

    // --- executions ------------------------------------------------------

    /// The status of executions created from now on (default `NOT_STARTED`).
    pub fn set_default_status(&self, status: &str) {
        self.lock().default_status = status.to_owned();
    }

    /// Sets an execution's status (and its stages'), e.g. `"RUNNING"`.
    /// Panics for an unknown id.
    pub fn set_status(&self, execution_id: &str, status: &str) {
        self.update_execution(execution_id, |execution| apply_status(execution, status));
    }

    /// Ends an execution with `SUCCEEDED`.
    pub fn succeed(&self, execution_id: &str) {
        self.set_status(execution_id, "SUCCEEDED");
    }

    /// Ends an execution with `TERMINAL`, its deploy stage carrying `errors`
    /// in `context.exception.details.errors` (and on its task, as orca does).
    pub fn fail_execution(&self, execution_id: &str, errors: &[&str]) {
        self.update_execution(execution_id, |execution| {
            apply_status(execution, "TERMINAL");
            let exception = exception_json(errors);
            if let Some(stage) = execution["stages"].get_mut(0) {
                stage["context"]["exception"] = exception.clone();
                if let Some(task) = stage["tasks"].get_mut(0) {
                    task["taskExceptionDetails"] = json!({ "exception": exception });
                }
            }
        });
    }

    /// Edits an execution's JSON in place (for shapes the helpers do not
    /// cover, e.g. `kato.tasks`). Panics for an unknown id.
    pub fn update_execution(&self, execution_id: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.lock();
        let execution = state
            .execution_mut(execution_id)
            .unwrap_or_else(|| panic!("the fake Gate has no execution {execution_id}"));
        edit(execution);
    }

    /// An execution's JSON as `GET /pipelines/{id}` returns it.
    pub fn execution(&self, execution_id: &str) -> Option<Value> {
        self.lock().execution_mut(execution_id).map(|e| e.clone())
    }

    /// Every execution id, in creation order.
    pub fn execution_ids(&self) -> Vec<String> {
        self.lock().executions.iter().filter_map(|execution| execution["id"].as_str().map(str::to_owned)).collect()
    }

    /// The most recently created execution's id.
    pub fn last_execution_id(&self) -> Option<String> {
        self.execution_ids().pop()
    }

    // --- faults, auth, health ---------------------------------------------

    /// Injects `fault` into every matching request until [`Self::clear_faults`].
    pub fn inject(&self, route: Route, fault: Fault) {
        self.lock().faults.push(InjectedFault { route, fault, remaining: None });
    }

    /// Injects `fault` into the next matching request only.
    pub fn inject_once(&self, route: Route, fault: Fault) {
        self.lock().faults.push(InjectedFault { route, fault, remaining: Some(1) });
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Requires `Authorization: Bearer <token>` on every call but `/health`;
    /// otherwise 401 with a kork body (Gate basic-auth style).
    pub fn require_bearer_token(&self, token: &str) {
        self.lock().auth = Auth::Bearer { token: token.to_owned(), login_redirect: false };
    }

    /// Like [`Self::require_bearer_token`], but answers `302 /login` as
    /// Gate's OAuth2 setups do.
    pub fn require_bearer_token_with_login_redirect(&self, token: &str) {
        self.lock().auth = Auth::Bearer { token: token.to_owned(), login_redirect: true };
    }

    /// `GET /health` answers 200 `UP` or 503 `DOWN`.
    pub fn set_healthy(&self, healthy: bool) {
        self.lock().healthy = healthy;
    }

    // --- recorded requests -------------------------------------------------

    /// Every request received, in order (including refused ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Every trigger request (`POST /pipelines/...`).
    pub fn triggers(&self) -> Vec<RecordedRequest> {
        self.requests_on(Route::Trigger)
    }

    /// Every cancel request (`PUT /pipelines/{id}/cancel`).
    pub fn cancels(&self) -> Vec<RecordedRequest> {
        self.requests_on(Route::Cancel)
    }

    /// Every request of one route kind.
    pub fn requests_on(&self, route: Route) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|request| {
                let method = Method::from_bytes(request.method.as_bytes()).unwrap_or(Method::GET);
                route.matches(Route::of(&method, &request.path))
            })
            .cloned()
            .collect()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }
}

impl GateState {
    /// The pipeline `(application, name)`, created if needed.
    fn add_pipeline(&mut self, application: &str, name: &str) -> &mut FakePipeline {
        self.applications.insert(application.to_owned());
        let index = match self.pipelines.iter().position(|p| p.application == application && p.name == name) {
            Some(index) => index,
            None => {
                self.pipelines.push(FakePipeline {
                    application: application.to_owned(),
                    name: name.to_owned(),
                    id: uuid::Uuid::new_v4().to_string(),
                    disabled: false,
                    required_parameters: Vec::new(),
                });
                self.pipelines.len() - 1
            }
        };
        &mut self.pipelines[index]
    }

    /// Gate's resolution: by name first, then by config id.
    fn resolve(&self, application: &str, name_or_id: &str) -> Option<FakePipeline> {
        let in_app = |p: &&FakePipeline| p.application.eq_ignore_ascii_case(application);
        let pipelines = || self.pipelines.iter().filter(in_app);
        pipelines().find(|p| p.name == name_or_id).or_else(|| pipelines().find(|p| p.id == name_or_id)).cloned()
    }

    fn execution_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.executions.iter_mut().find(|execution| execution["id"] == id)
    }

    /// Faults for a request: the total delay, and the response of the first
    /// non-delay fault. One-shot faults are used up here.
    fn take_faults(&mut self, route: Option<Route>) -> (Duration, Option<Fault>) {
        let mut delay = Duration::ZERO;
        let mut answer = None;
        for injected in self.faults.iter_mut() {
            if !injected.route.matches(route) || injected.remaining == Some(0) {
                continue;
            }
            match &injected.fault {
                Fault::Delay(extra) => delay += *extra,
                _ if answer.is_some() => continue,
                fault => answer = Some(fault.clone()),
            }
            if let Some(remaining) = injected.remaining.as_mut() {
                *remaining -= 1;
            }
        }
        self.faults.retain(|injected| injected.remaining != Some(0));
        (delay, answer)
    }

    /// The refusal for a request without the required credentials, if any.
    fn refuse_unauthenticated(&self, route: Option<Route>, headers: &HeaderMap) -> Option<Response> {
        let Auth::Bearer { token, login_redirect } = &self.auth else {
            return None;
        };
        let expected = format!("Bearer {token}");
        let sent = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        // `/health` is permitAll in Gate.
        if route == Some(Route::Health) || sent == Some(expected.as_str()) {
            return None;
        }
        Some(if *login_redirect {
            login_redirect_response(self.address)
        } else {
            kork_error(StatusCode::UNAUTHORIZED, "Unauthorized")
        })
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, GateState> {
    // A panicking test must not poison the fake for the others' assertions.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/pipelines/{id}", get(get_execution))
        // One route for both: a pipeline may be named "cancel".
        .route("/pipelines/{first}/{second}", post(trigger).put(pipeline_action))
        .route("/applications", get(applications))
        .route("/applications/{application}/pipelineConfigs", get(pipeline_configs))
        .route("/health", get(health))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&state), gate_filters))
        .with_state(state)
}

/// Records the request, applies auth and injected faults, and echoes the
/// request id, as Gate's filter chain and interceptors do.
async fn gate_filters(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let route = Route::of(&parts.method, parts.uri.path());
    let request_id = parts.headers.get(REQUEST_ID).cloned();

    let (delay, fault, refusal) = {
        let mut gate = lock(&state);
        gate.requests.push(record(&parts, &bytes));
        match gate.refuse_unauthenticated(route, &parts.headers) {
            Some(refusal) => (Duration::ZERO, None, Some(refusal)),
            None => {
                let (delay, fault) = gate.take_faults(route);
                (delay, fault, None)
            }
        }
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let address = lock(&state).address;
    let mut response = match (refusal, fault) {
        (Some(refusal), _) => refusal,
        (None, Some(fault)) => fault_response(&fault, address),
        (None, None) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
    };
    if let Some(request_id) = request_id {
        response.headers_mut().insert(REQUEST_ID, request_id);
    }
    response
}

fn record(parts: &axum::http::request::Parts, body: &Bytes) -> RecordedRequest {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body: serde_json::from_slice(body).ok(),
        raw_body: String::from_utf8_lossy(body).into_owned(),
    }
}

fn fault_response(fault: &Fault, address: SocketAddr) -> Response {
    match fault {
        Fault::Status(429) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("x-ratelimit-reset", (now_ms() + 5000).to_string())],
            Json(json!({"message": "Rate capacity exceeded"})),
        )
            .into_response(),
        Fault::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = match status {
                StatusCode::FORBIDDEN => "Access is denied",
                other => other.canonical_reason().unwrap_or("Error"),
            };
            kork_error(status, message)
        }
        Fault::Raw { status, body } => (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "application/json")],
            body.clone(),
        )
            .into_response(),
        Fault::EmptyOk => StatusCode::OK.into_response(),
        Fault::Redirect => login_redirect_response(address),
        Fault::NotJson => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], "<html><body>Please sign in</body></html>")
                .into_response()
        }
        // Delays are applied before answering; never an answer of their own.
        Fault::Delay(_) => StatusCode::OK.into_response(),
    }
}

/// kork's error body (SPINNAKER-GATE.md §8).
fn kork_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "timestamp": now_ms(),
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    (status, Json(body)).into_response()
}

fn login_redirect_response(address: SocketAddr) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, format!("http://{address}/login"))]).into_response()
}

// --- handlers ---------------------------------------------------------------

async fn trigger(
    State(state): State<Shared>,
    Path((application, name_or_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(mut trigger) = trigger_from_body(&body) else {
        return kork_error(StatusCode::BAD_REQUEST, "Failed to read request");
    };
    let header_user = header_text(&headers, USER);
    let user = trigger["user"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| header_user.clone())
        .unwrap_or_else(|| "anonymous".to_owned());
    fill_trigger_defaults(&mut trigger, &user);

    let mut gate = lock(&state);
    let config = match gate.resolve(&application, &name_or_id) {
        Some(config) => config,
        None if gate.accept_any_pipeline => gate.add_pipeline(&application, &name_or_id).clone(),
        None => {
            return kork_error(
                StatusCode::NOT_FOUND,
                &format!(
                    "{}Pipeline configuration not found (id: {name_or_id}): Status: 404, \
                     Method: GET, URL: http://front50/pipelines/{name_or_id}/get, Message: Not Found",
                    unable_to_trigger(&application, &name_or_id)
                ),
            )
        }
    };
    if let Some(missing) =
        config.required_parameters.iter().find(|name| trigger["parameters"].get(name.as_str()).is_none())
    {
        // An IllegalArgumentException in Gate: plain kork 400, no prefix.
        return kork_error(StatusCode::BAD_REQUEST, &format!("Required parameter {missing} is missing"));
    }

    let authenticated = header_user.unwrap_or_else(|| "anonymous".to_owned());
    if config.disabled {
        // Orca persists a TERMINAL execution before refusing (§1.6).
        let reason = "Pipeline is disabled and cannot be started.";
        let mut execution = new_execution(&config, trigger, &authenticated, "TERMINAL");
        execution["canceled"] = json!(true);
        execution["canceledBy"] = json!("system");
        execution["cancellationReason"] = json!(format!("Failed on startup: {reason}"));
        gate.executions.push(execution);
        return kork_error(
            StatusCode::BAD_REQUEST,
            &format!("{}{reason}", unable_to_trigger(&application, &name_or_id)),
        );
    }
    // Orca returns the running execution for a repeated correlation id.
    if let Some(correlation_id) = trigger["correlationId"].as_str() {
        let running = gate.executions.iter().find(|execution| {
            execution["trigger"]["correlationId"] == correlation_id && !is_complete(&execution["status"])
        });
        if let Some(running) = running {
            return accepted(&running["id"]);
        }
    }
    let status = gate.default_status.clone();
    let execution = new_execution(&config, trigger, &authenticated, &status);
    let id = execution["id"].clone();
    gate.executions.push(execution);
    accepted(&id)
}

async fn get_execution(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match lock(&state).execution_mut(&id) {
        Some(execution) => Json(execution.clone()).into_response(),
        None => kork_error(StatusCode::NOT_FOUND, &format!("Pipeline not found (id: {id})")),
    }
}

async fn pipeline_action(
    State(state): State<Shared>,
    Path((id, action)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if action != "cancel" {
        return kork_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let mut gate = lock(&state);
    let Some(execution) = gate.execution_mut(&id) else {
        return kork_error(StatusCode::NOT_FOUND, &format!("Execution not found (id: {id})"));
    };
    let user = header_text(&headers, USER).unwrap_or_else(|| "anonymous".to_owned());
    execution["canceled"] = json!(true);
    execution["canceledBy"] = json!(user);
    if let Some(reason) = query.get("reason").filter(|reason| !reason.is_empty()) {
        execution["cancellationReason"] = json!(reason);
    }
    // Canceling a complete execution changes nothing about its status.
    if !is_complete(&execution["status"]) {
        apply_status(execution, "CANCELED");
    }
    StatusCode::OK.into_response()
}

async fn applications(State(state): State<Shared>) -> Response {
    let gate = lock(&state);
    let names: BTreeSet<String> = gate.applications.iter().map(|name| name.to_lowercase()).collect();
    let applications: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "name": name, "email": format!("{name}-team@example.com"),
                "accounts": "prod,staging", "cloudProviders": "kubernetes",
                "user": "admin", "createTs": "1715700000000", "updateTs": "1715700000000",
                "description": null
            })
        })
        .collect();
    Json(applications).into_response()
}

async fn pipeline_configs(State(state): State<Shared>, Path(application): Path<String>) -> Response {
    let gate = lock(&state);
    let configs: Vec<Value> = gate
        .pipelines
        .iter()
        .filter(|p| p.application.eq_ignore_ascii_case(&application))
        .map(FakePipeline::to_json)
        .collect();
    Json(configs).into_response()
}

async fn health(State(state): State<Shared>) -> Response {
    if lock(&state).healthy {
        Json(json!({"status": "UP"})).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "DOWN"}))).into_response()
    }
}

async fn not_found() -> Response {
    kork_error(StatusCode::NOT_FOUND, "Not Found")
}

// --- execution JSON -----------------------------------------------------------

fn accepted(id: &Value) -> Response {
    let reference = format!("/pipelines/{}", id.as_str().unwrap_or_default());
    (StatusCode::ACCEPTED, Json(json!({ "ref": reference }))).into_response()
}

fn unable_to_trigger(application: &str, name_or_id: &str) -> String {
    format!("Unable to trigger pipeline (application: {application}, pipelineNameOrId: {name_or_id}). Error: ")
}

/// The trigger map: an empty body is `{}`, anything but an object is refused.
fn trigger_from_body(body: &Bytes) -> Option<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(json!({}));
    }
    serde_json::from_slice::<Value>(body).ok().filter(Value::is_object)
}

/// What Gate and orca add to a trigger (§1.4); other keys are kept.
fn fill_trigger_defaults(trigger: &mut Value, user: &str) {
    let Some(fields) = trigger.as_object_mut() else {
        return;
    };
    let defaults: [(&str, Value); 9] = [
        ("type", json!("manual")),
        ("user", json!(user)),
        ("parameters", json!({})),
        ("artifacts", json!([])),
        ("notifications", json!([])),
        ("dryRun", json!(false)),
        ("rebake", json!(false)),
        ("strategy", json!(false)),
        ("resolvedExpectedArtifacts", json!([])),
    ];
    for (key, value) in defaults {
        fields.entry(key).or_insert(value);
    }
}

/// An orca-shaped execution (SPINNAKER-GATE.md §2.1) with one deploy stage.
fn new_execution(config: &FakePipeline, trigger: Value, authenticated: &str, status: &str) -> Value {
    let mut execution = json!({
        "type": "PIPELINE",
        "id": mint_ulid(),
        "application": config.application,
        "name": config.name,
        "pipelineConfigId": config.id,
        "status": "NOT_STARTED",
        "buildTime": now_ms(),
        "startTime": null,
        "endTime": null,
        "startTimeExpiry": null,
        "canceled": false,
        "canceledBy": null,
        "cancellationReason": null,
        "limitConcurrent": true,
        "maxConcurrentExecutions": 0,
        "keepWaitingPipelines": false,
        "origin": "api",
        "authentication": {"user": authenticated, "allowedAccounts": ["prod", "staging"]},
        "paused": null,
        "trigger": trigger,
        "notifications": [],
        "initialConfig": {},
        "systemNotifications": [],
        "spelEvaluator": "v4",
        "templateVariables": null,
        "partition": null,
        "description": null,
        "source": null,
        "stages": [deploy_stage()]
    });
    apply_status(&mut execution, status);
    execution
}

fn deploy_stage() -> Value {
    let task = json!({
        "id": "1", "name": "deploy",
        "implementingClass": "com.netflix.spinnaker.orca.clouddriver.tasks.DeployTask",
        "status": "NOT_STARTED", "startTime": null, "endTime": null,
        "stageStart": true, "stageEnd": true, "loopStart": false, "loopEnd": false
    });
    json!({
        "id": mint_ulid(),
        "refId": "1",
        "type": "deploy",
        "name": "Deploy",
        "status": "NOT_STARTED",
        "startTime": null,
        "endTime": null,
        "startTimeExpiry": null,
        "context": {},
        "outputs": {},
        "tasks": [task],
        "syntheticStageOwner": null,
        "parentStageId": null,
        "requisiteStageRefIds": [],
        "scheduledTime": null,
        "lastModified": null,
        "additionalMetricTags": null
    })
}

/// Sets the execution's status and keeps its stages, tasks and times coherent.
fn apply_status(execution: &mut Value, status: &str) {
    let now = now_ms();
    // A buffered execution has not started any stage.
    let stage_status = if status == "BUFFERED" { "NOT_STARTED" } else { status };
    let started = !matches!(status, "NOT_STARTED" | "BUFFERED");
    let complete = COMPLETE.contains(&status);
    set_times(execution, status, started, complete, now);
    if let Some(stages) = execution["stages"].as_array_mut() {
        for stage in stages {
            set_times(stage, stage_status, started, complete, now);
            if let Some(tasks) = stage["tasks"].as_array_mut() {
                for task in tasks {
                    set_times(task, stage_status, started, complete, now);
                }
            }
        }
    }
}

fn set_times(item: &mut Value, status: &str, started: bool, complete: bool, now: u64) {
    let Some(fields) = item.as_object_mut() else {
        return;
    };
    fields.insert("status".to_owned(), json!(status));
    if started && fields.get("startTime").is_none_or(Value::is_null) {
        fields.insert("startTime".to_owned(), json!(now));
    }
    if complete && fields.get("endTime").is_none_or(Value::is_null) {
        fields.insert("endTime".to_owned(), json!(now));
    }
}

fn exception_json(errors: &[&str]) -> Value {
    json!({
        "timestamp": now_ms(),
        "exceptionType": "SpinnakerHttpException",
        "operation": "deploy",
        "shouldRetry": false,
        "details": {
            "error": "Unexpected Task Failure",
            "errors": errors,
            "stackTrace": "com.netflix.spinnaker.kork.web.exceptions.SpinnakerHttpException\n\tat ...",
        }
    })
}

fn is_complete(status: &Value) -> bool {
    status.as_str().is_some_and(|status| COMPLETE.contains(&status))
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|value: &HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as u64).unwrap_or_default()
}

/// A ULID-shaped id (26 Crockford base32 characters, time-ordered) as orca
/// mints; a process-wide counter keeps ids unique across fakes.
fn mint_ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    let value: u128 = (u128::from(now_ms()) << 80) | u128::from(sequence);
    (0..26).map(|i| ALPHABET[((value >> (5 * (25 - i))) & 31) as usize] as char).collect()
}
