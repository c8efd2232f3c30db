//! Storage faults injected for real under the running binary (SQLite):
//! - the database's file system fills up (a 30 MB tmpfs, hotline intakes of 60 KB pushed until
//!   writes fail), then space comes back;
//! - the block device under it fails (ext4 on a loop device whose sparse backing file lives on a
//!   tmpfs that runs out: the kernel answers EIO, then ext4 turns read-only).
//!
//! Both check what a public record must never do: acknowledge a write and lose it, give one code
//! to two tickets, answer a storage fault with a 500 or a dropped connection, stop serving reads,
//! or need a restart once the storage works again. Checks are made from a separate connection,
//! and again after a restart.
//!
//! Mounting needs root. Without it the tests say they were skipped — and fail when `CI` is set,
//! so CI can never pass without running them.
mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{cli, start_with, Server};
use common::{engine, skip};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

const INTAKE_BYTES: usize = 60 * 1024;
const WORKERS: usize = 4;

/// A file system mounted for one test; unmounted (lazily, so a still-open file cannot stop it)
/// when dropped.
struct Mount {
    dir: PathBuf,
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    run(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size}"),
            "tmpfs",
            &dir.display().to_string(),
        ],
    )?;
    Ok(Mount {
        dir: dir.to_owned(),
    })
}

/// Whether this run may inject faults; otherwise says why (and fails under CI).
fn can_inject(test: &str) -> bool {
    if engine() != "sqlite" {
        skip(&format!(
            "{test}: file-system faults are injected under SQLite's file (the SQLite pass runs it)"
        ));
        return false;
    }
    let probe = tempfile::tempdir().unwrap();
    match mount_tmpfs(&probe.path().join("m"), "1m") {
        Ok(_mounted) => true,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{test}: cannot mount a file system to inject faults ({why}); CI must run this as root"
            );
            skip(&format!(
                "{test}: cannot mount a file system ({why}); run as root"
            ));
            false
        }
    }
}

/// Fills a file of `bytes` (to be deleted later to give space back).
fn fill(path: &Path, bytes: usize) {
    std::fs::write(path, vec![0x5a_u8; bytes]).expect("write the filler");
}

/// What a stream of intake pushes got back.
#[derive(Default)]
struct Pushes {
    /// ticket → code, for every push answered with success.
    acknowledged: HashMap<String, String>,
    /// Codes in the order they were handed out (to catch a code given twice).
    codes: Vec<String>,
    /// (status, problem type) of every refused push; status 0 = no HTTP answer.
    refused: Vec<(u16, String)>,
}

fn intake(ticket: &str) -> serde_json::Value {
    // 60 KB of text that does not compress to nothing.
    let mut body = String::with_capacity(INTAKE_BYTES + 64);
    let mut n: u64 = ticket.bytes().map(u64::from).sum();
    while body.len() < INTAKE_BYTES {
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        body.push(char::from_u32(0x4e00 + (n >> 33) as u32 % 0x5000).unwrap());
    }
    serde_json::json!({
        "channel": "hotline_12345",
        "external_id": ticket,
        "title": format!("存储故障测试工单 {ticket}"),
        "body_md": body,
    })
}

/// Pushes intakes from several clients until `refusals` pushes were refused (or `limit` sent).
async fn push_until_refused(
    server: &Server,
    token: &str,
    prefix: &str,
    refusals: usize,
    limit: usize,
) -> Pushes {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let pushes: Arc<Mutex<Pushes>> = Arc::default();
    let sent = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let (client, url, token) = (
            client.clone(),
            server.url("/api/v1/intake"),
            token.to_owned(),
        );
        let (pushes, sent, prefix) = (pushes.clone(), sent.clone(), prefix.to_owned());
        workers.push(tokio::spawn(async move {
            loop {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                if n >= limit || pushes.lock().unwrap().refused.len() >= refusals {
                    break;
                }
                let ticket = format!("{prefix}-{w}-{n}");
                let answer = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&intake(&ticket))
                    .send()
                    .await;
                let (status, body) = match answer {
                    Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                    Err(_) => (0, String::new()),
                };
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let mut pushes = pushes.lock().unwrap();
                match json["code"].as_str() {
                    Some(code) if (200..300).contains(&status) => {
                        pushes.acknowledged.insert(ticket, code.to_owned());
                        pushes.codes.push(code.to_owned());
                    }
                    _ => {
                        let kind = json["type"].as_str().unwrap_or(&body).to_owned();
                        pushes.refused.push((status, kind));
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    Arc::try_unwrap(pushes).ok().unwrap().into_inner().unwrap()
}

/// Every acknowledged ticket is stored under the code it was given; no code was given twice.
async fn assert_all_stored(db: &DatabaseConnection, pushes: &Pushes, when: &str) {
    let mut seen = HashSet::new();
    let duplicates: Vec<&String> = pushes.codes.iter().filter(|c| !seen.insert(*c)).collect();
    assert!(
        duplicates.is_empty(),
        "{when}: codes given twice: {duplicates:?}"
    );
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT external_id, code FROM proposals WHERE external_id IS NOT NULL",
        ))
        .await
        .expect("read proposals from a separate connection");
    let stored: HashMap<String, String> = rows
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "external_id").unwrap(),
                r.try_get::<String>("", "code").unwrap(),
            )
        })
        .collect();
    let missing: Vec<&String> = pushes
        .acknowledged
        .iter()
        .filter(|(ticket, code)| stored.get(*ticket) != Some(*code))
        .map(|(ticket, _)| ticket)
        .collect();
    assert!(
        missing.is_empty(),
        "{when}: {} of {} acknowledged intakes missing or under another code: {:?}",
        missing.len(),
        pushes.acknowledged.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
}

async fn json(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let r = client.get(url).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// A write-lock taken and given back from outside the app: nothing of the app still holds it.
async fn outside_write_lock(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    db.execute_unprepared("BEGIN IMMEDIATE; ROLLBACK;")
        .await
        .map(|_| ())
}

/// The server on the faulty storage, with the write-API limit out of the way (the load is ours).
async fn start(url: &str, search: &Path) -> Server {
    start_with(url, search, &[("TINGSHANG_API_RATE", "100000/100000")]).await
}

async fn prepare(dir: &Path, search: &Path) -> (String, String) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("tingshang.db").display());
    cli(&url, search, &["seed"]);
    cli(
        &url,
        search,
        &["user", "add", "hotline", "--role", "secretariat"],
    );
    let token = cli(
        &url,
        search,
        &["token", "create", "--user", "hotline", "--name", "faults"],
    )
    .trim()
    .to_owned();
    (url, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_loses_no_acknowledged_write_and_recovers_without_restart() {
    if !can_inject("a_full_disk_loses_no_acknowledged_write_and_recovers_without_restart") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let search = tempfile::tempdir().unwrap();
    let mount = mount_tmpfs(&root.path().join("db"), "30m").expect("mount tmpfs");
    let (url, token) = prepare(&mount.dir, search.path()).await;
    // Most of the space goes to a file deleted later, "space coming back".
    let filler = mount.dir.join("filler");
    fill(&filler, 12 << 20);

    let server = start(&url, search.path()).await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let full = push_until_refused(&server, &token, "full", 40, 2_000).await;
    assert!(
        full.acknowledged.len() > 20,
        "the disk filled only after real load: {} acknowledged",
        full.acknowledged.len()
    );
    assert!(
        full.refused.len() >= 40,
        "writes failed once the disk was full ({} refused)",
        full.refused.len()
    );
    let wrong: Vec<&(u16, String)> = full
        .refused
        .iter()
        .filter(|(status, kind)| *status != 503 || !kind.ends_with("/storage-full"))
        .collect();
    assert!(
        wrong.is_empty(),
        "a full disk is a 503 storage-full problem, never a 500 or a dropped connection: {wrong:?}"
    );

    // While writes fail: reads work, /readyz and /metrics say so.
    for page in [
        "/",
        "/proposals/TS-2023-027-06",
        "/api/v1/proposals?per_page=1",
    ] {
        let status = client.get(server.url(page)).send().await.unwrap().status();
        assert_eq!(status, 200, "reads keep working on a full disk: {page}");
    }
    let (status, ready) = json(&client, &server.url("/readyz")).await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["database"]["writable"], false, "{ready}");
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tingshang_db_write_failures_total{kind=\"full\"} "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(counted >= 40, "metrics count the refused writes: {counted}");

    let outside = Database::connect(url.replace("mode=rwc", "mode=rw"))
        .await
        .unwrap();
    assert_all_stored(&outside, &full, "disk full").await;

    // Space comes back: no lock left behind, writes work at once, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    outside_write_lock(&outside)
        .await
        .expect("no connection of the app keeps SQLite's write lock");
    let again = push_until_refused(&server, &token, "again", 1, 30).await;
    assert!(
        again.refused.is_empty() && again.acknowledged.len() == 30,
        "writes work again once space is back: {:?}",
        again.refused
    );
    let recovered = freed.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, ready) = json(&client, &server.url("/readyz")).await;
        if status == 200 {
            assert_eq!(ready["database"]["writable"], true);
            break;
        }
        assert!(Instant::now() < deadline, "readyz recovers: {ready}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_all_stored(&outside, &again, "space back").await;

    // And after a restart.
    assert!(server.stop().expect("exit after SIGTERM").success());
    let server = start(&url, search.path()).await;
    assert_all_stored(&outside, &full, "after restart").await;
    assert_all_stored(&outside, &again, "after restart").await;
    let after = push_until_refused(&server, &token, "after", 1, 5).await;
    assert_eq!(after.acknowledged.len(), 5, "{:?}", after.refused);
    let _ = server.stop();
    eprintln!(
        "disk full: {} acknowledged before the disk filled, {} refused with 503 storage-full, 0 missing, 0 codes twice; {} acknowledged after space came back (writes worked {} ms after freeing); {:.1} s in all",
        full.acknowledged.len(),
        full.refused.len(),
        again.acknowledged.len(),
        recovered.as_millis(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_io_error_under_the_database_loses_no_acknowledged_write() {
    if !can_inject("an_io_error_under_the_database_loses_no_acknowledged_write") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let search = tempfile::tempdir().unwrap();
    // ext4 on a 96 MB sparse image whose backing tmpfs holds only 28 MB: once the image's
    // written blocks pass that, every write to the device fails with EIO.
    let backing = mount_tmpfs(&root.path().join("backing"), "28m").expect("mount tmpfs");
    let image = backing.dir.join("disk.img");
    let reserve = backing.dir.join("reserve");
    run("truncate", &["-s", "96M", &image.display().to_string()]).unwrap();
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-E",
            "lazy_itable_init=0,nodiscard",
            &image.display().to_string(),
        ],
    )
    .unwrap();
    let dir = root.path().join("db");
    std::fs::create_dir_all(&dir).unwrap();
    if let Err(why) = run(
        "mount",
        &[
            "-o",
            "loop",
            &image.display().to_string(),
            &dir.display().to_string(),
        ],
    ) {
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot mount a loop device ({why}); CI must run this as root"
        );
        skip(&format!(
            "an_io_error_under_the_database_loses_no_acknowledged_write: no loop device ({why})"
        ));
        return;
    }
    let ext4 = Mount { dir: dir.clone() };
    let (url, token) = prepare(&dir, search.path()).await;
    // Space kept back on the backing store, to let ext4 write its last blocks when we stop.
    fill(&reserve, 4 << 20);

    let server = start(&url, search.path()).await;
    let failing = push_until_refused(&server, &token, "eio", 40, 3_000).await;
    assert!(
        failing.acknowledged.len() > 20,
        "{}",
        failing.acknowledged.len()
    );
    assert!(failing.refused.len() >= 40, "{}", failing.refused.len());
    let kinds: HashSet<&str> = failing.refused.iter().map(|(_, k)| k.as_str()).collect();
    let wrong: Vec<&(u16, String)> = failing
        .refused
        .iter()
        .filter(|(status, kind)| {
            *status != 503
                || !(kind.ends_with("/storage-error")
                    || kind.ends_with("/storage-read-only")
                    || kind.ends_with("/storage-full"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "an I/O error is a 503 storage problem: {wrong:?}"
    );
    let client = reqwest::Client::new();
    let status = client.get(server.url("/")).send().await.unwrap().status();
    assert_eq!(status, 200, "reads keep working after an I/O error");
    let (status, ready) = json(&client, &server.url("/readyz")).await;
    assert_eq!(
        (status, &ready["database"]["writable"]),
        (503, &serde_json::json!(false))
    );
    let _ = server.stop();

    // The device is repaired: space back, file system checked and mounted again.
    std::fs::remove_file(&reserve).unwrap();
    drop(ext4);
    std::thread::sleep(Duration::from_millis(200));
    let _ = Command::new("e2fsck")
        .args(["-fy", &image.display().to_string()])
        .output();
    run(
        "mount",
        &[
            "-o",
            "loop",
            &image.display().to_string(),
            &dir.display().to_string(),
        ],
    )
    .expect("mount the repaired file system");
    let _ext4 = Mount { dir: dir.clone() };
    let outside = Database::connect(url.replace("mode=rwc", "mode=rw"))
        .await
        .unwrap();
    let integrity = outside
        .query_one_raw(Statement::from_string(
            outside.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap();
    assert_eq!(integrity, "ok");
    assert_all_stored(&outside, &failing, "after the I/O error").await;
    let server = start(&url, search.path()).await;
    let after = push_until_refused(&server, &token, "repaired", 1, 5).await;
    assert_eq!(after.acknowledged.len(), 5, "{:?}", after.refused);
    let _ = server.stop();
    eprintln!(
        "I/O error: {} acknowledged, {} refused with 503 ({kinds:?}), 0 missing, 0 codes twice, integrity ok after repair",
        failing.acknowledged.len(),
        failing.refused.len(),
    );
}
