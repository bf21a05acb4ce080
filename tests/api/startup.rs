//! Startup and the catalogue file (DESIGN §9): an invalid catalogue stops
//! startup with an error naming the entry and field, and the catalogue and
//! initial settings are applied to an empty database only.

use std::{collections::HashMap, path::Path, time::Duration};

use dxcp::{app::Application, catalog_file::DEMO_CATALOG, config::Config};
use serde_json::json;

use crate::harness::{TestApp, TestDb};

/// How long the real binary may take to refuse a bad catalogue.
const EXIT_DEADLINE: Duration = Duration::from_secs(20);

/// Invalid catalogues: the demo one with one edit, and the entry and field
/// the error must name.
fn invalid_catalogues() -> Vec<(&'static str, String, &'static str, &'static str)> {
    vec![
        (
            "unknown recipe in a group",
            edit(DEMO_CATALOG, "allowed_recipes = [\"standard\", \"canary\"]", "allowed_recipes = [\"standard\", \"nope\"]"),
            "delivery_groups[0]",
            "allowed_recipes",
        ),
        (
            "unknown environment in a group",
            edit(
                DEMO_CATALOG,
                "services = [\"checkout-web\", \"catalog-api\"]\nallowed_recipes = [\"standard\"]\nallowed_environments = [\"sandbox\", \"staging\"]",
                "services = [\"checkout-web\", \"catalog-api\"]\nallowed_recipes = [\"standard\"]\nallowed_environments = [\"sandbox\", \"qa\"]",
            ),
            "delivery_groups[1]",
            "allowed_environments",
        ),
        (
            "a service in two groups",
            edit(DEMO_CATALOG, "services = [\"checkout-web\", \"catalog-api\"]", "services = [\"checkout-web\", \"ledger\"]"),
            "delivery_groups[1]",
            "services",
        ),
        (
            "an unknown environment type",
            edit(DEMO_CATALOG, "type = \"NON_PROD\"\npromotion_order = 2", "type = \"QA\"\npromotion_order = 2"),
            "environments[1]",
            "type",
        ),
        (
            "a zero guardrail",
            edit(DEMO_CATALOG, "max_concurrent_deployments = 2", "max_concurrent_deployments = 0"),
            "delivery_groups[1]",
            "max_concurrent_deployments",
        ),
        (
            "a malformed build checksum",
            edit(
                DEMO_CATALOG,
                "sha256 = \"a011aeeeafaf445d873c8768c14220532c0a6e34c279cba37f43eb5f08d4a87f\"",
                "sha256 = \"not-hex\"",
            ),
            "builds[1]",
            "sha256",
        ),
    ]
}

/// `text` with `from` replaced by `to` exactly once.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "the demo catalogue no longer has exactly one `{from}`");
    text.replacen(from, to, 1)
}

fn write_catalog(dir: &Path, text: &str) -> String {
    let path = dir.join("catalog.toml");
    std::fs::write(&path, text).expect("catalogue written");
    path.display().to_string()
}

fn config(vars: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Config::from_lookup(|name| map.get(name).cloned()).expect("test configuration")
}

#[tokio::test]
async fn an_invalid_catalogue_stops_the_build_with_an_error_naming_the_entry_and_field() {
    for (case, text, entry, field) in invalid_catalogues() {
        let db = TestDb::create().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = write_catalog(dir.path(), &text);
        let config = config(&[("DXCP_LISTEN", "127.0.0.1:0"), ("DXCP_DATABASE_URL", &db.url), ("DXCP_CATALOG", &path)]);

        let Err(error) = Application::build(config).await else {
            panic!("{case}: the application started with an invalid catalogue");
        };

        let message = format!("{error:#}");
        assert!(message.contains(entry), "{case}: `{message}` does not name {entry}");
        assert!(message.contains(field), "{case}: `{message}` does not name {field}");
    }
}

#[tokio::test]
async fn a_rejected_catalogue_writes_nothing_so_a_fixed_one_loads_on_the_next_start() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, text, _, _) = invalid_catalogues().remove(0);
    let path = write_catalog(dir.path(), &text);
    let refused = Application::build(config(&[
        ("DXCP_LISTEN", "127.0.0.1:0"),
        ("DXCP_DATABASE_URL", &db.url),
        ("DXCP_CATALOG", &path),
    ]))
    .await;
    assert!(refused.is_err(), "the invalid catalogue is refused");
    write_catalog(dir.path(), DEMO_CATALOG);

    let app = TestApp::builder().env("DXCP_DATABASE_URL", db.url.clone()).env("DXCP_CATALOG", path).spawn().await;
    let response = app.admin("{ deliveryGroups { id } systemSettings { ciPublishers } }", json!({})).await;

    assert_eq!(response.ok()["deliveryGroups"], json!([{ "id": "payments" }, { "id": "storefront" }]));
    assert_eq!(response.ok()["systemSettings"]["ciPublishers"], json!(["ci"]));
}

#[tokio::test]
async fn the_binary_exits_non_zero_naming_the_entry_and_field_of_an_invalid_catalogue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_, text, entry, field) = invalid_catalogues().remove(0);
    let path = write_catalog(dir.path(), &text);
    let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dxcp"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("DXCP_")) {
        command.env_remove(name);
    }
    command
        .env("DXCP_CATALOG", &path)
        .env("DXCP_DATABASE_URL", &database_url)
        .env("DXCP_LISTEN", "127.0.0.1:0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);

    let child = command.spawn().expect("the dxcp binary starts");
    let output = tokio::time::timeout(EXIT_DEADLINE, child.wait_with_output())
        .await
        .expect("dxcp exits instead of serving with an invalid catalogue")
        .expect("dxcp output");

    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success(), "dxcp exited successfully: {text}");
    assert!(text.contains(entry), "the output does not name {entry}: {text}");
    assert!(text.contains(field), "the output does not name {field}: {text}");
}

#[tokio::test]
async fn a_second_start_on_the_same_database_keeps_the_catalogue_and_settings_it_has() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_catalog(dir.path(), DEMO_CATALOG);
    let query = "{ deliveryGroup(id: \"payments\") { name members } environments { name }
                   systemSettings { mutationsDisabled readRpm ciPublishers } }";
    let first = TestApp::builder()
        .env("DXCP_DATABASE_URL", db.url.clone())
        .env("DXCP_CATALOG", path.clone())
        .env("DXCP_READ_RPM", "700")
        .spawn()
        .await;
    let before = first.admin(query, json!({})).await.ok().clone();
    drop(first);
    let changed = edit(DEMO_CATALOG, "name = \"Payments\"", "name = \"Payments Renamed\"")
        .replace("members = [\"owner\"]", "members = [\"someone-else\"]")
        .replace("ci_publishers = [\"ci\"]", "ci_publishers = [\"other-ci\"]")
        + "\n[[environments]]\nname = \"prod\"\ntype = \"PROD\"\npromotion_order = 3\n";
    write_catalog(dir.path(), &changed);

    let second = TestApp::builder()
        .env("DXCP_DATABASE_URL", db.url.clone())
        .env("DXCP_CATALOG", path)
        .env("DXCP_READ_RPM", "900")
        .env("DXCP_KILL_SWITCH", "true")
        .spawn()
        .await;
    let after = second.admin(query, json!({})).await;

    assert_eq!(
        before,
        json!({
            "deliveryGroup": { "name": "Payments", "members": ["owner"] },
            "environments": [{ "name": "sandbox" }, { "name": "staging" }, { "name": "prod" }],
            "systemSettings": { "mutationsDisabled": false, "readRpm": 700, "ciPublishers": ["ci"] },
        })
    );
    assert_eq!(after.ok(), &before, "the second start changed nothing");
}
