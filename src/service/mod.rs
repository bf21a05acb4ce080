//! Use cases: load, decide with the domain, write through the store, call
//! the engine. Resolvers call exactly one function here.

pub mod actions;
pub mod admin;
pub mod audit;
pub mod audit_burst;
pub mod builds;
pub mod cancel;
pub mod deploy;
pub mod limits;
pub(crate) mod mutation;
pub mod preview;
pub mod reads;
pub mod refresh;
pub mod watch;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::{
    domain::{DomainError, ErrorCode, Principal},
    engine::Engine,
    metrics::Metrics,
    store::Store,
};

/// Who is asking, and under which request id (stamped on audit events).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub request_id: String,
}

/// Everything the use cases need; cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub(crate) store: Store,
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) policy: RuntimePolicy,
    pub(crate) limits: Arc<limits::Limits>,
    pub(crate) metrics: Arc<Metrics>,
    /// Open bursts of identical refusals (this replica's; see `audit_burst`).
    pub(crate) bursts: Arc<Mutex<audit_burst::Bursts>>,
}

/// Process-wide knobs of the use cases, from configuration.
#[derive(Debug, Clone)]
pub struct RuntimePolicy {
    pub engine_timeout: std::time::Duration,
    pub stale_after: std::time::Duration,
    /// How long identical refusals are aggregated (`DXCP_AUDIT_BURST_WINDOW_MS`).
    pub audit_burst_window: std::time::Duration,
}

impl Services {
    pub fn new(store: Store, engine: Arc<dyn Engine>, policy: RuntimePolicy, metrics: Arc<Metrics>) -> Self {
        let bursts = Arc::new(Mutex::new(audit_burst::Bursts::new(policy.audit_burst_window)));
        Self { store, engine, policy, limits: Arc::default(), metrics, bursts }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The Prometheus exposition, with in-flight counts read now.
    pub async fn render_metrics(&self) -> Result<String, DomainError> {
        let in_flight = self.store.in_flight_counts().await?;
        Ok(self.metrics.render(&in_flight))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Now, at the microsecond precision the database keeps, so what a use
    /// case returns equals what a later read returns.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
    }
}

pub(crate) fn forbidden(action: &str) -> DomainError {
    DomainError::new(ErrorCode::RoleForbidden, format!("your role may not {action}"))
}
