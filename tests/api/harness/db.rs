//! One fresh database per test. `DXCP_TEST_DATABASE` picks the backend:
//! unset or `sqlite` -> a SQLite file in a temp dir; a `postgres://` URL of
//! a server -> a new database created on it, dropped when the test ends.

use sea_orm::{ConnectionTrait, Database};

pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

/// The admin URL of the PostgreSQL server under test, if one is selected.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("DXCP_TEST_DATABASE").ok().filter(|v| v.starts_with("postgres"))
}

impl TestDb {
    pub async fn create() -> Self {
        match postgres_admin_url() {
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("dxcp.db").display());
                TestDb { url, cleanup: Cleanup::Sqlite(dir) }
            }
            Some(admin_url) => {
                let name = format!("dxcp_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url).await.expect("connect to the PostgreSQL under test");
                admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
                admin.close().await.ok();
                let url = replace_database(&admin_url, &name);
                TestDb { url, cleanup: Cleanup::Postgres { admin_url, name } }
            }
        }
    }
}

/// Swaps the database name in a `postgres://user@host:port/db?params` URL.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime; use a thread with its own.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ =
                            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                        admin.close().await.ok();
                    }
                });
            });
            let _ = dropped.join();
        }
    }
}
