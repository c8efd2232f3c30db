//! Database connection and migrations for both engines. SQLite gets WAL, foreign keys, a busy
//! timeout and `synchronous=FULL` (every committed write survives power loss; see README).
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

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
/// front (waiting up to the busy timeout), so a transaction that reads before it writes cannot fail
/// with `SQLITE_BUSY_SNAPSHOT` when another writer commits in between. On PostgreSQL it is an
/// ordinary READ COMMITTED transaction; state changes are guarded by `version` checks in their
/// `UPDATE … WHERE version = ?`, so two concurrent transitions cannot both win.
pub async fn begin_write<C: TransactionTrait>(db: &C) -> Result<C::Transaction, sea_orm::DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
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
