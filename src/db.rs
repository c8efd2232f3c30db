//! Database connection and migrations for both engines. SQLite gets WAL, foreign keys, a busy
//! timeout and `synchronous=FULL` (every committed write survives power loss; see README).
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::Semaphore;

use crate::config::Config;

pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    if let Some(dir) = config.sqlite_parent_dir() {
        std::fs::create_dir_all(&dir)?;
    }
    let mut options = ConnectOptions::new(config.database_url.clone());
    // Every statement with its duration, for profiling: TINGSHANG_LOG=sqlx::query=info.
    let log_statements = config.log_filter.contains("sqlx");
    options
        .sqlx_logging(log_statements)
        .sqlx_logging_level(log::LevelFilter::Info)
        .acquire_timeout(Duration::from_secs(10))
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .create_if_missing(true)
        })
        .map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_release(|conn, _| Box::pin(async move { Ok(sqlite_is_clean(conn).await) }))
        })
        .map_sqlx_postgres_pool_opts(|pool| {
            pool.after_release(|conn, _| Box::pin(async move { Ok(postgres_is_clean(conn)) }))
        });
    if config.database_url.starts_with("sqlite:") {
        // The bundled SQLite is 3.51.3, which fixes the WAL-reset corruption that two connections
        // writing or checkpointing at once could trigger; `tests/faithful_seed.rs` checks the
        // version so a downgrade cannot slip in unnoticed. Readers run in parallel under WAL.
        options.max_connections(8).min_connections(1);
    } else {
        options.max_connections(16);
    }
    Ok(Database::connect(options).await?)
}

/// Whether a connection coming back to the pool may serve the next request. A connection whose
/// COMMIT or ROLLBACK failed (a full disk, an I/O error) is not: sqlx still counts the
/// transaction as open, so the next `begin` on it would become a SAVEPOINT inside a transaction
/// that never commits — writes acknowledged and then lost, SQLite's write lock kept. SQLite's own
/// view (`sqlite3_get_autocommit`) is checked too, since it can end a transaction by itself on
/// SQLITE_FULL or SQLITE_IOERR. Closing such a connection rolls back whatever it still holds.
async fn sqlite_is_clean(conn: &mut sea_orm::sqlx::SqliteConnection) -> bool {
    use sea_orm::sqlx::Connection;
    // Taking the handle waits until the connection's worker has run everything queued before,
    // such as the rollback a dropped transaction leaves behind.
    let in_sqlite_transaction = match conn.lock_handle().await {
        // SAFETY: the locked handle is a live `sqlite3*` that no other thread uses while held;
        // `sqlite3_get_autocommit` only reads a flag of it.
        Ok(mut handle) => unsafe {
            libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) == 0
        },
        Err(_) => return false,
    };
    let clean = !in_sqlite_transaction && !conn.is_in_transaction();
    if !clean {
        tracing::warn!(
            in_sqlite_transaction,
            sqlx_depth_open = conn.is_in_transaction(),
            "discarding a database connection left inside a transaction"
        );
    }
    clean
}

/// PostgreSQL ends a transaction whose COMMIT failed, but sqlx's count of open transactions does
/// not follow; a connection that still counts one is closed rather than reused.
fn postgres_is_clean(conn: &mut sea_orm::sqlx::PgConnection) -> bool {
    use sea_orm::sqlx::Connection;
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("discarding a database connection left inside a transaction");
    }
    clean
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await?;
    refresh_statistics(db).await?;
    Ok(())
}

/// Gives SQLite's query planner statistics about the data (ANALYZE, sampling at most 2000 rows per
/// index so start-up stays fast). Without them it guesses that `status IN (…)` on an index picks ten
/// rows and scans every public proposal instead of following an id list: on the benchmark corpus a
/// session page's response query took 28 ms instead of 2 ms. PostgreSQL keeps its own statistics.
pub async fn refresh_statistics(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        sea_orm::ConnectionTrait::execute_unprepared(db, "PRAGMA analysis_limit=2000; ANALYZE;")
            .await?;
    }
    Ok(())
}

/// After rows were written with explicit ids: PostgreSQL's id sequences continue after the
/// highest id of each table (SQLite's rowids need nothing).
pub async fn reset_sequences<C: sea_orm::ConnectionTrait>(
    db: &C,
    tables: &[&str],
) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    for table in tables {
        // Table names come from the code, never from input.
        db.execute_unprepared(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        ))
        .await?;
    }
    Ok(())
}

/// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up
/// front, so a transaction that reads before it writes cannot fail with `SQLITE_BUSY_SNAPSHOT`
/// when another writer commits in between. On PostgreSQL it is an ordinary READ COMMITTED
/// transaction; state changes are guarded by `version` checks in their `UPDATE … WHERE version = ?`,
/// so two concurrent transitions cannot both win.
///
/// SQLite admits one writer per file. Writers of this process queue for it in order on an async
/// gate ([`WriteGate`]) instead of inside SQLite's busy handler, which sleeps and retries (1, 2,
/// 5 … 100 ms) and so hands the lock over late and unfairly: with eight writers the busy handler
/// gave p99 latencies above 300 ms (BENCHMARKS.md, writer row).
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTransaction, sea_orm::DbErr> {
    let turn = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => WriteGate::turn(db).await,
        _ => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTransaction { txn, _turn: turn })
}

/// A write transaction holding this process's turn to write (SQLite) until it commits or rolls
/// back. It is used like the [`DatabaseTransaction`] inside it.
pub struct WriteTransaction {
    txn: DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl WriteTransaction {
    pub async fn commit(self) -> Result<(), sea_orm::DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), sea_orm::DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        self.txn.get_database_backend()
    }
    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_raw(stmt).await
    }
    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, sea_orm::DbErr> {
        self.txn.execute_unprepared(sql).await
    }
    async fn query_one_raw(
        &self,
        stmt: Statement,
    ) -> Result<Option<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_one_raw(stmt).await
    }
    async fn query_all_raw(
        &self,
        stmt: Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
        self.txn.query_all_raw(stmt).await
    }
    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// The queue for one SQLite file's write lock, shared by every pool of this process that opens
/// the file (tests open several databases in one process; each file has its own gate).
struct WriteGate;

impl WriteGate {
    /// Waiting longer than SQLite's busy timeout means something holds a turn it should not (a
    /// transaction left open across a slow await): the writer then goes on to SQLite's own
    /// locking, which is no worse than before the gate existed.
    const PATIENCE: Duration = Duration::from_secs(5);

    async fn turn(db: &DatabaseConnection) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match tokio::time::timeout(Self::PATIENCE, Self::of(db).acquire_owned()).await {
            Ok(Ok(permit)) => Some(permit),
            Ok(Err(_closed)) => None,
            Err(_elapsed) => {
                tracing::warn!("a write waited 5 s for its turn; going on to SQLite's lock");
                None
            }
        }
    }

    fn of(db: &DatabaseConnection) -> Arc<Semaphore> {
        static GATES: OnceLock<Mutex<HashMap<PathBuf, Arc<Semaphore>>>> = OnceLock::new();
        let file = db
            .get_sqlite_connection_pool()
            .connect_options()
            .get_filename()
            .to_path_buf();
        let mut gates = GATES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        gates
            .entry(file)
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }
}

/// `SELECT key, COUNT(*) … GROUP BY key` for a filtered query: counts per key computed by the
/// database, for list pages that show how many items each row has.
pub async fn count_by<E, C>(
    db: &C,
    query: sea_orm::Select<E>,
    key: E::Column,
) -> Result<std::collections::HashMap<i32, usize>, sea_orm::DbErr>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::sea_query::Expr;
    use sea_orm::QuerySelect;
    let rows: Vec<(Option<i32>, i64)> = query
        .select_only()
        .column(key)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .group_by(key)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, n)| k.map(|k| (k, n as usize)))
        .collect())
}

/// Why the database refused a write when the fault is the storage's, not the request's: the
/// client gets 503 with a message saying so (nothing was written), never a 500 or a success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageFailure {
    /// The disk (or the database's quota) is full.
    Full,
    /// The file system reported an I/O error.
    Io,
    /// The database or its file system is read-only.
    ReadOnly,
    /// The database server cannot be reached.
    Unreachable,
}

impl StorageFailure {
    /// The label in `/metrics` and `/readyz`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Io => "io",
            Self::ReadOnly => "read_only",
            Self::Unreachable => "unreachable",
        }
    }
}

/// Classifies a database error as a storage failure (SQLite result codes, PostgreSQL SQLSTATEs,
/// lost connections), or `None` when the error is anything else.
pub fn storage_failure(err: &sea_orm::DbErr) -> Option<StorageFailure> {
    use sea_orm::sqlx::Error as SqlxError;
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        DbErr::ConnectionAcquire(_) => return Some(StorageFailure::Unreachable),
        _ => return None,
    };
    match sqlx.as_ref() {
        SqlxError::Database(db) => {
            if db
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                // The primary result code is the low byte of the extended one.
                let extended: i32 = db.code()?.parse().ok()?;
                return match extended & 0xff {
                    libsqlite3_sys::SQLITE_FULL => Some(StorageFailure::Full),
                    libsqlite3_sys::SQLITE_IOERR | libsqlite3_sys::SQLITE_CANTOPEN => {
                        Some(StorageFailure::Io)
                    }
                    libsqlite3_sys::SQLITE_READONLY => Some(StorageFailure::ReadOnly),
                    _ => None,
                };
            }
            // PostgreSQL SQLSTATEs (all digits too, hence the downcast above): class 53
            // (insufficient resources: 53100 disk full), class 58 (system error, I/O), read-only
            // transactions (a standby), and the server shutting down.
            match db.code()?.as_ref() {
                "53100" => Some(StorageFailure::Full),
                c if c.starts_with("58") => Some(StorageFailure::Io),
                "25006" => Some(StorageFailure::ReadOnly),
                "57P01" | "57P02" | "57P03" => Some(StorageFailure::Unreachable),
                _ => None,
            }
        }
        SqlxError::Io(_) | SqlxError::PoolTimedOut | SqlxError::PoolClosed => {
            Some(StorageFailure::Unreachable)
        }
        _ => None,
    }
}

/// Rewrites `/readyz`'s one probe row: succeeds only if the database takes a durable write now.
pub async fn probe_write(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let txn = begin_write(db).await?;
    let now = chrono::Utc::now().to_rfc3339();
    txn.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                "INSERT INTO write_probe (id, probed_at) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
            }
            _ => {
                "INSERT INTO write_probe (id, probed_at) VALUES (1, ?) \
                  ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at"
            }
        },
        [now.into()],
    ))
    .await?;
    txn.commit().await
}

/// Decodes a JSON array of strings stored in a text column; bad data shows as no items.
/// `LIKE` pattern for "contains `value`" literally: its wildcards escaped (with `ESCAPE '\'`),
/// so user-written text never acts as a pattern.
pub fn contains_literal(value: &str) -> sea_orm::sea_query::LikeExpr {
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')
}

/// Rows keyed by (kind, id) among `keys`: one `kind = ? AND id IN (…)` per kind, OR'ed (the
/// attachments' owners, the corrections' targets). Empty keys match nothing.
pub fn any_kind_and_id<K, C>(
    keys: &[(K, i32)],
    kind_column: C,
    id_column: C,
    code: fn(K) -> &'static str,
) -> sea_orm::Condition
where
    K: Copy + Eq + std::hash::Hash,
    C: sea_orm::ColumnTrait,
{
    let mut by_kind: HashMap<K, Vec<i32>> = HashMap::new();
    for (kind, id) in keys {
        by_kind.entry(*kind).or_default().push(*id);
    }
    by_kind
        .into_iter()
        .fold(sea_orm::Condition::any(), |any, (kind, ids)| {
            any.add(
                sea_orm::Condition::all()
                    .add(kind_column.eq(code(kind)))
                    .add(id_column.is_in(ids)),
            )
        })
}

pub fn string_list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::string_list;

    #[test]
    fn list_columns_decode_or_show_nothing() {
        assert_eq!(string_list("[\"a\",\"b\"]"), vec!["a", "b"]);
        assert!(string_list("not json").is_empty());
    }
}
