//! Command line: parse arguments, load configuration, call into the library.
use clap::{Parser, Subcommand};
use tingshang::config::Config;

#[derive(Parser)]
#[command(
    name = "tingshang",
    version,
    about = "听商 — 倾听与商量协商平台的公开记录系统"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web archive (the default): migrates, and seeds an empty database first.
    Serve,
    /// Apply database migrations (or roll them back).
    Migrate {
        #[command(subcommand)]
        direction: Option<MigrateDirection>,
    },
    /// Load the seed data under seeds/ (adds what is missing; running it twice changes nothing).
    Seed {
        /// Also create one demo account per role for the seeded people and agencies, and print
        /// their generated passwords. For trying the product locally; never use in production.
        #[arg(long)]
        demo_users: bool,
    },
    /// Rebuild the search index from the database (Meilisearch: a new index swapped in atomically).
    Reindex,
    /// Write the public archive as JSON Lines (to a file, or standard output with `-`).
    Export {
        #[arg(long, short, default_value = "-")]
        out: String,
    },
    /// Load an archive file (JSON Lines, as `export` writes it): every line is checked first and
    /// every bad one reported; then all of it is written in one transaction, or nothing.
    Import {
        file: std::path::PathBuf,
        /// Only check the file; write nothing.
        #[arg(long)]
        check: bool,
    },
    /// Copy the live SQLite database to a new file (online, consistent) and check the copy.
    /// For PostgreSQL it explains pg_dump.
    Backup { out: std::path::PathBuf },
    /// Replace the SQLite database with a checked backup (stop the server first).
    Restore { from: std::path::PathBuf },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: tingshang::cli::TokenCommand,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        action: tingshang::cli::UserCommand,
    },
    /// Email: a test message, the daily reminders and digests, the outbox.
    Mail {
        #[command(subcommand)]
        action: tingshang::cli::MailCommand,
    },
    /// Attachments' stored files: remove those nothing names any more.
    Files {
        #[command(subcommand)]
        action: tingshang::cli::FilesCommand,
    },
}

#[derive(Subcommand)]
enum MigrateDirection {
    /// Apply all pending migrations (the default).
    Up,
    /// Roll back every migration (drops all tables).
    Down,
    /// Show which migrations are applied.
    Status,
}

fn main() -> std::process::ExitCode {
    // Before any thread exists: the runtime's and the database pool's threads would each get a
    // malloc arena of their own (measured: 13 MB more resident memory at 100k proposals).
    tingshang::memory::limit_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime")
        .block_on(async_main())
}

async fn async_main() -> std::process::ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("错误:{err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&config.log_filter)?)
        .init();

    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let state = tingshang::app::prepare(config).await?;
            tingshang::app::serve(state).await
        }
        Command::Migrate { direction } => {
            use migration::{Migrator, MigratorTrait};
            let db = tingshang::db::connect(&config).await?;
            match direction.unwrap_or(MigrateDirection::Up) {
                MigrateDirection::Up => Migrator::up(&db, None).await?,
                MigrateDirection::Down => Migrator::down(&db, None).await?,
                MigrateDirection::Status => Migrator::status(&db).await?,
            }
            println!("迁移完成 (migrations done)");
            Ok(())
        }
        Command::Seed { demo_users } => {
            let db = tingshang::db::connect(&config).await?;
            tingshang::db::migrate(&db).await?;
            let report = tingshang::seed::run(&db).await?;
            println!("{report}");
            if demo_users {
                println!("演示账号(仅供本地试用):");
                for (username, role, name, password) in
                    tingshang::accounts::service::create_demo_users(&db).await?
                {
                    let password = password.unwrap_or_else(|| "(已存在,密码未改)".to_owned());
                    println!("  {username:<16} {:<8} {name:<12} {password}", role.label());
                }
            }
            Ok(())
        }
        Command::Reindex => {
            let db = tingshang::db::connect(&config).await?;
            tingshang::db::migrate(&db).await?;
            let backend = tingshang::search::backend_from(&config).await?;
            let indexer = tingshang::search::outbox::Indexer::new(
                db,
                backend.clone(),
                config.search_retry_max_secs,
            );
            let started = std::time::Instant::now();
            let count = indexer
                .reindex(&tingshang::cli::progress("重建索引"))
                .await?;
            eprintln!();
            println!(
                "已索引 {count} 条记录({} 后端),用时 {:.1} 秒",
                backend.name(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Export { out } => {
            let db = tingshang::db::connect(&config).await?;
            tingshang::db::migrate(&db).await?;
            let records = tingshang::opendata::archive::export_records(&db).await?;
            let mut writer: Box<dyn std::io::Write> = if out == "-" {
                Box::new(std::io::stdout().lock())
            } else {
                Box::new(std::io::BufWriter::new(std::fs::File::create(&out)?))
            };
            let total = records.len();
            let progress = tingshang::cli::progress("导出");
            // Attachments' files are read one at a time, as their lines are written.
            let lines = tingshang::opendata::archive::lines_with_files(
                records,
                tingshang::files::FileStore::new(&config.files_dir),
            );
            let mut written = 0;
            for line in lines {
                writer.write_all(line.as_bytes())?;
                written += 1;
                if written % 500 == 0 {
                    progress(written.min(total), total);
                }
            }
            progress(total, total);
            writer.flush()?;
            eprintln!();
            eprintln!("已导出 {total} 条记录");
            Ok(())
        }
        Command::Import { file, check } => {
            use tingshang::opendata::archive;
            // Read from the file line by line, twice (check, then write): never held whole.
            let source = archive::Source::File(&file);
            let db = tingshang::db::connect(&config).await?;
            tingshang::db::migrate(&db).await?;
            let invalid = |errors: Vec<archive::LineError>| {
                for e in &errors {
                    eprintln!("{}:{e}", file.display());
                }
                anyhow::anyhow!("文件有 {} 处错误,未导入任何内容", errors.len())
            };
            let failed = |e: archive::ImportError| match e {
                archive::ImportError::Invalid(errors) => invalid(errors),
                other => anyhow::anyhow!(other),
            };
            if check {
                let checked = archive::check_source(source).map_err(failed)?;
                if !checked.errors.is_empty() {
                    return Err(invalid(checked.errors));
                }
                println!("检查通过:{} 条记录", checked.records);
                return Ok(());
            }
            let store = tingshang::files::FileStore::new(&config.files_dir);
            let report =
                archive::import_from(&db, source, Some(&store), &tingshang::cli::progress("导入"))
                    .await
                    .map_err(failed)?;
            eprintln!();
            println!("新增:{:?}", report.inserted);
            println!("已存在(未重复导入):{:?}", report.matched);
            println!("搜索索引将在服务运行时更新(或运行 tingshang reindex)");
            Ok(())
        }
        Command::Backup { out } => {
            let verified = tingshang::backup::backup(&config, &out).await?;
            println!(
                "已备份到 {}(完整性检查通过,{} 个迁移,{} 条建议;{} 个附件文件在 {})",
                out.display(),
                verified.migrations,
                verified.proposals,
                verified.files.len(),
                tingshang::backup::files_beside(&out).display()
            );
            Ok(())
        }
        Command::Restore { from } => {
            let verified = tingshang::backup::restore(&config, &from).await?;
            println!(
                "已从 {} 恢复(完整性检查通过,{} 个迁移,{} 条建议,{} 个附件文件);请运行 tingshang reindex 或启动服务以重建检索索引",
                from.display(),
                verified.migrations,
                verified.proposals,
                verified.files.len()
            );
            Ok(())
        }
        Command::Token { action } => {
            let db = tingshang::db::connect(&config).await?;
            tingshang::db::migrate(&db).await?;
            tingshang::cli::token(&db, action).await
        }
        Command::User { action } => {
            let db = tingshang::db::connect(&config).await?;
            tingshang::db::migrate(&db).await?;
            tingshang::cli::user(&db, &config, action).await
        }
        Command::Mail { action } => {
            let db = tingshang::db::connect(&config).await?;
            tingshang::db::migrate(&db).await?;
            tingshang::cli::mail(&db, &config, action).await
        }
        Command::Files { action } => {
            let db = tingshang::db::connect(&config).await?;
            tingshang::db::migrate(&db).await?;
            tingshang::cli::files(&db, &config, action).await
        }
    }
}
