//! Storage: the only module that speaks SeaORM. It owns connections,
//! migrations and transactions (DESIGN §1, §8); callers get domain types.

pub mod admin;
pub mod admission;
pub mod audit;
pub mod builds;
pub mod catalog;
mod convert;
pub mod deployments;
pub mod error;
pub mod idempotency;
pub mod lifecycle;
pub mod settings;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseBackend, DatabaseConnection};

pub use error::StoreError;

/// Pool size for PostgreSQL; SQLite uses its own smaller pool because it
/// has a single writer anyway.
const POSTGRES_MAX_CONNECTIONS: u32 = 20;
const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// How long a SQLite writer waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Handle to the database: cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    statements: Arc<AtomicU64>,
}

impl Store {
    /// Connects to `url` (`sqlite://...` or `postgres://...`). For SQLite the
    /// file and its folder are created, WAL is on and writers wait for the
    /// lock instead of failing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = sqlite_file_path(url) {
            if let Some(parent) = std::path::Path::new(&path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", parent.display())))?;
                }
            }
        }
        let mut options = ConnectOptions::new(url.to_owned());
        let is_sqlite = url.starts_with("sqlite:");
        options
            .max_connections(if is_sqlite { SQLITE_MAX_CONNECTIONS } else { POSTGRES_MAX_CONNECTIONS })
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
            });
        let mut db = Database::connect(options).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Self { db, statements })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// True when the database answers and every migration is applied.
    pub async fn is_ready(&self) -> bool {
        match Migrator::get_pending_migrations(&self.db).await {
            Ok(pending) => pending.is_empty(),
            Err(_) => false,
        }
    }

    /// Number of SQL statements executed through this handle so far; tests
    /// use it to prove that a page costs a constant number of queries.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// The file behind a `sqlite://path?...` URL, or `None` for in-memory and
/// non-SQLite URLs.
fn sqlite_file_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}
