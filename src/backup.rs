//! `backup` and `restore` for the embedded SQLite database. A backup is a consistent copy taken
//! online with `VACUUM INTO` (readers and writers carry on), with the attachments it names copied
//! beside it (`FILE.files/`, by digest, each checked); a restore first checks the copy
//! (`PRAGMA integrity_check`, known migrations, every named file present and matching its
//! digest), puts the files into the store, and then swaps the database in with a rename, so a
//! failed restore leaves the current database untouched. PostgreSQL has its own tools: see
//! [`POSTGRES_HELP`].
use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::config::Config;

pub const POSTGRES_HELP: &str = "PostgreSQL 请使用其自带工具:\n  备份:pg_dump --format=custom --file=tingshang.dump \"$TINGSHANG_DATABASE_URL\"\n  恢复:pg_restore --clean --if-exists --no-owner --dbname=\"$TINGSHANG_DATABASE_URL\" tingshang.dump\n恢复后运行 tingshang migrate status 核对迁移,并运行 tingshang reindex 重建检索索引。";

/// The SQLite file a `sqlite:` URL names.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn sqlite_literal(path: &Path) -> anyhow::Result<String> {
    let text = path
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("路径须为 UTF-8:{}", path.display()))?;
    Ok(format!("'{}'", text.replace('\'', "''")))
}

/// What a checked database file holds.
#[derive(Debug)]
pub struct Verified {
    pub migrations: usize,
    pub proposals: i64,
    /// The digests of the stored files its attachments name.
    pub files: Vec<String>,
}

/// Where a backup's files go: `FILE.files/` beside it.
pub fn files_beside(backup: &Path) -> PathBuf {
    let mut name = backup.as_os_str().to_owned();
    name.push(".files");
    PathBuf::from(name)
}

/// Opens `path` read-only and checks it: integrity, and migrations this build knows.
pub async fn verify(path: &Path) -> anyhow::Result<Verified> {
    if !path.is_file() {
        anyhow::bail!("文件不存在:{}", path.display());
    }
    let url = format!("sqlite://{}?mode=ro", path.display());
    let db = Database::connect(&url).await?;
    let result = check(&db).await;
    db.close().await?;
    result
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> anyhow::Result<sea_orm::QueryResult> {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .ok_or_else(|| anyhow::anyhow!("查询无结果:{sql}"))
}

async fn check(db: &DatabaseConnection) -> anyhow::Result<Verified> {
    let integrity: String = scalar(db, "PRAGMA integrity_check")
        .await?
        .try_get_by_index(0)?;
    if integrity != "ok" {
        anyhow::bail!("完整性检查未通过:{integrity}");
    }
    let applied: Vec<String> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await
        .map_err(|_| anyhow::anyhow!("不是听商的数据库(没有迁移记录)"))?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?;
    use migration::MigratorTrait;
    let known: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if let Some(unknown) = applied.iter().find(|a| !known.contains(a)) {
        anyhow::bail!("备份来自更新的版本(迁移 {unknown} 未知),请用对应版本恢复");
    }
    let proposals: i64 = scalar(db, "SELECT COUNT(*) FROM proposals")
        .await?
        .try_get_by_index(0)?;
    // A backup from before attachments has no such table: it names no files.
    let has_table: i64 = scalar(
        db,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'attachments'",
    )
    .await?
    .try_get_by_index(0)?;
    let files = if has_table == 0 {
        Vec::new()
    } else {
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT sha256 FROM attachments UNION SELECT thumbnail_sha256 FROM attachments \
             WHERE thumbnail_sha256 IS NOT NULL",
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?
    };
    Ok(Verified {
        migrations: applied.len(),
        proposals,
        files,
    })
}

/// Writes a consistent copy of the live database to `out` (which must not exist) and checks it.
pub async fn backup(config: &Config, out: &Path) -> anyhow::Result<Verified> {
    if sqlite_path(&config.database_url).is_none() {
        anyhow::bail!("{POSTGRES_HELP}");
    }
    if out.exists() {
        anyhow::bail!("目标文件已存在,不会覆盖:{}", out.display());
    }
    let db = crate::db::connect(config).await?;
    db.execute_unprepared(&format!("VACUUM INTO {}", sqlite_literal(out)?))
        .await?;
    db.close().await?;
    let verified = verify(out).await?;
    copy_files(
        &crate::files::FileStore::new(&config.files_dir),
        &crate::files::FileStore::new(files_beside(out)),
        &verified.files,
    )?;
    Ok(verified)
}

/// Copies each named file from one store into another, checking it against its digest; the
/// target store writes durably (`FileStore::put`). A file missing or not matching is an error
/// naming how many.
fn copy_files(
    from: &crate::files::FileStore,
    to: &crate::files::FileStore,
    digests: &[String],
) -> anyhow::Result<()> {
    let mut missing = 0;
    for digest in digests {
        match from.read(digest) {
            Ok(bytes) if crate::files::store::digest(&bytes) == *digest => {
                to.put(&bytes)?;
            }
            _ => missing += 1,
        }
    }
    if missing > 0 {
        anyhow::bail!(
            "{missing} 个附件文件缺失或与其摘要不符({}),未完成",
            from.dir().display()
        );
    }
    Ok(())
}

/// Replaces the configured database with the checked copy at `from`. The server must be stopped.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<Verified> {
    let Some(target) = sqlite_path(&config.database_url) else {
        anyhow::bail!("{POSTGRES_HELP}");
    };
    let verified = verify(from).await?;
    // The files first: a restore that cannot bring them back changes nothing.
    copy_files(
        &crate::files::FileStore::new(files_beside(from)),
        &crate::files::FileStore::new(&config.files_dir),
        &verified.files,
    )?;
    let staging = target.with_extension("restoring");
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(from, &staging)?;
    // The copy must be whole on disk before it replaces anything.
    std::fs::File::open(&staging)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", target.display()));
        if side.exists() {
            std::fs::remove_file(side)?;
        }
    }
    std::fs::rename(&staging, &target)?;
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_sqlite_urls_only() {
        assert_eq!(
            sqlite_path("sqlite://data/tingshang.db?mode=rwc"),
            Some(PathBuf::from("data/tingshang.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
        assert_eq!(
            sqlite_literal(Path::new("/tmp/o'brien.db")).unwrap(),
            "'/tmp/o''brien.db'"
        );
    }
}
