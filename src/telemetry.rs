//! Logging and tracing setup.
//!
//! Logs: human-readable text by default, JSON lines with
//! `DXCP_LOG_FORMAT=json`; `RUST_LOG` filters (default `info`). Traces are
//! exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the
//! exporter reads the standard `OTEL_*` variables). Spans carry method,
//! path, request id and domain ids, never tokens, GraphQL variables or
//! engine bodies.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer, Registry};

use crate::config::LogFormat;

/// Keeps the trace exporter and the log writer alive; flushes pending
/// spans and log lines when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    _log_writer: tracing_appender::non_blocking::WorkerGuard,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global subscriber. Call once, before the async runtime
/// starts (the OTLP exporter uses a blocking HTTP client on its own thread).
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) -> TelemetryGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Log lines are written by a dedicated thread: a write to stdout per
    // request on an async worker cost several percent of the server's CPU
    // under load. Not lossy: when the queue is full, logging waits.
    let (writer, log_writer) =
        tracing_appender::non_blocking::NonBlockingBuilder::default().lossy(false).finish(std::io::stdout());
    // Colour codes only for a person at a terminal, not in log files.
    let ansi = std::io::stdout().is_terminal();
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => fmt::layer().with_writer(writer).with_ansi(ansi).with_target(true).boxed(),
        LogFormat::Json => fmt::layer().with_writer(writer).json().flatten_event(true).with_current_span(true).boxed(),
    };
    let provider = otlp_endpoint.and_then(|endpoint| match otlp_provider() {
        Ok(provider) => Some(provider),
        Err(err) => {
            eprintln!("OTLP trace export to {endpoint} disabled: {err}");
            None
        }
    });
    let traces = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("dxcp")));
    // A second init (several apps in one test process) keeps the first one.
    let _ = tracing_subscriber::registry().with(logs).with(traces).with(filter).try_init();
    TelemetryGuard { provider, _log_writer: log_writer }
}

fn otlp_provider() -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("dxcp").build())
        .build())
}

/// An error and its sources on one line, for operators and logs
/// ("error sending request: …: connection refused").
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
