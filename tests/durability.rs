//! Durability with the real binary: a crash test (concurrent submissions, `kill -9` mid-load,
//! restart, several cycles; every acknowledged submission is there exactly once and searchable),
//! graceful shutdown on SIGTERM, and backup → restore giving the same public pages.
mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{cli, start};
use common::{engine, fresh_database, skip, spawn_app};
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};

const CYCLES: usize = 4;
const WORKERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_submissions_survive_kill_9_exactly_once_and_become_searchable() {
    let (url, _dir) = fresh_database().await;
    let search_dir = tempfile::tempdir().unwrap();
    cli(&url, search_dir.path(), &["seed"]);
    cli(
        &url,
        search_dir.path(),
        &["user", "add", "hotline", "--role", "secretariat"],
    );
    let token = cli(
        &url,
        search_dir.path(),
        &["token", "create", "--user", "hotline", "--name", "crash"],
    )
    .trim()
    .to_owned();

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let accepted: Arc<Mutex<HashSet<String>>> = Arc::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for cycle in 0..CYCLES {
        let mut server = start(&url, search_dir.path()).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
            let (acked, accepted, stop) = (acked.clone(), accepted.clone(), stop.clone());
            workers.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let ticket = format!("crash-{cycle}-{w}-{n}");
                    let pushed = client
                        .post(format!("{base}/api/v1/intake"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({
                            "channel": "hotline_12345",
                            "external_id": ticket,
                            "title": format!("断电测试工单 {ticket}"),
                            "body_md": "进程被强制结束前后提交的诉求。",
                        }))
                        .send()
                        .await;
                    let Ok(response) = pushed else { break };
                    if !response.status().is_success() {
                        break;
                    }
                    let Ok(body) = response.json::<serde_json::Value>().await else {
                        break;
                    };
                    acked.lock().unwrap().insert(ticket);
                    let code = body["code"].as_str().unwrap().to_owned();
                    let decided = client
                        .post(format!("{base}/api/v1/proposals/{code}/decision"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"action": "accept"}))
                        .send()
                        .await;
                    match decided {
                        Ok(r) if r.status() == 201 => {
                            accepted.lock().unwrap().insert(code);
                        }
                        _ => break,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1200)).await;
        server.child.kill().expect("kill -9"); // SIGKILL: no shutdown code runs
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.unwrap();
        }
    }

    // After the last crash: every acknowledged push is stored exactly once, every acknowledged
    // acceptance holds, and the outbox drains into the index.
    let server = start(&url, search_dir.path()).await;
    let db = Database::connect(&url).await.unwrap();
    let acked = acked.lock().unwrap().clone();
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        acked.len() > 20 * CYCLES,
        "load was real: {} acknowledged",
        acked.len()
    );
    for ticket in &acked {
        let copies = entity::proposals::Entity::find()
            .filter(entity::proposals::Column::ExternalId.eq(ticket.as_str()))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(copies, 1, "{ticket}");
    }
    let public_codes: HashSet<String> = entity::proposals::Entity::find()
        .filter(entity::proposals::Column::ExternalId.starts_with("crash-"))
        .filter(entity::proposals::Column::Status.eq("accepted"))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.code)
        .collect();
    assert!(
        accepted.is_subset(&public_codes),
        "acknowledged acceptances persist"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready: serde_json::Value = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready["outbox"]["pending"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "outbox did not drain: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let found: serde_json::Value = client
        .get(format!(
            "{}/api/v1/search?q=断电测试工单&kind=proposal&per_page=1",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        found["total"].as_u64(),
        Some(public_codes.len() as u64),
        "every accepted item is searchable"
    );

    // SIGTERM: the server stops accepting, finishes, flushes and exits cleanly.
    let status = server.stop().expect("exit after SIGTERM");
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    eprintln!(
        "crash test ({}): {CYCLES} kill -9 cycles, {WORKERS} workers, {} acknowledged pushes each stored once, {} acceptances, {} searchable",
        engine(),
        acked.len(),
        accepted.len(),
        public_codes.len()
    );
}

#[tokio::test]
async fn a_restored_backup_serves_the_same_public_pages() {
    if engine() != "sqlite" {
        skip("a_restored_backup_serves_the_same_public_pages: backup/restore is for SQLite (PostgreSQL uses pg_dump)");
        return;
    }
    let app = spawn_app().await;
    // An attachment, whose file the backup must carry.
    let kjj = app
        .signed_in("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    let reply = entity::responses::Entity::find()
        .filter(entity::responses::Column::AgencyId.eq(app.agency_id("市科技局").await))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let file = "书面答复原件(扫描件说明)".as_bytes().to_vec();
    let digest = tingshang::files::store::digest(&file);
    let form = reqwest::multipart::Form::new()
        .text("csrf", kjj.csrf().await)
        .part(
            "file",
            reqwest::multipart::Part::bytes(file.clone()).file_name("原件说明.txt"),
        );
    let uploaded = kjj
        .client
        .post(format!("{}/attachments/response/{}", kjj.base, reply.id))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 303);
    let source_path = tingshang::backup::sqlite_path(&app.state.config.database_url).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let verified = tingshang::backup::backup(&app.state.config, &backup)
        .await
        .expect("backup");
    assert_eq!(verified.proposals, 11);
    assert_eq!(verified.files, vec![digest.clone()]);
    let carried = tingshang::files::FileStore::new(tingshang::backup::files_beside(&backup));
    assert_eq!(
        carried.read(&digest).unwrap(),
        file,
        "the backup carries the file"
    );
    assert!(
        tingshang::backup::backup(&app.state.config, &backup)
            .await
            .is_err(),
        "an existing file is never overwritten"
    );

    // A damaged copy is refused and the target left alone.
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&backup).unwrap();
    let len = bytes.len();
    bytes[len / 2..].fill(0xAB);
    std::fs::write(&damaged, bytes).unwrap();
    let target_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("restored.db").display()
    );
    let target_config = tingshang::config::Config {
        database_url: target_url.clone(),
        files_dir: dir.path().join("restored-files"),
        ..Default::default()
    };
    assert!(tingshang::backup::restore(&target_config, &damaged)
        .await
        .is_err());
    assert!(!dir.path().join("restored.db").exists());

    // A backup whose file went missing is refused, the target left alone.
    let incomplete = dir.path().join("incomplete.db");
    std::fs::copy(&backup, &incomplete).unwrap();
    std::fs::create_dir_all(tingshang::backup::files_beside(&incomplete)).unwrap();
    assert!(tingshang::backup::restore(&target_config, &incomplete)
        .await
        .is_err());
    assert!(!dir.path().join("restored.db").exists());

    tingshang::backup::restore(&target_config, &backup)
        .await
        .expect("restore");
    let restored_files = tingshang::files::FileStore::new(&target_config.files_dir);
    assert_eq!(
        restored_files.read(&digest).unwrap(),
        file,
        "the restore brings the file back"
    );
    // The restored app reads the files where the restore put them.
    let restored_dir = target_config.files_dir.clone();
    let restored = common::spawn_app_on_with(
        target_url,
        None,
        false,
        None,
        |b| b,
        |config| config.files_dir = restored_dir,
    )
    .await;
    for page in [
        "/",
        "/sessions/27",
        "/proposals/TS-2023-027-06",
        "/agencies/1",
        "/statistics",
    ] {
        assert_eq!(app.page(page).await, restored.page(page).await, "{page}");
    }
    assert!(source_path.exists());
}
