//! Two real `dxcp` processes on one database behave like one: a kill switch
//! set through one replica is enforced by the other within a second. On
//! PostgreSQL (`.ci/run`) this is the multi-replica deployment DESIGN §1
//! describes; on SQLite both processes share the file.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::harness::{TestDb, ADMIN, OWNER};

/// A `dxcp serve` child process, killed when dropped.
struct Replica {
    child: Child,
    url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

async fn start_replica(database_url: &str) -> Replica {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_dxcp"))
        .env("DXCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("DXCP_DATABASE_URL", database_url)
        .env("DXCP_SIMULATED_DURATION_MS", "60000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dxcp starts");
    let replica = Replica { child, url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client.get(format!("{}/readyz", replica.url)).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return replica;
        }
        assert!(Instant::now() < deadline, "replica on port {port} did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn gql(replica: &Replica, token: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/graphql", replica.url))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("json body")
}

fn set_kill_switch(on: bool, key: &str) -> String {
    format!(
        "mutation {{ updateSystemSettings(input: {{ mutationsDisabled: {on} }}, changeReason: \"replica test\", idempotencyKey: \"{key}\") {{ mutationsDisabled }} }}"
    )
}

/// A mutation that succeeds whenever mutations are allowed (it changes
/// nothing), so it probes the kill switch alone.
fn probe_mutation(key: &str) -> String {
    format!(
        "mutation {{ upsertService(input: {{ name: \"payments-api\", description: \"Card payments API\" }}, idempotencyKey: \"{key}\") {{ name }} }}"
    )
}

/// Polls `replica` with a probe mutation until `check` accepts the answer or a
/// second has passed since `since`; returns the elapsed time.
async fn enforced_within_a_second(replica: &Replica, since: Instant, check: impl Fn(&Value) -> bool) -> Duration {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let answer = gql(replica, ADMIN, &probe_mutation(&format!("replica-{attempt}-{}", uuid::Uuid::new_v4()))).await;
        if check(&answer) {
            return since.elapsed();
        }
        assert!(since.elapsed() < Duration::from_millis(1_500), "not enforced after {:?}: {answer}", since.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_switch_set_on_one_replica_is_enforced_by_the_other_within_a_second() {
    // Arrange: one database, two processes; the first migrates and seeds it.
    let db = TestDb::create().await;
    let first = start_replica(&db.url).await;
    let second = start_replica(&db.url).await;
    // Warm the second replica's settings copy so staleness would show.
    let warm = gql(&second, ADMIN, "{ systemSettings { mutationsDisabled } }").await;
    assert_eq!(warm["data"]["systemSettings"]["mutationsDisabled"], false);

    // Act: turn the kill switch on through the first replica.
    let on = gql(&first, ADMIN, &set_kill_switch(true, "replica-on")).await;
    assert_eq!(on["data"]["updateSystemSettings"]["mutationsDisabled"], true, "{on}");
    let since = Instant::now();

    // Assert: the second refuses mutations within a second, reads still work.
    let elapsed = enforced_within_a_second(&second, since, |answer| {
        answer["errors"][0]["extensions"]["code"] == "MUTATIONS_DISABLED"
    })
    .await;
    assert!(elapsed <= Duration::from_secs(1), "took {elapsed:?}");
    let read = gql(&second, OWNER, "{ services { name } }").await;
    assert!(read["errors"].is_null(), "{read}");

    // And back off through the second; the first accepts again.
    let off = gql(&second, ADMIN, &set_kill_switch(false, "replica-off")).await;
    assert_eq!(off["data"]["updateSystemSettings"]["mutationsDisabled"], false, "{off}");
    let since = Instant::now();
    let elapsed =
        enforced_within_a_second(&first, since, |answer| answer["data"]["upsertService"]["name"] == "payments-api")
            .await;
    assert!(elapsed <= Duration::from_secs(1), "took {elapsed:?}");
}
