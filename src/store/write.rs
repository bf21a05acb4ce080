//! The one way to write (ADR 0001): every write takes this process's
//! write turn first, then writes alone ([`Writer`]) or in a transaction
//! ([`WriteTx`]). Nothing else in the crate takes the turn or begins a
//! transaction (`TransactionTrait::begin` is a disallowed method in
//! `clippy.toml`), so a new write path cannot forget the turn.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, ExecResult, QueryResult,
    Statement, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{Store, StoreError};

/// SQLite only: whose turn it is to write, in this process.
#[derive(Clone)]
pub(super) struct WriteGate(Arc<Mutex<()>>);

impl WriteGate {
    pub(super) fn new() -> Self {
        Self(Arc::new(Mutex::new(())))
    }
}

/// On SQLite, this process's turn to write. Writers of one process queue
/// here, in order, instead of in SQLite's busy handler, which sleeps 1, 2,
/// 5 ... 100 ms between attempts and leaves the lock idle while writers
/// sleep (deploys under load waited hundreds of ms). Other processes on the
/// same file still meet the busy timeout. `None` on PostgreSQL, where
/// writers lock rows, not the database.
async fn take_turn(gate: Option<&WriteGate>) -> Option<OwnedMutexGuard<()>> {
    match gate {
        Some(gate) => Some(gate.0.clone().lock_owned().await),
        None => None,
    }
}

impl Store {
    /// Takes the write turn and begins a transaction under it; the turn is
    /// held until the transaction is committed, rolled back or dropped.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        self.writer().await.begin().await
    }

    /// Takes the write turn for writes without a transaction (one lone
    /// statement, or reads that decide whether to [`Writer::begin`]).
    pub(crate) async fn writer(&self) -> Writer<'_> {
        Writer { conn: self.conn(), turn: take_turn(self.write_gate.as_ref()).await }
    }
}

/// The write turn, held until dropped: statements run on it go straight to
/// the pool, with no transaction around them.
pub(crate) struct Writer<'a> {
    conn: &'a DatabaseConnection,
    turn: Option<OwnedMutexGuard<()>>,
}

impl Writer<'_> {
    /// Begins a transaction that keeps this turn.
    pub(crate) async fn begin(self) -> Result<WriteTx, StoreError> {
        #[allow(clippy::disallowed_methods)] // the one place a transaction begins
        let tx = self.conn.begin().await?;
        Ok(WriteTx { tx, _turn: self.turn })
    }
}

/// A write transaction holding the write turn. Dropping it rolls back.
pub(crate) struct WriteTx {
    // Dropped before the turn: the rollback of an abandoned transaction is
    // queued before the next writer's turn starts.
    tx: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Writer<'_> {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.conn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.conn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.conn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.conn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.conn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.conn.is_mock_connection()
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTx {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.tx.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.tx.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.tx.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.tx.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.tx.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.tx.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.tx.is_mock_connection()
    }
}
