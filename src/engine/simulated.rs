//! The built-in simulated engine (DESIGN §6, §9 "Simulated engine knobs").
//!
//! Runs are not executed anywhere: an execution's status is a pure function of
//! its id and the clock. The id encodes the deployment, the start time, the
//! run's duration and whether it will fail, so a run survives a DXCP restart
//! (or a change of the duration setting) and ends the same way. Only cancels
//! live in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Engine, EngineError, ExecutionSnapshot, ExecutionStatus, PipelineConfig, TriggerAccepted, TriggerRequest};
use crate::domain::deployment::EngineType;

/// Prefix of every simulated execution id.
const ID_PREFIX: &str = "sim-";

/// The share of a run spent queued (ACTIVE) before it starts running.
const QUEUED_SHARE: u32 = 10;

/// What a failing simulated run reports; normalization reads it as APP.
pub const SIMULATED_FAILURE_MESSAGE: &str = "Health check failed: container exited with code 1";

/// The stage a failing simulated run fails in (`type:name`).
pub const SIMULATED_FAILED_STAGE: &str = "deploy:Deploy";

/// The clock the engine reads; replaceable for tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// An in-process engine whose runs go ACTIVE, IN_PROGRESS, then SUCCEEDED
/// after `duration` — or FAILED when the version's pre-release tag contains
/// `fail` (e.g. `1.2.0-fail`).
pub struct SimulatedEngine {
    duration: Duration,
    clock: Clock,
    state: Mutex<SimulatedState>,
}

#[derive(Default)]
struct SimulatedState {
    /// Cancellation reason per canceled execution id.
    canceled: HashMap<String, String>,
    /// Pipelines per application: configured ones plus every one triggered.
    catalog: BTreeMap<String, BTreeSet<String>>,
}

impl SimulatedEngine {
    /// An engine whose runs take `duration` from trigger to a terminal state.
    pub fn new(duration: Duration) -> Self {
        Self { duration, clock: Arc::new(Utc::now), state: Mutex::new(SimulatedState::default()) }
    }

    /// Reads time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Lists `application` and its `pipelines` in [`Engine::applications`]
    /// and [`Engine::pipelines`]. Triggers are accepted for any application
    /// and pipeline; triggered ones are listed too.
    pub fn with_application<I, S>(self, application: &str, pipelines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.lock().catalog.entry(application.to_owned()).or_default().extend(pipelines.into_iter().map(Into::into));
        self
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    fn lock(&self) -> MutexGuard<'_, SimulatedState> {
        // The state stays consistent under a panic (single inserts), so a
        // poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Engine for SimulatedEngine {
    fn engine_type(&self) -> EngineType {
        EngineType::Simulated
    }

    async fn trigger(&self, request: &TriggerRequest) -> Result<TriggerAccepted, EngineError> {
        let run = SimulatedRun {
            deployment_id: request.deployment_id,
            started_at_ms: epoch_ms(self.now()),
            duration_ms: u64::try_from(self.duration.as_millis()).unwrap_or(u64::MAX),
            fails: version_requests_failure(&request.version),
        };
        self.lock().catalog.entry(request.application.clone()).or_default().insert(request.pipeline.clone());
        let execution_id = run.id();
        tracing::debug!(engine.execution_id = %execution_id, "simulated run started");
        Ok(TriggerAccepted { execution_url: format!("simulated://executions/{execution_id}"), execution_id })
    }

    async fn execution(&self, execution_id: &str, _actor: &str) -> Result<ExecutionSnapshot, EngineError> {
        let run = SimulatedRun::parse(execution_id)
            .ok_or_else(|| EngineError::NotFound { detail: format!("no simulated execution {execution_id}") })?;
        if let Some(reason) = self.lock().canceled.get(execution_id) {
            return Ok(canceled_snapshot(reason));
        }
        Ok(run.snapshot_at(epoch_ms(self.now())))
    }

    async fn cancel(&self, execution_id: &str, _actor: &str, reason: &str) -> Result<(), EngineError> {
        // Like Gate: canceling something finished (or unknown) changes nothing.
        let Some(run) = SimulatedRun::parse(execution_id) else {
            return Ok(());
        };
        if run.status_at(epoch_ms(self.now())).is_terminal() {
            return Ok(());
        }
        self.lock().canceled.entry(execution_id.to_owned()).or_insert_with(|| reason.to_owned());
        Ok(())
    }

    async fn applications(&self, _actor: &str) -> Result<Vec<String>, EngineError> {
        Ok(self.lock().catalog.keys().cloned().collect())
    }

    async fn pipelines(&self, application: &str, _actor: &str) -> Result<Vec<PipelineConfig>, EngineError> {
        let state = self.lock();
        let pipelines = state.catalog.get(application).into_iter().flatten();
        Ok(pipelines
            .map(|name| PipelineConfig {
                id: Some(format!("sim-{application}-{name}")),
                name: name.clone(),
                disabled: false,
            })
            .collect())
    }

    async fn health(&self) -> Result<(), EngineError> {
        Ok(())
    }
}

/// Everything about a run, recoverable from its execution id
/// `sim-<deploymentId>-<startMillis>-<durationMillis>-<ok|fail>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SimulatedRun {
    deployment_id: Uuid,
    started_at_ms: u64,
    duration_ms: u64,
    fails: bool,
}

impl SimulatedRun {
    fn id(&self) -> String {
        let outcome = if self.fails { "fail" } else { "ok" };
        format!("{ID_PREFIX}{}-{}-{}-{outcome}", self.deployment_id, self.started_at_ms, self.duration_ms)
    }

    fn parse(id: &str) -> Option<Self> {
        let rest = id.strip_prefix(ID_PREFIX)?;
        // A hyphenated UUID is 36 characters and contains hyphens itself, so
        // it is cut by length before the rest is split.
        let deployment_id = Uuid::parse_str(rest.get(..36)?).ok()?;
        let mut parts = rest.get(36..)?.strip_prefix('-')?.split('-');
        let started_at_ms = parts.next()?.parse().ok()?;
        let duration_ms = parts.next()?.parse().ok()?;
        let fails = match parts.next()? {
            "ok" => false,
            "fail" => true,
            _ => return None,
        };
        parts.next().is_none().then_some(Self { deployment_id, started_at_ms, duration_ms, fails })
    }

    /// ACTIVE for the first tenth of the run, IN_PROGRESS until its end,
    /// then SUCCEEDED or FAILED.
    fn status_at(&self, now_ms: u64) -> ExecutionStatus {
        let elapsed = now_ms.saturating_sub(self.started_at_ms);
        if elapsed >= self.duration_ms {
            if self.fails {
                ExecutionStatus::Failed
            } else {
                ExecutionStatus::Succeeded
            }
        } else if elapsed < self.duration_ms / u64::from(QUEUED_SHARE) {
            ExecutionStatus::Active
        } else {
            ExecutionStatus::InProgress
        }
    }

    fn snapshot_at(&self, now_ms: u64) -> ExecutionSnapshot {
        let status = self.status_at(now_ms);
        let failed = status == ExecutionStatus::Failed;
        ExecutionSnapshot {
            raw_status: raw_status(&status).to_owned(),
            failure_messages: if failed { vec![SIMULATED_FAILURE_MESSAGE.to_owned()] } else { Vec::new() },
            failed_stage: failed.then(|| SIMULATED_FAILED_STAGE.to_owned()),
            status,
        }
    }
}

fn canceled_snapshot(reason: &str) -> ExecutionSnapshot {
    ExecutionSnapshot {
        status: ExecutionStatus::Canceled,
        raw_status: "CANCELED".to_owned(),
        failure_messages: if reason.trim().is_empty() { Vec::new() } else { vec![reason.to_owned()] },
        failed_stage: None,
    }
}

/// Gate's words for the simulated statuses, so logs read the same.
fn raw_status(status: &ExecutionStatus) -> &str {
    match status {
        ExecutionStatus::Active => "NOT_STARTED",
        ExecutionStatus::InProgress => "RUNNING",
        ExecutionStatus::Succeeded => "SUCCEEDED",
        ExecutionStatus::Failed => "TERMINAL",
        ExecutionStatus::Canceled => "CANCELED",
        ExecutionStatus::Unknown(raw) => raw,
    }
}

/// True when the version's pre-release tag (after the first `-`, before any
/// `+build`) contains `fail`, e.g. `1.2.0-fail` or `2.0.0-rc.1-failing`.
fn version_requests_failure(version: &str) -> bool {
    let without_build = version.split('+').next().unwrap_or_default();
    without_build.split_once('-').is_some_and(|(_, pre_release)| pre_release.to_ascii_lowercase().contains("fail"))
}

fn epoch_ms(at: DateTime<Utc>) -> u64 {
    // Times before 1970 do not occur; clamp rather than fail.
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use chrono::TimeZone;

    use super::*;
    use crate::domain::deployment::FailureCategory;
    use crate::domain::failure::normalize;

    const START_MS: i64 = 1_777_000_000_000;

    /// A clock the test moves by hand.
    fn manual_clock() -> (Clock, Arc<AtomicI64>) {
        let now = Arc::new(AtomicI64::new(START_MS));
        let reader = Arc::clone(&now);
        let clock: Clock = Arc::new(move || Utc.timestamp_millis_opt(reader.load(Ordering::SeqCst)).single().unwrap());
        (clock, now)
    }

    fn request(version: &str) -> TriggerRequest {
        TriggerRequest {
            deployment_id: Uuid::parse_str("0190a5e2-7c1b-7d3e-9f00-123456789abc").unwrap(),
            application: "payments".into(),
            pipeline: "deploy-payments".into(),
            service: "payments-api".into(),
            version: version.into(),
            environment: "sandbox".into(),
            artifact_ref: "s3://builds/payments-api-1.2.0.zip".into(),
            actor: "alice".into(),
            request_id: None,
            is_rollback: false,
            source_environment: None,
        }
    }

    async fn status(engine: &SimulatedEngine, id: &str) -> ExecutionStatus {
        engine.execution(id, "alice").await.unwrap().status
    }

    #[tokio::test]
    async fn a_run_is_active_then_in_progress_then_succeeded() {
        let (clock, now) = manual_clock();
        let engine = SimulatedEngine::new(Duration::from_millis(2000)).with_clock(clock);
        let accepted = engine.trigger(&request("1.2.0")).await.unwrap();
        let id = accepted.execution_id.as_str();

        assert_eq!(status(&engine, id).await, ExecutionStatus::Active);
        now.store(START_MS + 199, Ordering::SeqCst);
        assert_eq!(status(&engine, id).await, ExecutionStatus::Active);
        now.store(START_MS + 200, Ordering::SeqCst);
        assert_eq!(status(&engine, id).await, ExecutionStatus::InProgress);
        now.store(START_MS + 1999, Ordering::SeqCst);
        assert_eq!(status(&engine, id).await, ExecutionStatus::InProgress);
        now.store(START_MS + 2000, Ordering::SeqCst);
        let done = engine.execution(id, "alice").await.unwrap();
        assert_eq!(done.status, ExecutionStatus::Succeeded);
        assert_eq!(done.raw_status, "SUCCEEDED");
        assert!(done.failure_messages.is_empty());
    }

    #[tokio::test]
    async fn a_fail_pre_release_ends_failed_with_an_app_failure() {
        let (clock, now) = manual_clock();
        let engine = SimulatedEngine::new(Duration::from_millis(100)).with_clock(clock);
        let id = engine.trigger(&request("1.2.0-fail")).await.unwrap().execution_id;
        now.store(START_MS + 100, Ordering::SeqCst);

        let snapshot = engine.execution(&id, "alice").await.unwrap();
        assert_eq!(snapshot.status, ExecutionStatus::Failed);
        assert_eq!(snapshot.raw_status, "TERMINAL");
        let failure = normalize(&snapshot.failure_messages, snapshot.failed_stage.as_deref(), false, Utc::now());
        assert_eq!(failure.category, FailureCategory::App);
    }

    #[test]
    fn only_a_pre_release_tag_containing_fail_requests_failure() {
        let cases = [
            ("1.2.0-fail", true),
            ("1.2.0-FAIL.2", true),
            ("2.0.0-rc.1-failing", true),
            ("1.2.0", false),
            ("1.2.0-rc.1", false),
            ("1.2.0+fail", false),
            ("fail", false),
        ];
        for (version, fails) in cases {
            assert_eq!(version_requests_failure(version), fails, "{version}");
        }
    }

    #[tokio::test]
    async fn a_run_survives_a_restart_because_its_id_carries_everything() {
        let (clock, now) = manual_clock();
        let first = SimulatedEngine::new(Duration::from_millis(1000)).with_clock(clock.clone());
        let id = first.trigger(&request("1.0.0-fail")).await.unwrap().execution_id;
        drop(first);

        // A new process with another duration setting still ends the run on time.
        let second = SimulatedEngine::new(Duration::from_secs(60)).with_clock(clock);
        now.store(START_MS + 1000, Ordering::SeqCst);
        assert_eq!(status(&second, &id).await, ExecutionStatus::Failed);
    }

    #[tokio::test]
    async fn the_id_and_url_name_the_deployment_and_the_url_contains_the_id() {
        let (clock, _) = manual_clock();
        let engine = SimulatedEngine::new(Duration::from_millis(2000)).with_clock(clock);
        let accepted = engine.trigger(&request("1.2.0")).await.unwrap();
        assert_eq!(accepted.execution_id, format!("sim-0190a5e2-7c1b-7d3e-9f00-123456789abc-{START_MS}-2000-ok"));
        assert!(accepted.execution_url.starts_with("simulated://executions/"));
        assert!(accepted.execution_url.contains(&accepted.execution_id));
    }

    #[tokio::test]
    async fn canceling_a_running_execution_makes_it_canceled_for_good() {
        let (clock, now) = manual_clock();
        let engine = SimulatedEngine::new(Duration::from_millis(1000)).with_clock(clock);
        let id = engine.trigger(&request("1.2.0")).await.unwrap().execution_id;
        now.store(START_MS + 500, Ordering::SeqCst);

        engine.cancel(&id, "alice", "dxcp:alice").await.unwrap();
        now.store(START_MS + 5000, Ordering::SeqCst);
        let snapshot = engine.execution(&id, "alice").await.unwrap();
        assert_eq!(snapshot.status, ExecutionStatus::Canceled);
        assert_eq!(snapshot.failure_messages, vec!["dxcp:alice"]);
    }

    #[tokio::test]
    async fn canceling_a_finished_or_unknown_execution_is_ok_and_changes_nothing() {
        let (clock, now) = manual_clock();
        let engine = SimulatedEngine::new(Duration::from_millis(1000)).with_clock(clock);
        let id = engine.trigger(&request("1.2.0")).await.unwrap().execution_id;
        now.store(START_MS + 1000, Ordering::SeqCst);

        engine.cancel(&id, "alice", "too late").await.unwrap();
        engine.cancel("no-such-run", "alice", "?").await.unwrap();
        assert_eq!(status(&engine, &id).await, ExecutionStatus::Succeeded);
    }

    #[tokio::test]
    async fn an_unknown_execution_id_is_not_found() {
        let engine = SimulatedEngine::new(Duration::from_millis(1000));
        for id in [
            "01JV3X",
            "sim-not-a-uuid-1-1-ok",
            "sim-0190a5e2-7c1b-7d3e-9f00-123456789abc-1-1-maybe",
            "sim-0190a5e2-7c1b-7d3e-9f00-123456789abc-1-1-ok-extra",
        ] {
            let error = engine.execution(id, "alice").await.unwrap_err();
            assert!(matches!(error, EngineError::NotFound { .. }), "{id}");
        }
    }

    #[tokio::test]
    async fn a_zero_duration_run_is_terminal_at_once() {
        let (clock, _) = manual_clock();
        let engine = SimulatedEngine::new(Duration::ZERO).with_clock(clock);
        let id = engine.trigger(&request("1.2.0")).await.unwrap().execution_id;
        assert_eq!(status(&engine, &id).await, ExecutionStatus::Succeeded);
    }

    #[tokio::test]
    async fn configured_and_triggered_pipelines_are_listed() {
        let engine = SimulatedEngine::new(Duration::from_millis(10))
            .with_application("billing", ["deploy-billing", "rollback-billing"]);
        engine.trigger(&request("1.0.0")).await.unwrap();

        assert_eq!(engine.applications("alice").await.unwrap(), vec!["billing", "payments"]);
        let names: Vec<String> =
            engine.pipelines("billing", "alice").await.unwrap().into_iter().map(|pipeline| pipeline.name).collect();
        assert_eq!(names, vec!["deploy-billing", "rollback-billing"]);
        assert!(engine.pipelines("nope", "alice").await.unwrap().is_empty());
        assert!(engine.health().await.is_ok());
        assert_eq!(engine.engine_type(), EngineType::Simulated);
    }

    #[tokio::test]
    async fn the_system_clock_drives_a_short_run_to_the_end() {
        let engine = SimulatedEngine::new(Duration::from_millis(50));
        let id = engine.trigger(&request("1.2.0")).await.unwrap().execution_id;
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(status(&engine, &id).await, ExecutionStatus::Succeeded);
    }
}
