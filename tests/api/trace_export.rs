//! OTLP trace export (`OTEL_EXPORTER_OTLP_ENDPOINT`). Telemetry is set up by
//! `dxcp::cli::run`, not by `Application::build`, so this test runs the
//! real binary against a tiny OTLP/HTTP collector served here, stops it
//! with SIGTERM so the batch exporter flushes, and reads what arrived.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Router};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::harness::TestDb;

/// One POST the collector received.
#[derive(Debug, Clone)]
struct Export {
    content_type: String,
    body: Vec<u8>,
}

type Received = Arc<Mutex<Vec<Export>>>;

/// An OTLP/HTTP collector on 127.0.0.1:0 recording `POST /v1/traces`.
async fn start_collector() -> (String, Received) {
    async fn traces(
        State(received): State<Received>,
        headers: HeaderMap,
        body: Bytes,
    ) -> ([(&'static str, &'static str); 1], Vec<u8>) {
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        received.lock().expect("collector lock").push(Export { content_type, body: body.to_vec() });
        // An empty ExportTraceServiceResponse.
        ([("content-type", "application/x-protobuf")], Vec::new())
    }
    let received: Received = Arc::default();
    let app = Router::new().route("/v1/traces", post(traces)).with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the collector");
    let address = listener.local_addr().expect("collector address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), received)
}

/// Kills the child if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// A length-delimited protobuf string field: tag byte, length, bytes.
fn proto_string(tag: u8, text: &str) -> Vec<u8> {
    let mut bytes = vec![tag, u8::try_from(text.len()).expect("a short string")];
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

#[tokio::test]
async fn spans_are_exported_over_otlp_with_the_service_name_and_without_tokens_or_variables() {
    let (collector, received) = start_collector().await;
    let db = TestDb::create().await;
    let token = format!("secret-token-{}", uuid::Uuid::new_v4().simple());
    let marker = format!("variable-marker-{}", uuid::Uuid::new_v4().simple());

    let child = Command::new(env!("CARGO_BIN_EXE_dxcp"))
        .arg("serve")
        .env("DXCP_LISTEN", "127.0.0.1:0")
        .env("DXCP_DATABASE_URL", &db.url)
        .env("DXCP_AUTH", "dev")
        .env("DXCP_DEV_TOKENS", format!("{token}=admin:PLATFORM_ADMIN"))
        .env("DXCP_ENGINE", "simulated")
        .env("DXCP_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_EXPORTER")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dxcp");
    let mut server = Server(child);

    // The log lines, read on a thread; the bound address is in one of them.
    let stdout = server.0.stdout.take().expect("piped stdout");
    let (lines_tx, mut lines) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.recv())
            .await
            .unwrap_or_else(|_| panic!("dxcp did not report its address; log so far: {log:#?}"))
            .unwrap_or_else(|| panic!("dxcp exited before listening; log: {log:#?}"));
        let entry: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if let Some(address) = entry["address"].as_str() {
            break address.to_owned();
        }
        log.push(line);
    };

    let client = reqwest::Client::new();
    let url = format!("http://{address}/graphql");
    let query = "query Probe($name: String!) { service(name: $name) { name } }";
    let answer: Value = client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({ "query": query, "variables": { "name": marker }, "operationName": "Probe" }))
        .send()
        .await
        .expect("POST sent")
        .json()
        .await
        .expect("a JSON answer");
    assert_eq!(answer, json!({ "data": { "service": null } }), "the request was served");
    let variables = json!({ "name": marker }).to_string();
    let get = client
        .get(&url)
        .bearer_auth(&token)
        .query(&[("query", query), ("variables", variables.as_str())])
        .send()
        .await
        .expect("GET sent");
    assert_eq!(get.status(), 200);
    drop(client);

    let pid = server.0.id().to_string();
    let signalled = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
    assert!(signalled.success(), "SIGTERM sent");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("child status") {
            break status;
        }
        assert!(Instant::now() < deadline, "dxcp did not stop within 30 s of SIGTERM");
        // Async sleep: the collector runs on this runtime.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "dxcp exited cleanly on SIGTERM: {status}");

    let exports = received.lock().expect("collector lock").clone();
    assert!(!exports.is_empty(), "the collector received no trace export");
    for export in &exports {
        assert_eq!(export.content_type, "application/x-protobuf", "OTLP/HTTP protobuf");
    }
    let bodies: Vec<u8> = exports.iter().flat_map(|e| e.body.iter().copied()).collect();
    // Span.name is field 5 (tag 0x2a); AnyValue.string_value is field 1 (tag 0x0a).
    assert!(contains(&bodies, &proto_string(0x2a, "http")), "a span named http was exported");
    assert!(contains(&bodies, b"service.name"), "the resource names its service");
    assert!(contains(&bodies, &proto_string(0x0a, "dxcp")), "the service is dxcp");
    assert!(contains(&bodies, b"/graphql"), "the span carries the path");
    assert!(!contains(&bodies, token.as_bytes()), "the bearer token was exported");
    assert!(!contains(&bodies, marker.as_bytes()), "the GraphQL variables were exported");
}
