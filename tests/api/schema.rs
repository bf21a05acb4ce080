//! `schema.graphql` is generated from the code; this fails when it is stale.
//! `UPDATE_SCHEMA=1 cargo test schema` rewrites it (then review the diff).

#[test]
fn committed_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let generated = dxcp::graphql::sdl();
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::write(path, &generated).expect("write schema.graphql");
        return;
    }
    let committed = std::fs::read_to_string(path).expect("schema.graphql exists");
    assert!(
        committed == generated,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql` (or UPDATE_SCHEMA=1 cargo test schema)"
    );
}

#[test]
fn the_schema_keeps_the_contract_names() {
    let sdl = dxcp::graphql::sdl();
    for name in [
        "type Viewer",
        "type Deployment",
        "type RunningState",
        "type DeliveryGroup",
        "type Recipe",
        "type Environment",
        "type Service",
        "type Build",
        "type AuditEvent",
        "type DeploymentConnection",
        "type AuditEventConnection",
        "type BuildConnection",
        "type PageInfo",
        "enum DeploymentState",
        "enum Role",
        "scalar DateTime",
        "input DeploymentFilter",
        "input AuditEventFilter",
    ] {
        assert!(sdl.contains(name), "schema lost `{name}`");
    }
}
