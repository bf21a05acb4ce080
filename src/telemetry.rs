//! Logging setup: human-readable text by default, JSON lines with
//! `DXCP_LOG_FORMAT=json`. Filtering follows `RUST_LOG` (default `info`).
//! Nothing logs tokens, GraphQL variables or engine bodies (see the HTTP
//! edge and the Gate client).

use tracing_subscriber::{fmt, EnvFilter};

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    // A second init (e.g. tests starting several apps) keeps the first one.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
    };
}
