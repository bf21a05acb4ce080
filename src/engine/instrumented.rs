//! An [`Engine`] decorator that times every call and counts it by
//! operation and error kind, whatever engine is behind it.

use std::{sync::Arc, time::Instant};

use super::{Engine, EngineError, ExecutionSnapshot, PipelineConfig, TriggerAccepted, TriggerRequest};
use crate::{domain::deployment::EngineType, metrics::Metrics};

pub struct InstrumentedEngine {
    inner: Arc<dyn Engine>,
    metrics: Arc<Metrics>,
}

impl InstrumentedEngine {
    pub fn new(inner: Arc<dyn Engine>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn record<T>(&self, operation: &str, started: Instant, result: &Result<T, EngineError>) {
        let error = match result {
            Ok(_) => "none",
            Err(EngineError::Unauthorized { .. }) => "unauthorized",
            Err(EngineError::CallFailed { .. }) => "call_failed",
            Err(EngineError::Unavailable { .. }) => "unavailable",
            Err(EngineError::Timeout) => "timeout",
            Err(EngineError::NotFound { .. }) => "not_found",
        };
        self.metrics.engine_call(operation, error, started.elapsed());
    }
}

#[async_trait::async_trait]
impl Engine for InstrumentedEngine {
    fn engine_type(&self) -> EngineType {
        self.inner.engine_type()
    }

    async fn trigger(&self, request: &TriggerRequest) -> Result<TriggerAccepted, EngineError> {
        let started = Instant::now();
        let result = self.inner.trigger(request).await;
        self.record("trigger", started, &result);
        result
    }

    async fn execution(&self, execution_id: &str, actor: &str) -> Result<ExecutionSnapshot, EngineError> {
        let started = Instant::now();
        let result = self.inner.execution(execution_id, actor).await;
        self.record("execution", started, &result);
        result
    }

    async fn cancel(&self, execution_id: &str, actor: &str, reason: &str) -> Result<(), EngineError> {
        let started = Instant::now();
        let result = self.inner.cancel(execution_id, actor, reason).await;
        self.record("cancel", started, &result);
        result
    }

    async fn applications(&self, actor: &str) -> Result<Vec<String>, EngineError> {
        let started = Instant::now();
        let result = self.inner.applications(actor).await;
        self.record("applications", started, &result);
        result
    }

    async fn pipelines(&self, application: &str, actor: &str) -> Result<Vec<PipelineConfig>, EngineError> {
        let started = Instant::now();
        let result = self.inner.pipelines(application, actor).await;
        self.record("pipelines", started, &result);
        result
    }

    async fn health(&self) -> Result<(), EngineError> {
        let started = Instant::now();
        let result = self.inner.health().await;
        self.record("health", started, &result);
        result
    }
}
