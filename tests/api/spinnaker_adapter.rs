//! The Gate client against a fake Gate that speaks Gate's contract
//! (STYLE §4 rule 14): method, path, headers and body of each call, status
//! mapping, failure text, and the classification of every kind of fault.

use std::time::{Duration, Instant};

use chrono::Utc;
use dxcp::domain::deployment::FailureCategory;
use dxcp::domain::failure::normalize;
use dxcp::domain::ErrorCode;
use dxcp::engine::spinnaker::{GateClient, GateConfig};
use dxcp::engine::{Engine, EngineError, ExecutionStatus, PipelineConfig, TriggerRequest};
use serde_json::json;
use uuid::Uuid;

use crate::harness::fake_gate::{FakeGate, Fault, Route};

const APPLICATION: &str = "payments";
const PIPELINE: &str = "deploy-payments";
const ACTOR: &str = "alice@example.com";

fn config(base_url: String) -> GateConfig {
    GateConfig {
        base_url,
        timeout: Duration::from_secs(2),
        bearer_token: None,
        extra_header: None,
        client_identity_pem: None,
        ui_base_url: None,
    }
}

fn client(gate: &FakeGate) -> GateClient {
    GateClient::new(config(gate.base_url())).expect("a valid Gate config")
}

fn deploy_request() -> TriggerRequest {
    TriggerRequest {
        deployment_id: Uuid::parse_str("0190a5e2-7c1b-7d3e-9f00-123456789abc").unwrap(),
        application: APPLICATION.to_owned(),
        pipeline: PIPELINE.to_owned(),
        service: "payments-api".to_owned(),
        version: "1.4.2".to_owned(),
        environment: "sandbox".to_owned(),
        artifact_ref: "s3://builds/payments-api/1.4.2.zip".to_owned(),
        actor: ACTOR.to_owned(),
        request_id: Some("req-123".to_owned()),
        is_rollback: false,
        source_environment: None,
    }
}

/// A gate knowing the default pipeline, and one execution triggered on it.
async fn gate_with_execution() -> (FakeGate, GateClient, String) {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);
    let client = client(&gate);
    let accepted = client.trigger(&deploy_request()).await.unwrap();
    (gate, client, accepted.execution_id)
}

fn assert_code(result: Result<impl std::fmt::Debug, EngineError>, code: ErrorCode, case: &str) {
    match result {
        Err(error) => assert_eq!(error.code(), code, "{case}: {error:?}"),
        Ok(value) => panic!("{case}: expected {code}, got {value:?}"),
    }
}

// --- trigger ------------------------------------------------------------------

#[tokio::test]
async fn trigger_posts_a_manual_trigger_with_the_deployment_parameters() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);

    client(&gate).trigger(&deploy_request()).await.unwrap();

    let triggers = gate.triggers();
    assert_eq!(triggers.len(), 1);
    let sent = &triggers[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/pipelines/payments/deploy-payments");
    assert_eq!(
        sent.json(),
        &json!({
            "type": "manual",
            "user": ACTOR,
            "correlationId": "dxcp-0190a5e2-7c1b-7d3e-9f00-123456789abc",
            "parameters": {
                "service": "payments-api",
                "version": "1.4.2",
                "environment": "sandbox",
                "artifactRef": "s3://builds/payments-api/1.4.2.zip",
                "dxcpDeploymentId": "0190a5e2-7c1b-7d3e-9f00-123456789abc"
            },
            "artifacts": [],
            "notifications": []
        })
    );
    assert_eq!(sent.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn trigger_sends_the_actor_and_request_id_headers() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);

    client(&gate).trigger(&deploy_request()).await.unwrap();

    let sent = &gate.triggers()[0];
    assert_eq!(sent.header("X-Spinnaker-User"), Some(ACTOR));
    assert_eq!(sent.header("X-SPINNAKER-REQUEST-ID"), Some("req-123"));
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn trigger_without_a_request_id_sends_no_request_id_header() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);
    let request = TriggerRequest { request_id: None, ..deploy_request() };

    client(&gate).trigger(&request).await.unwrap();

    assert_eq!(gate.triggers()[0].header("x-spinnaker-request-id"), None);
}

#[tokio::test]
async fn trigger_percent_encodes_application_and_pipeline_names_with_spaces() {
    let gate = FakeGate::start().await;
    gate.add_pipeline("my app", "deploy it/now");
    let request =
        TriggerRequest { application: "my app".to_owned(), pipeline: "deploy it/now".to_owned(), ..deploy_request() };

    let accepted = client(&gate).trigger(&request).await.unwrap();

    assert_eq!(gate.triggers()[0].path, "/pipelines/my%20app/deploy%20it%2Fnow");
    assert_eq!(gate.last_execution_id(), Some(accepted.execution_id));
}

#[tokio::test]
async fn trigger_returns_the_execution_id_from_ref_and_a_url_containing_it() {
    let (gate, _client, execution_id) = gate_with_execution().await;

    assert_eq!(gate.execution_ids(), vec![execution_id.clone()]);
    assert_eq!(execution_id.len(), 26, "orca ids are ULIDs: {execution_id}");

    let accepted = client(&gate).trigger(&deploy_request()).await.unwrap();
    // Same correlation id while the first run is in flight: orca's dedup.
    assert_eq!(accepted.execution_id, execution_id);
    assert_eq!(accepted.execution_url, format!("{}/pipelines/{execution_id}", gate.base_url()));
}

#[tokio::test]
async fn the_execution_url_points_at_the_ui_base_when_one_is_configured() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);
    let client = GateClient::new(GateConfig {
        ui_base_url: Some("https://deck.example.com/".to_owned()),
        ..config(gate.base_url())
    })
    .unwrap();

    let accepted = client.trigger(&deploy_request()).await.unwrap();

    assert_eq!(accepted.execution_url, format!("https://deck.example.com/pipelines/{}", accepted.execution_id));
}

#[tokio::test]
async fn trigger_is_sent_once_even_when_gate_fails() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);
    gate.inject(Route::Trigger, Fault::Status(503));

    let result = client(&gate).trigger(&deploy_request()).await;

    assert_code(result, ErrorCode::EngineUnavailable, "503 on trigger");
    assert_eq!(gate.triggers().len(), 1);
}

#[tokio::test]
async fn triggering_an_unknown_pipeline_is_a_failed_call() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, "other-pipeline");

    let error = client(&gate).trigger(&deploy_request()).await.unwrap_err();

    assert!(matches!(error, EngineError::CallFailed { status: Some(404), .. }), "{error:?}");
    assert_eq!(error.code(), ErrorCode::EngineCallFailed);
    assert!(error.operator_detail().contains("Pipeline configuration not found"));
}

#[tokio::test]
async fn a_missing_required_parameter_or_a_disabled_pipeline_is_a_failed_call() {
    let gate = FakeGate::start().await;
    gate.require_parameter(APPLICATION, PIPELINE, "region");
    gate.disable_pipeline(APPLICATION, "deploy-disabled");
    let client = client(&gate);

    let missing = client.trigger(&deploy_request()).await.unwrap_err();
    let disabled = client
        .trigger(&TriggerRequest { pipeline: "deploy-disabled".to_owned(), ..deploy_request() })
        .await
        .unwrap_err();

    assert!(matches!(missing, EngineError::CallFailed { status: Some(400), .. }));
    assert!(missing.operator_detail().contains("Required parameter region is missing"));
    assert!(matches!(disabled, EngineError::CallFailed { status: Some(400), .. }));
    // Orca still persisted a TERMINAL execution explaining the startup failure.
    let orphan = gate.last_execution_id().unwrap();
    let snapshot = client.execution(&orphan, ACTOR).await.unwrap();
    assert_eq!(snapshot.status, ExecutionStatus::Failed);
    assert_eq!(snapshot.failure_messages, vec!["Failed on startup: Pipeline is disabled and cannot be started."]);
}

#[tokio::test]
async fn a_trigger_answer_without_a_ref_is_a_failed_call() {
    let bodies = [r#"{}"#, r#"{"ref": ""}"#, r#"{"ref": "/pipelines/"}"#, r#"{"ref": 42}"#, r#"["/pipelines/01JV3X"]"#];
    for body in bodies {
        let gate = FakeGate::start().await;
        gate.add_pipeline(APPLICATION, PIPELINE);
        gate.inject(Route::Trigger, Fault::Raw { status: 202, body: body.to_owned() });

        let error = client(&gate).trigger(&deploy_request()).await.unwrap_err();

        assert!(matches!(error, EngineError::CallFailed { status: Some(202), .. }), "{body}: {error:?}");
    }
}

// --- execution ------------------------------------------------------------------

#[tokio::test]
async fn execution_maps_every_gate_status() {
    let (gate, client, id) = gate_with_execution().await;
    let cases = [
        ("NOT_STARTED", ExecutionStatus::Active),
        ("BUFFERED", ExecutionStatus::Active),
        ("RUNNING", ExecutionStatus::InProgress),
        ("PAUSED", ExecutionStatus::InProgress),
        ("SUSPENDED", ExecutionStatus::InProgress),
        ("SUCCEEDED", ExecutionStatus::Succeeded),
        ("TERMINAL", ExecutionStatus::Failed),
        ("STOPPED", ExecutionStatus::Failed),
        ("FAILED_CONTINUE", ExecutionStatus::Failed),
        ("CANCELED", ExecutionStatus::Canceled),
        ("REDIRECT", ExecutionStatus::Unknown("REDIRECT".to_owned())),
        ("SOMETHING_NEW", ExecutionStatus::Unknown("SOMETHING_NEW".to_owned())),
    ];
    for (raw, expected) in cases {
        gate.set_status(&id, raw);

        let snapshot = client.execution(&id, ACTOR).await.unwrap();

        assert_eq!(snapshot.status, expected, "{raw}");
        assert_eq!(snapshot.raw_status, raw);
    }
}

#[tokio::test]
async fn a_new_execution_is_active_and_then_follows_the_scripted_timeline() {
    let (gate, client, id) = gate_with_execution().await;

    let first = client.execution(&id, ACTOR).await.unwrap();
    gate.set_status(&id, "RUNNING");
    let running = client.execution(&id, ACTOR).await.unwrap();
    gate.succeed(&id);
    let done = client.execution(&id, ACTOR).await.unwrap();

    assert_eq!(first.status, ExecutionStatus::Active);
    assert_eq!(running.status, ExecutionStatus::InProgress);
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert!(done.failure_messages.is_empty());
    assert_eq!(done.failed_stage, None);
    let get = gate.requests_on(Route::GetExecution);
    assert_eq!(get.len(), 3);
    assert_eq!(get[0].path, format!("/pipelines/{id}"));
    assert_eq!(get[0].header("x-spinnaker-user"), Some(ACTOR));
}

#[tokio::test]
async fn a_failed_execution_reports_its_stage_errors_and_normalizes_to_app() {
    let (gate, client, id) = gate_with_execution().await;
    gate.fail_execution(&id, &["Health check failed: container exited with code 1", "0 of 3 instances healthy"]);

    let snapshot = client.execution(&id, ACTOR).await.unwrap();

    assert_eq!(snapshot.status, ExecutionStatus::Failed);
    assert_eq!(snapshot.raw_status, "TERMINAL");
    assert_eq!(
        snapshot.failure_messages,
        vec!["Health check failed: container exited with code 1", "0 of 3 instances healthy"]
    );
    assert_eq!(snapshot.failed_stage.as_deref(), Some("deploy:Deploy"));
    let failure = normalize(&snapshot.failure_messages, snapshot.failed_stage.as_deref(), false, Utc::now());
    assert_eq!(failure.category, FailureCategory::App);
    assert_eq!(failure.summary, "Health check failed: container exited with code 1");
}

#[tokio::test]
async fn clouddriver_messages_and_the_cancellation_reason_follow_stage_errors() {
    let (gate, client, id) = gate_with_execution().await;
    gate.update_execution(&id, |execution| {
        execution["status"] = json!("TERMINAL");
        execution["cancellationReason"] = json!("Stopped by a failed stage");
        let stage = &mut execution["stages"][0];
        stage["status"] = json!("TERMINAL");
        stage["context"]["kato.tasks"] = json!([
            {"id": "1", "status": {"completed": true, "failed": true},
             "exception": {"message": "Insufficient capacity in us-east-1a"},
             "history": [{"phase": "ORCHESTRATION", "status": "Initializing"}]}
        ]);
    });

    let snapshot = client.execution(&id, ACTOR).await.unwrap();

    assert_eq!(snapshot.failure_messages, vec!["Insufficient capacity in us-east-1a", "Stopped by a failed stage"]);
    let failure = normalize(&snapshot.failure_messages, None, false, Utc::now());
    assert_eq!(failure.category, FailureCategory::Infrastructure);
}

#[tokio::test]
async fn reading_an_unknown_execution_is_not_found() {
    let gate = FakeGate::start().await;

    let error = client(&gate).execution("01JV3XNOTHERE0000000000000", ACTOR).await.unwrap_err();

    assert!(matches!(error, EngineError::NotFound { .. }), "{error:?}");
    assert_eq!(error.code(), ErrorCode::EngineCallFailed);
    assert!(error.operator_detail().contains("Pipeline not found"));
}

// --- cancel ---------------------------------------------------------------------

#[tokio::test]
async fn cancel_sends_the_reason_and_the_actor_and_the_execution_reads_canceled() {
    let (gate, client, id) = gate_with_execution().await;
    gate.set_status(&id, "RUNNING");
    let reason = "dxcp:alice@example.com:deployment=0190a5e2 & more";

    client.cancel(&id, ACTOR, reason).await.unwrap();

    let cancels = gate.cancels();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method, "PUT");
    assert_eq!(cancels[0].path, format!("/pipelines/{id}/cancel"));
    assert_eq!(cancels[0].query_param("reason").as_deref(), Some(reason));
    assert_eq!(cancels[0].header("x-spinnaker-user"), Some(ACTOR));
    let execution = gate.execution(&id).unwrap();
    assert_eq!(execution["canceled"], json!(true));
    assert_eq!(execution["canceledBy"], json!(ACTOR));
    let snapshot = client.execution(&id, ACTOR).await.unwrap();
    assert_eq!(snapshot.status, ExecutionStatus::Canceled);
    assert_eq!(snapshot.failure_messages, vec![reason]);
}

#[tokio::test]
async fn canceling_a_finished_execution_succeeds_and_changes_nothing() {
    let (gate, client, id) = gate_with_execution().await;
    gate.succeed(&id);

    client.cancel(&id, ACTOR, "too late").await.unwrap();

    let snapshot = client.execution(&id, ACTOR).await.unwrap();
    assert_eq!(snapshot.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn canceling_an_unknown_execution_is_a_failed_call() {
    let gate = FakeGate::start().await;

    let result = client(&gate).cancel("01JV3XNOTHERE", ACTOR, "x").await;

    assert_code(result, ErrorCode::EngineCallFailed, "404 on cancel");
}

// --- applications, pipelines, health ------------------------------------------------

#[tokio::test]
async fn applications_lists_the_names_gate_returns() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);
    gate.add_application("Billing");

    let names = client(&gate).applications(ACTOR).await.unwrap();

    assert_eq!(names, vec!["billing", "payments"]);
    let sent = &gate.requests_on(Route::Applications)[0];
    assert_eq!(sent.path, "/applications");
    assert_eq!(sent.header("x-spinnaker-user"), Some(ACTOR));
}

#[tokio::test]
async fn pipelines_lists_the_configs_of_an_application_with_ids_and_disabled_flags() {
    let gate = FakeGate::start().await;
    let deploy_id = gate.add_pipeline("my app", "deploy");
    gate.disable_pipeline("my app", "rollback");
    gate.add_pipeline("other", "unrelated");

    let mut pipelines = client(&gate).pipelines("my app", ACTOR).await.unwrap();
    pipelines.sort_by(|a, b| a.name.cmp(&b.name));

    assert_eq!(pipelines.len(), 2);
    assert_eq!(pipelines[0], PipelineConfig { id: Some(deploy_id), name: "deploy".to_owned(), disabled: false });
    assert_eq!(pipelines[1].name, "rollback");
    assert!(pipelines[1].disabled);
    assert_eq!(gate.requests_on(Route::PipelineConfigs)[0].path, "/applications/my%20app/pipelineConfigs");
}

#[tokio::test]
async fn health_is_ok_when_gate_is_up_and_unavailable_when_it_is_down() {
    let gate = FakeGate::start().await;
    let client = client(&gate);

    let up = client.health().await;
    gate.set_healthy(false);
    let down = client.health().await;

    assert!(up.is_ok(), "{up:?}");
    assert_code(down, ErrorCode::EngineUnavailable, "health DOWN");
    let sent = &gate.requests_on(Route::Health)[0];
    assert_eq!(sent.path, "/health");
    assert_eq!(sent.header("x-spinnaker-user"), None);
}

// --- credentials ------------------------------------------------------------------

#[tokio::test]
async fn the_bearer_token_and_extra_header_are_sent_on_every_call() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);
    gate.require_bearer_token("s3cr3t");
    let client = GateClient::new(GateConfig {
        bearer_token: Some("s3cr3t".to_owned()),
        extra_header: Some(("X-Api-Key".to_owned(), "key-1".to_owned())),
        ..config(gate.base_url())
    })
    .unwrap();

    let id = client.trigger(&deploy_request()).await.unwrap().execution_id;
    client.execution(&id, ACTOR).await.unwrap();
    client.cancel(&id, ACTOR, "stop").await.unwrap();
    client.applications(ACTOR).await.unwrap();
    client.pipelines(APPLICATION, ACTOR).await.unwrap();
    client.health().await.unwrap();

    let requests = gate.requests();
    assert_eq!(requests.len(), 6);
    for request in requests {
        assert_eq!(request.header("authorization"), Some("Bearer s3cr3t"), "{}", request.path);
        assert_eq!(request.header("x-api-key"), Some("key-1"), "{}", request.path);
    }
}

#[tokio::test]
async fn a_missing_or_wrong_bearer_token_is_engine_unauthorized() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);
    gate.require_bearer_token("right");
    let wrong =
        GateClient::new(GateConfig { bearer_token: Some("wrong".to_owned()), ..config(gate.base_url()) }).unwrap();

    let missing = client(&gate).trigger(&deploy_request()).await;
    let wrong = wrong.execution("01JV3X", ACTOR).await;

    assert!(matches!(missing, Err(EngineError::Unauthorized { status: 401, .. })));
    assert_code(wrong, ErrorCode::EngineUnauthorized, "wrong token");
    assert!(gate.execution_ids().is_empty());
}

#[tokio::test]
async fn a_login_redirect_is_engine_unauthorized_and_is_not_followed() {
    let gate = FakeGate::start().await;
    gate.add_pipeline(APPLICATION, PIPELINE);
    gate.require_bearer_token_with_login_redirect("right");

    let error = client(&gate).trigger(&deploy_request()).await.unwrap_err();

    assert!(matches!(error, EngineError::Unauthorized { status: 302, .. }), "{error:?}");
    assert!(error.operator_detail().contains("/login"));
    // Only the trigger reached the fake: the redirect was not followed.
    assert_eq!(gate.requests().len(), 1);
}

#[tokio::test]
async fn gate_echoes_the_request_id() {
    let gate = FakeGate::start().await;
    let response = reqwest::Client::new()
        .get(format!("{}/health", gate.base_url()))
        .header("X-SPINNAKER-REQUEST-ID", "req-9")
        .send()
        .await
        .unwrap();

    assert_eq!(response.headers().get("x-spinnaker-request-id").and_then(|v| v.to_str().ok()), Some("req-9"));
}

// --- fault classification ------------------------------------------------------------

/// Makes the client call that `route` serves; `id` is an existing execution.
async fn call(route: Route, client: &GateClient, id: &str) -> Result<(), EngineError> {
    match route {
        Route::Trigger => client.trigger(&deploy_request()).await.map(drop),
        Route::GetExecution => client.execution(id, ACTOR).await.map(drop),
        Route::Cancel => client.cancel(id, ACTOR, "stop").await,
        Route::Applications => client.applications(ACTOR).await.map(drop),
        Route::PipelineConfigs => client.pipelines(APPLICATION, ACTOR).await.map(drop),
        Route::Health => client.health().await,
        Route::Any => unreachable!("Route::Any is not a single call"),
    }
}

/// The result of `route`'s call on a fresh gate (with one execution) that
/// answers it with `fault`.
async fn classify(route: Route, fault: Fault) -> Result<(), EngineError> {
    let (gate, client, id) = gate_with_execution().await;
    gate.inject(route, fault);
    call(route, &client, &id).await
}

#[tokio::test]
async fn server_errors_on_any_call_are_engine_unavailable() {
    let routes = [
        Route::Trigger,
        Route::GetExecution,
        Route::Cancel,
        Route::Applications,
        Route::PipelineConfigs,
        Route::Health,
    ];
    for route in routes {
        for status in [500, 502, 503] {
            let result = classify(route, Fault::Status(status)).await;
            assert!(matches!(result, Err(EngineError::Unavailable { .. })), "{route:?} {status}: {result:?}");
        }
    }
}

#[tokio::test]
async fn refused_credentials_and_redirects_are_engine_unauthorized() {
    let routes = [Route::Trigger, Route::GetExecution, Route::Cancel, Route::Applications, Route::PipelineConfigs];
    for route in routes {
        for (fault, status) in [(Fault::Status(401), 401), (Fault::Status(403), 403), (Fault::Redirect, 302)] {
            let case = format!("{route:?} {fault:?}");
            let result = classify(route, fault).await;
            assert!(
                matches!(result, Err(EngineError::Unauthorized { status: s, .. }) if s == status),
                "{case}: {result:?}"
            );
        }
    }
}

#[tokio::test]
async fn other_client_errors_are_failed_calls_with_their_status() {
    for route in [Route::Trigger, Route::Cancel, Route::Applications] {
        for status in [400, 404, 409, 429] {
            let result = classify(route, Fault::Status(status)).await;
            assert!(
                matches!(result, Err(EngineError::CallFailed { status: Some(s), .. }) if s == status),
                "{route:?} {status}: {result:?}"
            );
        }
    }
    let result = classify(Route::GetExecution, Fault::Status(404)).await;
    assert!(matches!(result, Err(EngineError::NotFound { .. })), "{result:?}");
}

#[tokio::test]
async fn an_empty_or_non_json_ok_answer_is_a_failed_call() {
    let cases = [
        (Route::Trigger, Fault::EmptyOk),
        (Route::Trigger, Fault::NotJson),
        (Route::GetExecution, Fault::EmptyOk),
        (Route::GetExecution, Fault::NotJson),
        (Route::Applications, Fault::EmptyOk),
        (Route::PipelineConfigs, Fault::NotJson),
    ];
    for (route, fault) in cases {
        let case = format!("{route:?} {fault:?}");
        let result = classify(route, fault).await;
        assert!(matches!(result, Err(EngineError::CallFailed { status: Some(200), .. })), "{case}: {result:?}");
    }
}

#[tokio::test]
async fn a_gate_slower_than_the_timeout_is_an_engine_timeout() {
    let (gate, _, id) = gate_with_execution().await;
    let client =
        GateClient::new(GateConfig { timeout: Duration::from_millis(300), ..config(gate.base_url()) }).unwrap();
    gate.inject(Route::Any, Fault::Delay(Duration::from_secs(5)));

    let started = Instant::now();
    let read = client.execution(&id, ACTOR).await;
    let triggered = client.trigger(&deploy_request()).await;

    assert!(matches!(read, Err(EngineError::Timeout)), "{read:?}");
    assert_code(triggered, ErrorCode::EngineTimeout, "slow trigger");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_delay_within_the_timeout_still_answers() {
    let (gate, client, id) = gate_with_execution().await;
    gate.inject_once(Route::GetExecution, Fault::Delay(Duration::from_millis(200)));

    let snapshot = client.execution(&id, ACTOR).await.unwrap();

    assert_eq!(snapshot.status, ExecutionStatus::Active);
}

#[tokio::test]
async fn a_one_shot_fault_affects_only_the_next_call() {
    let (gate, client, id) = gate_with_execution().await;
    gate.inject_once(Route::GetExecution, Fault::Status(500));

    let first = client.execution(&id, ACTOR).await;
    let second = client.execution(&id, ACTOR).await;

    assert_code(first, ErrorCode::EngineUnavailable, "first read");
    assert!(second.is_ok(), "{second:?}");
}

#[tokio::test]
async fn a_refused_connection_is_engine_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = GateClient::new(config(format!("http://{address}"))).unwrap();

    let triggered = client.trigger(&deploy_request()).await;
    let health = client.health().await;

    assert!(matches!(triggered, Err(EngineError::Unavailable { .. })), "{triggered:?}");
    assert_code(health, ErrorCode::EngineUnavailable, "health");
}

#[tokio::test]
async fn operator_detail_carries_the_engine_answer_with_secrets_redacted() {
    let (gate, client, id) = gate_with_execution().await;
    gate.inject(
        Route::GetExecution,
        Fault::Raw {
            status: 500,
            body: r#"{"message":"orca call failed with Authorization: Bearer leaked-token, password=hunter2"}"#
                .to_owned(),
        },
    );

    let error = client.execution(&id, ACTOR).await.unwrap_err();

    let detail = error.operator_detail();
    assert!(detail.contains("HTTP 500"), "{detail}");
    assert!(detail.contains("orca call failed"), "{detail}");
    assert!(!detail.contains("leaked-token"), "{detail}");
    assert!(!detail.contains("hunter2"), "{detail}");
    // The client-facing Display never carries the body.
    assert_eq!(error.to_string(), "engine unavailable");
}
