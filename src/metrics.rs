//! Prometheus metrics (`GET /metrics`): GraphQL requests by operation and
//! outcome with latency, engine calls by operation and error kind with
//! latency, guardrail refusals by code. In-flight deployments by group and
//! environment are counted from the database at scrape time, so every
//! replica reports the same truth.
//!
//! The operation label is bounded: it is one of the schema's root field
//! names (fixed when the metrics are created), `batch`, `anonymous` (no
//! operation) or `other`. Whatever a client sends, the series count cannot
//! grow past the schema's size.

use std::{collections::HashSet, time::Duration};

use prometheus::{CounterVec, Encoder, HistogramOpts, HistogramVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// The label of a batched request.
pub const BATCH_LABEL: &str = "batch";
/// The label of a request with no operation (refused before parsing).
pub const ANONYMOUS_LABEL: &str = "anonymous";
/// The label of every name outside the known set.
pub const OTHER_LABEL: &str = "other";

pub struct Metrics {
    registry: Registry,
    /// Operation labels kept as they are; anything else is [`OTHER_LABEL`].
    operations: HashSet<String>,
    requests: CounterVec,
    request_seconds: HistogramVec,
    engine_calls: CounterVec,
    engine_seconds: HistogramVec,
    refusals: CounterVec,
    in_flight: IntGaugeVec,
}

impl Metrics {
    /// `operations`: the names kept as operation labels, normally
    /// [`crate::graphql::root_field_names`]; [`BATCH_LABEL`] is always kept.
    pub fn new(operations: impl IntoIterator<Item = String>) -> Result<Self, prometheus::Error> {
        let mut operations: HashSet<String> = operations.into_iter().collect();
        operations.insert(BATCH_LABEL.to_owned());
        let registry = Registry::new();
        let requests = CounterVec::new(
            Opts::new("dxcp_graphql_requests_total", "GraphQL requests by operation name and outcome"),
            &["operation", "outcome"],
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("dxcp_graphql_request_duration_seconds", "GraphQL request latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )?;
        let engine_calls = CounterVec::new(
            Opts::new("dxcp_engine_calls_total", "Engine calls by operation and error kind (none on success)"),
            &["operation", "error"],
        )?;
        let engine_seconds = HistogramVec::new(
            HistogramOpts::new("dxcp_engine_call_duration_seconds", "Engine call latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )?;
        let refusals =
            CounterVec::new(Opts::new("dxcp_guardrail_refusals_total", "Refused mutations by error code"), &["code"])?;
        let in_flight = IntGaugeVec::new(
            Opts::new("dxcp_deployments_in_flight", "PENDING, ACTIVE and IN_PROGRESS deployments"),
            &["delivery_group", "environment"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(engine_calls.clone()))?;
        registry.register(Box::new(engine_seconds.clone()))?;
        registry.register(Box::new(refusals.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Self { registry, operations, requests, request_seconds, engine_calls, engine_seconds, refusals, in_flight })
    }

    /// One GraphQL request; `operation` is the root field (or `batch`) it
    /// executed, `outcome` is `ok`, `error` or a refusal status.
    pub fn request(&self, operation: Option<&str>, outcome: &str, elapsed: Duration) {
        let operation = self.operation_label(operation);
        self.requests.with_label_values(&[operation, outcome]).inc();
        self.request_seconds.with_label_values(&[operation]).observe(elapsed.as_secs_f64());
    }

    /// One engine call; `error` is `none` on success.
    pub fn engine_call(&self, operation: &str, error: &str, elapsed: Duration) {
        self.engine_calls.with_label_values(&[operation, error]).inc();
        self.engine_seconds.with_label_values(&[operation]).observe(elapsed.as_secs_f64());
    }

    /// The label for `operation`: itself when it is a known name, else `other`.
    fn operation_label<'a>(&'a self, operation: Option<&str>) -> &'a str {
        match operation {
            None => ANONYMOUS_LABEL,
            Some(name) => self.operations.get(name).map_or(OTHER_LABEL, String::as_str),
        }
    }

    pub fn refusal(&self, code: &str) {
        self.refusals.with_label_values(&[code]).inc();
    }

    /// The Prometheus text exposition, with the in-flight gauge set from
    /// `in_flight` (group, environment, count).
    pub fn render(&self, in_flight: &[(String, String, i64)]) -> String {
        self.in_flight.reset();
        for (group, environment, count) in in_flight {
            self.in_flight.with_label_values(&[group.as_str(), environment.as_str()]).set(*count);
        }
        let mut buffer = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut buffer).is_err() {
            return String::new();
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new(["deployments".to_owned(), "deploy".to_owned()]).expect("metrics")
    }

    #[test]
    fn only_known_operations_batch_and_anonymous_are_kept_as_labels() {
        let metrics = metrics();
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("deployments")), "deployments");
        assert_eq!(metrics.operation_label(Some("batch")), "batch");
        assert_eq!(metrics.operation_label(Some("History")), "other");
        assert_eq!(metrics.operation_label(Some("Deployments")), "other");
        assert_eq!(metrics.operation_label(Some("bad name")), "other");
        assert_eq!(metrics.operation_label(Some("")), "other");
    }

    #[test]
    fn three_hundred_client_names_add_one_series_family_not_three_hundred() {
        let metrics = metrics();
        for n in 0..300 {
            metrics.request(Some(&format!("Op{n}")), "ok", Duration::from_millis(1));
        }
        let text = metrics.render(&[]);
        assert!(text.contains("dxcp_graphql_requests_total{operation=\"other\",outcome=\"ok\"} 300"), "{text}");
        assert!(!text.contains("Op1"), "{text}");
        let series = text.lines().filter(|l| l.starts_with("dxcp_graphql_request_duration_seconds_count")).count();
        assert_eq!(series, 1, "{text}");
    }

    #[test]
    fn the_schema_root_fields_are_known_operations() {
        let metrics = Metrics::new(crate::graphql::root_field_names()).expect("metrics");
        for name in ["deployments", "deploy", "deploymentUpdated", "viewer", "__schema", "__typename", "batch"] {
            assert_eq!(metrics.operation_label(Some(name)), name);
        }
        assert_eq!(metrics.operation_label(Some("Query")), "other");
        assert_eq!(metrics.operation_label(Some("DeploymentState")), "other");
    }

    #[test]
    fn rendering_lists_every_family() {
        let metrics = metrics();
        metrics.request(Some("deploy"), "ok", Duration::from_millis(3));
        metrics.engine_call("trigger", "none", Duration::from_millis(3));
        metrics.refusal("QUOTA_EXCEEDED");
        let text = metrics.render(&[("payments".into(), "sandbox".into(), 2)]);
        assert!(text.contains("dxcp_graphql_requests_total{operation=\"deploy\",outcome=\"ok\"} 1"));
        assert!(text.contains("dxcp_guardrail_refusals_total{code=\"QUOTA_EXCEEDED\"} 1"));
        assert!(text.contains("dxcp_deployments_in_flight{delivery_group=\"payments\",environment=\"sandbox\"} 2"));
        assert!(text.contains("dxcp_engine_call_duration_seconds_bucket"));
    }
}
