//! The Spinnaker Gate client (DESIGN §6, SPINNAKER-GATE.md).
//!
//! One `reqwest::Client` with redirects disabled (Gate's OAuth setups answer an
//! unauthenticated call with `302 /login`, which must read as a credentials
//! problem, not be followed), connect and request timeouts, and the static
//! credentials (bearer token, extra header, mTLS identity) installed once.
//! Each call adds the acting user and is bounded by an outer deadline that
//! also covers reading the body. Redirects are never followed, to Gate's
//! host or any other, so the credentials go to the configured URL only.
//!
//! Bodies are read in chunks up to [`MAX_RESPONSE_BYTES`]; past it reading
//! stops, and an answer whose body we need (a trigger's `ref`, an
//! execution, a list) is a failed call (`ENGINE_CALL_FAILED`; for a read,
//! no change to the record). Calls that only need the status (cancel,
//! health) are judged by the status.
//!
//! Errors are classified from the HTTP status and the transport error kind
//! only; the engine's answer is kept, redacted and truncated, for operators.

mod status;
mod wire;

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, LOCATION};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use tracing::field::Empty;

use super::{
    Engine, EngineError, ExecutionSnapshot, PipelineConfig, TriggerAccepted, TriggerRequest, OPERATOR_DETAIL_MAX_CHARS,
};
use crate::domain::deployment::EngineType;
use crate::domain::failure::redacted_excerpt;

/// Gate's header for the acting user (kork `Header.USER`).
const USER_HEADER: &str = "x-spinnaker-user";
/// Gate's header for request correlation; Gate echoes it (kork `Header.REQUEST_ID`).
const REQUEST_ID_HEADER: &str = "x-spinnaker-request-id";
/// Most bytes of one Gate answer read. An execution is the largest answer:
/// stage contexts carry Kubernetes manifests, bake output and task results,
/// so a long pipeline's JSON reaches a few MiB; a cap that refused real
/// executions would leave their records without a usable answer until they
/// are failed as stale. Memory per call stays bounded by this.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// How to reach and authenticate to Gate.
///
/// `Debug` prints every credential as `[redacted]`.
pub struct GateConfig {
    /// Gate's API root, e.g. `https://gate.example.com` or `https://host/api`.
    pub base_url: String,
    /// Deadline for connecting and for each whole call, body included.
    pub timeout: Duration,
    /// Sent as `Authorization: Bearer <token>` on every call.
    pub bearer_token: Option<String>,
    /// One more header sent on every call (e.g. an API gateway key).
    pub extra_header: Option<(String, String)>,
    /// PEM holding the client certificate and its private key, for mTLS.
    pub client_identity_pem: Option<Vec<u8>>,
    /// Where humans look at executions (Deck or a proxy); defaults to `base_url`.
    pub ui_base_url: Option<String>,
}

impl fmt::Debug for GateConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const REDACTED: &str = "[redacted]";
        f.debug_struct("GateConfig")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| REDACTED))
            .field("extra_header", &self.extra_header.as_ref().map(|(name, _)| (name, REDACTED)))
            .field("client_identity_pem", &self.client_identity_pem.as_ref().map(|_| REDACTED))
            .field("ui_base_url", &self.ui_base_url)
            .finish()
    }
}

/// The production [`Engine`]: Spinnaker Gate over HTTP.
pub struct GateClient {
    http: reqwest::Client,
    base_url: Url,
    ui_base_url: Url,
    timeout: Duration,
}

impl fmt::Debug for GateClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateClient")
            .field("base_url", &self.base_url.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What DXCP needs from one HTTP answer.
struct GateResponse {
    status: StatusCode,
    location: Option<String>,
    /// At most [`MAX_RESPONSE_BYTES`] of the body.
    body: Vec<u8>,
    /// The body went past [`MAX_RESPONSE_BYTES`]; `body` is its beginning.
    oversized: bool,
}

/// How a 404 reads for a call: only reading an execution has a "not found".
#[derive(Clone, Copy, PartialEq, Eq)]
enum NotFound {
    IsNotFound,
    IsCallFailed,
}

impl GateClient {
    /// Builds the client. Fails (with [`EngineError::CallFailed`], status
    /// `None`) on an unusable URL, header or identity, so a misconfiguration
    /// stops startup instead of the first deploy.
    pub fn new(config: GateConfig) -> Result<Self, EngineError> {
        let GateConfig { base_url, timeout, bearer_token, extra_header, client_identity_pem, ui_base_url } = config;
        let base_url = parse_base_url("base URL", &base_url)?;
        let ui_base_url = match ui_base_url {
            Some(ui) => parse_base_url("UI base URL", &ui)?,
            None => base_url.clone(),
        };
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .default_headers(static_headers(bearer_token.as_deref(), extra_header.as_ref())?);
        if let Some(pem) = client_identity_pem {
            // The reqwest error names the problem, never the key material.
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|error| misconfigured(format!("invalid mTLS identity PEM: {error}")))?;
            builder = builder.identity(identity);
        }
        let http = builder.build().map_err(|error| misconfigured(format!("cannot build the HTTP client: {error}")))?;
        Ok(Self { http, base_url, ui_base_url, timeout })
    }

    /// `base` with `segments` appended, each percent-encoded as one segment
    /// (so a space or `/` in a name cannot change the path).
    fn url(&self, segments: &[&str]) -> Result<Url, EngineError> {
        join_segments(&self.base_url, segments)
    }

    /// A request with the acting user's header, when there is one.
    fn request(&self, method: Method, url: Url, actor: Option<&str>) -> Result<reqwest::RequestBuilder, EngineError> {
        let request = self.http.request(method, url);
        match actor {
            Some(actor) => Ok(request.header(USER_HEADER, header_value("actor", actor)?)),
            None => Ok(request),
        }
    }

    /// Sends the request and reads the whole answer within the deadline.
    /// Records `http.status` and `duration_ms` on the current span.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<GateResponse, EngineError> {
        let started = Instant::now();
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status();
            let location = response.headers().get(LOCATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
            let (body, oversized) = read_capped(&mut response, MAX_RESPONSE_BYTES).await?;
            Ok::<_, reqwest::Error>(GateResponse { status, location, body, oversized })
        };
        // reqwest's own timeout covers the same ground; this outer one is the
        // contract (DXCP_ENGINE_TIMEOUT_MS) whatever reqwest does internally.
        let outcome = tokio::time::timeout(self.timeout, exchange).await;
        let span = tracing::Span::current();
        span.record("duration_ms", elapsed_ms(started));
        let response = match outcome {
            Err(_elapsed) => Err(EngineError::Timeout),
            Ok(Err(error)) => Err(transport_error(&error)),
            Ok(Ok(response)) => {
                span.record("http.status", response.status.as_u16());
                Ok(response)
            }
        };
        if let Err(error) = &response {
            // Logged where handled (the service); debug here for tracing the call.
            tracing::debug!(error = %error, "gate call failed");
        }
        response
    }

    /// Sends and requires a 2xx answer.
    async fn send_expecting_success(
        &self,
        request: reqwest::RequestBuilder,
        not_found: NotFound,
    ) -> Result<GateResponse, EngineError> {
        let response = self.send(request).await?;
        check_status(&response, not_found)?;
        Ok(response)
    }

    fn execution_url(&self, execution_id: &str) -> Result<String, EngineError> {
        Ok(join_segments(&self.ui_base_url, &["pipelines", execution_id])?.into())
    }
}

#[async_trait]
impl Engine for GateClient {
    fn engine_type(&self) -> EngineType {
        EngineType::Spinnaker
    }

    #[tracing::instrument(
        name = "gate.trigger",
        skip_all,
        fields(
            deployment.id = %request.deployment_id,
            engine.application = %request.application,
            engine.pipeline = %request.pipeline,
            engine.execution_id = Empty,
            http.status = Empty,
            duration_ms = Empty,
        )
    )]
    async fn trigger(&self, request: &TriggerRequest) -> Result<TriggerAccepted, EngineError> {
        let url = self.url(&["pipelines", &request.application, &request.pipeline])?;
        let mut call = self.request(Method::POST, url, Some(&request.actor))?.json(&trigger_body(request));
        if let Some(request_id) = &request.request_id {
            call = call.header(REQUEST_ID_HEADER, header_value("request id", request_id)?);
        }
        // Sent once: a retry could start a second deployment.
        let response = self.send_expecting_success(call, NotFound::IsCallFailed).await?;
        let answer: wire::TriggerResponse = parse_json_object(&response)?;
        let execution_id =
            execution_id_from_ref(answer.reference.as_deref()).ok_or_else(|| EngineError::CallFailed {
                status: Some(response.status.as_u16()),
                detail: format!("trigger answer has no usable ref: {}", body_excerpt(&response.body)),
            })?;
        tracing::Span::current().record("engine.execution_id", execution_id.as_str());
        tracing::debug!("gate accepted the trigger");
        Ok(TriggerAccepted { execution_url: self.execution_url(&execution_id)?, execution_id })
    }

    #[tracing::instrument(
        name = "gate.execution",
        skip_all,
        fields(engine.execution_id = %execution_id, http.status = Empty, duration_ms = Empty)
    )]
    async fn execution(&self, execution_id: &str, actor: &str) -> Result<ExecutionSnapshot, EngineError> {
        let url = self.url(&["pipelines", execution_id])?;
        let call = self.request(Method::GET, url, Some(actor))?;
        let response = self.send_expecting_success(call, NotFound::IsNotFound).await?;
        // Gate answers 200 with an empty body when orca failed with anything
        // but 404 (SPINNAKER-GATE §2): that is a failed call, not "no status".
        let execution: wire::Execution = parse_json_object(&response)?;
        Ok(status::snapshot(&execution))
    }

    #[tracing::instrument(
        name = "gate.cancel",
        skip_all,
        fields(engine.execution_id = %execution_id, http.status = Empty, duration_ms = Empty)
    )]
    async fn cancel(&self, execution_id: &str, actor: &str, reason: &str) -> Result<(), EngineError> {
        let url = self.url(&["pipelines", execution_id, "cancel"])?;
        let call = self.request(Method::PUT, url, Some(actor))?.query(&[("reason", reason)]);
        // Gate answers 200 with an empty body; nothing to read.
        self.send_expecting_success(call, NotFound::IsCallFailed).await?;
        Ok(())
    }

    #[tracing::instrument(
        name = "gate.applications",
        skip_all,
        fields(http.status = Empty, duration_ms = Empty)
    )]
    async fn applications(&self, actor: &str) -> Result<Vec<String>, EngineError> {
        let url = self.url(&["applications"])?;
        let call = self.request(Method::GET, url, Some(actor))?;
        let response = self.send_expecting_success(call, NotFound::IsCallFailed).await?;
        let applications: Vec<wire::Application> = parse_json_list(&response)?;
        Ok(applications.into_iter().filter_map(|application| application.name).collect())
    }

    #[tracing::instrument(
        name = "gate.pipelines",
        skip_all,
        fields(engine.application = %application, http.status = Empty, duration_ms = Empty)
    )]
    async fn pipelines(&self, application: &str, actor: &str) -> Result<Vec<PipelineConfig>, EngineError> {
        let url = self.url(&["applications", application, "pipelineConfigs"])?;
        let call = self.request(Method::GET, url, Some(actor))?;
        let response = self.send_expecting_success(call, NotFound::IsCallFailed).await?;
        let configs: Vec<wire::PipelineConfig> = parse_json_list(&response)?;
        Ok(configs
            .into_iter()
            .filter_map(|config| Some(PipelineConfig { name: config.name?, id: config.id, disabled: config.disabled }))
            .collect())
    }

    #[tracing::instrument(
        name = "gate.health",
        skip_all,
        fields(http.status = Empty, duration_ms = Empty)
    )]
    async fn health(&self) -> Result<(), EngineError> {
        let url = self.url(&["health"])?;
        // `/health` is permitAll in Gate: no acting user.
        let response = self.send(self.request(Method::GET, url, None)?).await?;
        if response.status.is_success() {
            return Ok(());
        }
        // Any other answer (503 DOWN, a proxy's 404...) means "not healthy".
        Err(EngineError::Unavailable {
            detail: format!("health answered HTTP {}: {}", response.status.as_u16(), body_excerpt(&response.body)),
        })
    }
}

fn trigger_body(request: &TriggerRequest) -> wire::TriggerBody<'_> {
    wire::TriggerBody {
        kind: "manual",
        user: &request.actor,
        correlation_id: format!("dxcp-{}", request.deployment_id),
        parameters: wire::TriggerParameters {
            service: &request.service,
            version: &request.version,
            environment: &request.environment,
            artifact_ref: &request.artifact_ref,
            dxcp_deployment_id: request.deployment_id.to_string(),
            source_environment: request.source_environment.as_deref(),
        },
        artifacts: Vec::new(),
        notifications: Vec::new(),
    }
}

/// The execution id is what follows the last `/` of `ref` (`/pipelines/<id>`).
fn execution_id_from_ref(reference: Option<&str>) -> Option<String> {
    let id = reference?.trim().rsplit('/').next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// Reads the body chunk by chunk, keeping at most `cap` bytes; `true` when
/// there was more (the rest is never read: the connection is dropped).
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            body.extend_from_slice(&chunk[..cap - body.len()]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Maps a non-2xx status to its error (DESIGN §10 "Engine call errors").
fn check_status(response: &GateResponse, not_found: NotFound) -> Result<(), EngineError> {
    let status = response.status;
    if status.is_success() {
        return Ok(());
    }
    let code = status.as_u16();
    let body = body_excerpt(&response.body);
    Err(if status.is_redirection() {
        let target = response.location.as_deref().unwrap_or("nowhere");
        EngineError::Unauthorized {
            status: code,
            detail: redacted_excerpt(
                &format!("redirected to {target} (login redirect: check Gate credentials)"),
                OPERATOR_DETAIL_MAX_CHARS,
            ),
        }
    } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        EngineError::Unauthorized { status: code, detail: body }
    } else if status == StatusCode::NOT_FOUND && not_found == NotFound::IsNotFound {
        EngineError::NotFound { detail: body }
    } else if status.is_server_error() {
        EngineError::Unavailable { detail: format!("HTTP {code}: {body}") }
    } else {
        EngineError::CallFailed { status: Some(code), detail: body }
    })
}

/// Classifies a transport failure by its kind, never by its text.
fn transport_error(error: &reqwest::Error) -> EngineError {
    let detail = redacted_excerpt(&crate::telemetry::error_chain(error), OPERATOR_DETAIL_MAX_CHARS);
    if error.is_timeout() {
        EngineError::Timeout
    } else if error.is_redirect() {
        // Redirects are disabled; kept so a policy change cannot make one
        // read as anything but a credentials problem.
        EngineError::Unauthorized { status: 302, detail }
    } else if error.is_builder() {
        EngineError::CallFailed { status: None, detail }
    } else {
        // Connect, reset, DNS, TLS, a body cut short: the engine is not there.
        EngineError::Unavailable { detail }
    }
}

/// A 2xx body as JSON; an empty, non-JSON or oversized body is a failed call.
fn parse_json<T: DeserializeOwned>(response: &GateResponse) -> Result<T, EngineError> {
    let call_failed = |what: String| EngineError::CallFailed { status: Some(response.status.as_u16()), detail: what };
    if response.oversized {
        return Err(call_failed(format!("answer body larger than {MAX_RESPONSE_BYTES} bytes; not read")));
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Err(call_failed("empty answer body".to_owned()));
    }
    serde_json::from_slice(&response.body)
        .map_err(|error| call_failed(format!("unexpected answer body ({error}): {}", body_excerpt(&response.body))))
}

/// A 2xx body that must be a JSON object. Checked before reading `T`
/// because serde also reads a struct from a JSON list (by position).
fn parse_json_object<T: DeserializeOwned>(response: &GateResponse) -> Result<T, EngineError> {
    let value: serde_json::Value = parse_json(response)?;
    let not_expected = |what: String| EngineError::CallFailed {
        status: Some(response.status.as_u16()),
        detail: format!("{what}: {}", body_excerpt(&response.body)),
    };
    if !value.is_object() {
        return Err(not_expected("expected a JSON object".to_owned()));
    }
    T::deserialize(value).map_err(|error| not_expected(format!("unexpected JSON ({error})")))
}

/// A 2xx body that must be a JSON list; items of the wrong shape are skipped.
fn parse_json_list<T: DeserializeOwned>(response: &GateResponse) -> Result<Vec<T>, EngineError> {
    let value: serde_json::Value = parse_json(response)?;
    wire::lenient_items(value).ok_or_else(|| EngineError::CallFailed {
        status: Some(response.status.as_u16()),
        detail: format!("expected a JSON list: {}", body_excerpt(&response.body)),
    })
}

/// Redacted, truncated engine text for [`EngineError`] details.
fn body_excerpt(body: &[u8]) -> String {
    redacted_excerpt(&String::from_utf8_lossy(body), OPERATOR_DETAIL_MAX_CHARS)
}

/// Credentials sent on every call, marked sensitive so reqwest never prints them.
fn static_headers(
    bearer_token: Option<&str>,
    extra_header: Option<&(String, String)>,
) -> Result<HeaderMap, EngineError> {
    let mut headers = HeaderMap::new();
    if let Some(token) = bearer_token {
        let mut value = header_value("bearer token", &format!("Bearer {token}"))?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    if let Some((name, value)) = extra_header {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| misconfigured(format!("invalid extra header name {name:?}")))?;
        let mut value = header_value("extra header value", value)?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(headers)
}

/// A header value; UTF-8 is allowed (as obs-text), control characters are not.
/// The error names `what` but never echoes the value, which may be a secret.
fn header_value(what: &str, value: &str) -> Result<HeaderValue, EngineError> {
    HeaderValue::from_bytes(value.as_bytes())
        .map_err(|_| misconfigured(format!("the {what} is not a valid HTTP header value")))
}

fn parse_base_url(what: &str, text: &str) -> Result<Url, EngineError> {
    let url =
        Url::parse(text.trim()).map_err(|error| misconfigured(format!("invalid Gate {what} {text:?}: {error}")))?;
    let usable = matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base();
    if !usable {
        return Err(misconfigured(format!("Gate {what} {text:?} must be an http or https URL")));
    }
    Ok(url)
}

fn join_segments(base: &Url, segments: &[&str]) -> Result<Url, EngineError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| misconfigured(format!("Gate URL {base} cannot take a path")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

fn misconfigured(detail: String) -> EngineError {
    EngineError::CallFailed { status: None, detail }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base_url: &str) -> GateConfig {
        GateConfig {
            base_url: base_url.to_owned(),
            timeout: Duration::from_secs(1),
            bearer_token: None,
            extra_header: None,
            client_identity_pem: None,
            ui_base_url: None,
        }
    }

    fn response(status: u16, body: &str) -> GateResponse {
        GateResponse {
            status: StatusCode::from_u16(status).unwrap(),
            location: None,
            body: body.as_bytes().to_vec(),
            oversized: false,
        }
    }

    #[test]
    fn an_oversized_ok_body_is_a_failed_call_even_when_its_beginning_parses() {
        let oversized = GateResponse { oversized: true, ..response(200, r#"{"ref":"/pipelines/01J"}"#) };
        let error = parse_json_object::<wire::TriggerResponse>(&oversized).expect_err("not read");
        assert!(
            matches!(&error, EngineError::CallFailed { status: Some(200), detail } if detail.contains("larger than"))
        );
        assert!(check_status(&oversized, NotFound::IsCallFailed).is_ok(), "the status alone is still judged");
    }

    #[test]
    fn debug_output_of_the_config_hides_every_credential() {
        let config = GateConfig {
            bearer_token: Some("tok-123".into()),
            extra_header: Some(("X-Api-Key".into(), "key-456".into())),
            client_identity_pem: Some(b"-----BEGIN PRIVATE KEY-----pem-789".to_vec()),
            ..config("https://gate.example.com")
        };
        let debug = format!("{config:?}");
        for secret in ["tok-123", "key-456", "pem-789", "PRIVATE"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("[redacted]") && debug.contains("X-Api-Key"), "{debug}");
    }

    #[test]
    fn path_segments_are_percent_encoded_under_the_base_path() {
        let client = GateClient::new(config("https://gate.example.com/api/")).unwrap();
        let url = client.url(&["pipelines", "my app", "deploy/prod?x#y"]).unwrap();
        assert_eq!(url.as_str(), "https://gate.example.com/api/pipelines/my%20app/deploy%2Fprod%3Fx%23y");
    }

    #[test]
    fn the_execution_url_uses_the_ui_base_when_configured() {
        let client = GateClient::new(GateConfig {
            ui_base_url: Some("https://deck.example.com".into()),
            ..config("https://gate.example.com")
        })
        .unwrap();
        assert_eq!(client.execution_url("01JV3X").unwrap(), "https://deck.example.com/pipelines/01JV3X");
    }

    #[test]
    fn unusable_configuration_is_refused_at_construction() {
        let bad = [
            config("not a url"),
            config("mailto:gate@example.com"),
            config("ftp://gate.example.com"),
            GateConfig { ui_base_url: Some("::".into()), ..config("https://gate.example.com") },
            GateConfig { extra_header: Some(("bad header".into(), "v".into())), ..config("https://gate.example.com") },
            GateConfig { bearer_token: Some("line\nbreak".into()), ..config("https://gate.example.com") },
            GateConfig { client_identity_pem: Some(b"not a pem".to_vec()), ..config("https://gate.example.com") },
        ];
        for config in bad {
            let shown = format!("{config:?}");
            match GateClient::new(config) {
                Err(EngineError::CallFailed { status: None, .. }) => {}
                other => panic!("{shown} gave {other:?}"),
            }
        }
    }

    #[test]
    fn the_execution_id_is_the_text_after_the_last_slash_of_ref() {
        assert_eq!(execution_id_from_ref(Some("/pipelines/01JV3XABC")).as_deref(), Some("01JV3XABC"));
        assert_eq!(execution_id_from_ref(Some("01JV3XABC")).as_deref(), Some("01JV3XABC"));
        assert_eq!(execution_id_from_ref(Some("/pipelines/")), None);
        assert_eq!(execution_id_from_ref(Some("")), None);
        assert_eq!(execution_id_from_ref(None), None);
    }

    #[test]
    fn statuses_are_classified_as_the_design_says() {
        let cases: &[(u16, NotFound, &str)] = &[
            (302, NotFound::IsCallFailed, "Unauthorized"),
            (401, NotFound::IsCallFailed, "Unauthorized"),
            (403, NotFound::IsCallFailed, "Unauthorized"),
            (400, NotFound::IsCallFailed, "CallFailed"),
            (404, NotFound::IsCallFailed, "CallFailed"),
            (404, NotFound::IsNotFound, "NotFound"),
            (429, NotFound::IsCallFailed, "CallFailed"),
            (500, NotFound::IsCallFailed, "Unavailable"),
            (503, NotFound::IsNotFound, "Unavailable"),
        ];
        for (status, not_found, expected) in cases {
            let error = check_status(&response(*status, "{}"), *not_found).unwrap_err();
            let variant = format!("{error:?}");
            assert!(variant.starts_with(expected), "{status}: {variant}");
        }
        assert!(check_status(&response(202, ""), NotFound::IsNotFound).is_ok());
    }

    #[test]
    fn error_details_keep_the_engine_answer_redacted() {
        let error =
            check_status(&response(500, r#"{"message":"Authorization: Bearer abc failed"}"#), NotFound::IsCallFailed)
                .unwrap_err();
        let detail = error.operator_detail();
        assert!(detail.contains("HTTP 500"), "{detail}");
        assert!(!detail.contains("abc"), "{detail}");
    }

    #[test]
    fn empty_and_non_json_bodies_are_failed_calls() {
        for body in ["", "  \n", "<html>login</html>", "[\"/pipelines/x\"]", "null"] {
            let error = parse_json_object::<wire::TriggerResponse>(&response(200, body)).unwrap_err();
            assert!(matches!(error, EngineError::CallFailed { status: Some(200), .. }), "{body:?}: {error:?}");
        }
        let error = parse_json_list::<wire::Application>(&response(200, r#"{"name":"a"}"#)).unwrap_err();
        assert!(matches!(error, EngineError::CallFailed { .. }));
    }
}
