//! Prometheus metrics (`GET /metrics`): GraphQL requests by operation and
//! outcome with latency, engine calls by operation and error kind with
//! latency, guardrail refusals by code. In-flight deployments by group and
//! environment are counted from the database at scrape time, so every
//! replica reports the same truth.
//!
//! Label values that come from clients (operation names) are sanitized and
//! bounded so a caller cannot blow up the series count.

use std::time::Duration;

use prometheus::{CounterVec, Encoder, HistogramOpts, HistogramVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// Latency buckets in seconds, from 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Longest operation name kept as a label; longer or odd ones become "other".
const MAX_OPERATION_LABEL: usize = 64;

pub struct Metrics {
    registry: Registry,
    requests: CounterVec,
    request_seconds: HistogramVec,
    engine_calls: CounterVec,
    engine_seconds: HistogramVec,
    refusals: CounterVec,
    in_flight: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
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
        Ok(Self { registry, requests, request_seconds, engine_calls, engine_seconds, refusals, in_flight })
    }

    /// One GraphQL request; `outcome` is `ok`, `error` or a refusal status.
    pub fn request(&self, operation: Option<&str>, outcome: &str, elapsed: Duration) {
        let operation = operation_label(operation);
        self.requests.with_label_values(&[operation, outcome]).inc();
        self.request_seconds.with_label_values(&[operation]).observe(elapsed.as_secs_f64());
    }

    /// One engine call; `error` is `none` on success.
    pub fn engine_call(&self, operation: &str, error: &str, elapsed: Duration) {
        self.engine_calls.with_label_values(&[operation, error]).inc();
        self.engine_seconds.with_label_values(&[operation]).observe(elapsed.as_secs_f64());
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

fn operation_label(operation: Option<&str>) -> &str {
    match operation {
        None => "anonymous",
        Some(name)
            if !name.is_empty()
                && name.len() <= MAX_OPERATION_LABEL
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            name
        }
        Some(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("History")), "History");
        assert_eq!(operation_label(Some("bad name")), "other");
        assert_eq!(operation_label(Some(&"a".repeat(65))), "other");
    }

    #[test]
    fn rendering_lists_every_family() {
        let metrics = Metrics::new().expect("metrics");
        metrics.request(Some("Q"), "ok", Duration::from_millis(3));
        metrics.engine_call("trigger", "none", Duration::from_millis(3));
        metrics.refusal("QUOTA_EXCEEDED");
        let text = metrics.render(&[("payments".into(), "sandbox".into(), 2)]);
        assert!(text.contains("dxcp_graphql_requests_total{operation=\"Q\",outcome=\"ok\"} 1"));
        assert!(text.contains("dxcp_guardrail_refusals_total{code=\"QUOTA_EXCEEDED\"} 1"));
        assert!(text.contains("dxcp_deployments_in_flight{delivery_group=\"payments\",environment=\"sandbox\"} 2"));
        assert!(text.contains("dxcp_engine_call_duration_seconds_bucket"));
    }
}
