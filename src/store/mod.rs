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
mod write;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, QueryTrait,
    Select, SelectModel, SelectorRaw, Statement, Value,
};

pub use error::StoreError;
pub(crate) use write::WriteTx;

/// SQLite pool size: readers run side by side (one thread each), and
/// there is a single writer anyway.
const SQLITE_MAX_CONNECTIONS: u32 = 8;

/// PostgreSQL pool size: four connections per core, 8 to 20. More
/// connections than the cores can serve only queue inside the server: on
/// two cores, 8 answered the history page 10-40% faster at 64 concurrent
/// requests than 20.
fn postgres_max_connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores.saturating_mul(4)).unwrap_or(u32::MAX).clamp(8, 20)
}

/// How long a SQLite writer waits for the write lock before failing (only
/// another process's writer can hold it: this one's take turns).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// A pooled connection idle for this long is pinged before it is handed
/// out (a server restart or a proxy may have dropped it); a busy one is
/// not, so a hot path pays no extra round trip per statement.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Handle to the database: cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    statements: Arc<AtomicU64>,
    /// SQLite only: whose turn it is to write, in this process (the only
    /// way to write is through it: [`Store::begin_write`], [`Store::writer`]).
    write_gate: Option<write::WriteGate>,
}

impl Store {
    /// Connects to `url` (`sqlite://...` or `postgres://...`). For SQLite the
    /// file and its folder are created and WAL is on; this process's writers
    /// take turns (`write.rs`), another process's wait up to the busy timeout.
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
            .max_connections(if is_sqlite { SQLITE_MAX_CONNECTIONS } else { postgres_max_connections() })
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true)
                    // Sorts and temporary indexes in memory, not in temp files.
                    .pragma("temp_store", "memory")
            });
        let mut db = Database::connect(options).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let write_gate = is_sqlite.then(write::WriteGate::new);
        Ok(Self { db, statements, write_gate })
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

/// `select` with `LIMIT limit` written into the SQL text instead of bound.
///
/// SQLite (3.47 and later) reads a bound LIMIT while planning and marks the
/// prepared statement to be planned again whenever that parameter is bound:
/// with the query builder's `LIMIT ?`, every run of a cached statement was
/// parsed and planned anew, a quarter of the CPU of a one-row read. A
/// literal keeps the statement reusable; PostgreSQL's generic plans get the
/// row goal too. `select` must not carry a limit of its own.
pub(crate) fn limited<E: EntityTrait>(
    select: Select<E>,
    backend: DatabaseBackend,
    limit: u64,
) -> SelectorRaw<SelectModel<E::Model>> {
    E::find().from_raw_sql(limited_statement(select, backend, limit))
}

/// The statement of [`limited`], for rows read by position.
pub(crate) fn limited_statement<E: EntityTrait>(select: Select<E>, backend: DatabaseBackend, limit: u64) -> Statement {
    let mut statement = select.build(backend);
    statement.sql.push_str(" LIMIT ");
    statement.sql.push_str(&limit.to_string());
    statement
}

/// The first row `select` yields on `conn` (`Select::one` with an inline
/// `LIMIT 1`; see [`limited`]).
pub(crate) async fn first<E: EntityTrait>(
    select: Select<E>,
    conn: &impl ConnectionTrait,
) -> Result<Option<E::Model>, DbErr> {
    limited(select, conn.get_database_backend(), 1).one(conn).await
}

/// The SQL text of a statement whose shape never changes, built once per
/// process and backend: building it with the query builder cost about a
/// fifth of the CPU of a `runningState` request. Each run binds its own
/// values.
pub(crate) struct FixedSql {
    sqlite: OnceLock<String>,
    postgres: OnceLock<String>,
}

impl FixedSql {
    pub(crate) const fn new() -> Self {
        Self { sqlite: OnceLock::new(), postgres: OnceLock::new() }
    }

    /// The statement `build` makes, with `values` bound in its place.
    /// `build` must make the same SQL text whatever values it is given,
    /// and bind them in the order `values` lists them.
    pub(crate) fn statement(
        &self,
        backend: DatabaseBackend,
        build: impl FnOnce() -> Statement,
        values: Vec<Value>,
    ) -> Statement {
        let slot = match backend {
            DatabaseBackend::Sqlite => Some(&self.sqlite),
            DatabaseBackend::Postgres => Some(&self.postgres),
            _ => None,
        };
        let sql = match slot {
            Some(slot) => slot.get_or_init(|| build().sql).clone(),
            None => build().sql,
        };
        Statement::from_sql_and_values(backend, sql, values)
    }
}

/// The file behind a `sqlite://path?...` URL, or `None` for in-memory and
/// non-SQLite URLs.
fn sqlite_file_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}
