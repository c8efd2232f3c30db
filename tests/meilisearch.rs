//! Meilisearch as a real process under the app: killed for a minute under write load, then
//! started again on its database. Writes never wait on it, no update is lost, and the index
//! catches up within seconds of its return.
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::meili::Meili;
use common::{spawn_app_with_search, token_for, MeiliIndex};

/// How long the server stays down (`TEST_MEILI_OUTAGE_SECS` shortens it for local runs).
fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("TEST_MEILI_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_meilisearch_loses_no_update_and_catches_up_when_it_returns() {
    let test = "a_stopped_meilisearch_loses_no_update_and_catches_up_when_it_returns";
    let Some(binary) = common::meili::binary_for(test) else {
        return;
    };
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("TEST_LOG").unwrap())
            .try_init();
    }
    let mut meili = Meili::start(binary).await;
    let app = spawn_app_with_search(
        true,
        Some(MeiliIndex::fresh(
            meili.url.clone(),
            Some(meili.key.clone()),
        )),
        |b| b,
    )
    .await;
    app.wait_for_index().await;
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("hotline", "secretariat", None, None).await;
    let token = token_for(&admin, "hotline").await;

    // Two writers register and accept 12345 tickets, one every ~100 ms each, throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
    let failed_writes: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..2 {
        let (base, token) = (app.url(""), token.clone());
        let (stop, accepted, failed) = (stop.clone(), accepted.clone(), failed_writes.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let ticket = client
                    .post(format!("{base}/api/v1/intake"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({
                        "channel": "hotline_12345",
                        "external_id": format!("outage-{w}-{n}"),
                        "title": format!("检索停机期间受理的工单 {w}-{n}"),
                        "body_md": "市民来电反映的诉求。",
                    }))
                    .send()
                    .await
                    .unwrap();
                if ticket.status() != 201 {
                    failed
                        .lock()
                        .unwrap()
                        .push(format!("intake {}", ticket.status()));
                    continue;
                }
                let body: serde_json::Value = ticket.json().await.unwrap();
                let code = body["code"].as_str().unwrap().to_owned();
                let decision = client
                    .post(format!("{base}/api/v1/proposals/{code}/decision"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"action": "accept"}))
                    .send()
                    .await
                    .unwrap();
                if decision.status() == 201 {
                    accepted.lock().unwrap().push(code);
                } else {
                    failed
                        .lock()
                        .unwrap()
                        .push(format!("accept {}", decision.status()));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    meili.kill();
    let down_since = Instant::now();
    let before_outage = accepted.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, page) = app.get("/search?q=%E5%B7%A5%E5%8D%95").await;
    assert_eq!(status, 503, "search says it is down");
    assert!(page.contains("检索服务暂时不可用"));
    app.page("/sessions/27").await;
    let (status, ready) = app.json("/readyz").await;
    assert_eq!(
        (status, &ready["search"]["ok"]),
        (503, &serde_json::json!(false))
    );
    tokio::time::sleep(outage().saturating_sub(down_since.elapsed())).await;
    let (_, ready) = app.json("/readyz").await;
    let pending_at_return = ready["outbox"]["pending"].as_u64().unwrap();
    assert!(
        pending_at_return > 0,
        "changes waited in the outbox: {ready}"
    );

    // Back: the writers stop, and the outbox drains on its own (no drain called by the test).
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    meili.restart().await;
    let back = Instant::now();
    let caught_up = loop {
        let (_, ready) = app.json("/readyz").await;
        if ready["outbox"]["pending"] == 0 && ready["search"]["ok"] == true {
            break back.elapsed();
        }
        if back.elapsed() > Duration::from_secs(60) {
            use sea_orm::{EntityTrait, QueryOrder};
            let rows = entity::search_outbox::Entity::find()
                .order_by_desc(entity::search_outbox::Column::Attempts)
                .all(app.db())
                .await
                .unwrap();
            let sample: Vec<String> = rows
                .iter()
                .take(3)
                .map(|r| {
                    format!(
                        "{} {} attempts={} available_at={} error={:?}",
                        r.entity_kind, r.entity_id, r.attempts, r.available_at, r.last_error
                    )
                })
                .collect();
            panic!("the outbox did not drain: {ready}\n{}", sample.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let accepted = accepted.lock().unwrap().clone();
    let failed = failed_writes.lock().unwrap().clone();
    assert!(failed.is_empty(), "writes never wait on search: {failed:?}");
    assert!(
        accepted.len() > before_outage + 50,
        "writes went on during the outage: {} before, {} in all",
        before_outage,
        accepted.len()
    );
    let (status, found) = app
        .json("/api/v1/search?q=%E6%A3%80%E7%B4%A2%E5%81%9C%E6%9C%BA%E6%9C%9F%E9%97%B4%E5%8F%97%E7%90%86%E7%9A%84%E5%B7%A5%E5%8D%95&kind=proposal&per_page=1")
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        found["total"].as_u64(),
        Some(accepted.len() as u64),
        "every accepted ticket is searchable: 0 updates lost"
    );
    // How long the catching up took is reported, not asserted: a timing bound in a test fails
    // on a busy machine (it did, at 6.3 s, beside an 8 GB import), and the benchmark is where
    // time is measured. The 60 s above bounds the wait, so a drain that never ends still fails.
    eprintln!(
        "Meilisearch outage: down {:.0} s under 2 writers, {} tickets accepted ({} during the outage), {pending_at_return} outbox rows waiting at its return, 0 lost, lag 0 after {:.2} s",
        outage().as_secs_f64(),
        accepted.len(),
        accepted.len() - before_outage,
        caught_up.as_secs_f64()
    );
}

/// A task Meilisearch fails (here: documents sent with `id` as primary key to an index someone
/// recreated with another one, holding a document) keeps its change queued, shows in `/readyz` and `/metrics`, and
/// is applied once the index accepts it again.
#[tokio::test]
async fn a_failed_meilisearch_task_is_reported_and_retried() {
    let Some(server) =
        common::meili::server_for("a_failed_meilisearch_task_is_reported_and_retried").await
    else {
        return;
    };
    let meili = server.fresh_index();
    let app = spawn_app_with_search(true, Some(meili.clone()), |b| b).await;
    app.wait_for_index().await;
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String| {
        let mut request = client.request(method, format!("{}{path}", meili.url));
        if let Some(key) = &meili.key {
            request = request.bearer_auth(key);
        }
        request
    };
    let settle = || async {
        // Meilisearch applies tasks in order: waiting for the newest waits for all.
        loop {
            let tasks: serde_json::Value = call(
                reqwest::Method::GET,
                "/tasks?statuses=enqueued,processing".into(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
            if tasks["results"].as_array().is_some_and(|r| r.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    call(reqwest::Method::DELETE, format!("/indexes/{}", meili.index))
        .send()
        .await
        .unwrap();
    settle().await;
    call(reqwest::Method::POST, "/indexes".into())
        .json(&serde_json::json!({ "uid": meili.index, "primaryKey": "other" }))
        .send()
        .await
        .unwrap();
    // A document fixes the primary key (an empty index would take ours).
    call(
        reqwest::Method::POST,
        format!("/indexes/{}/documents", meili.index),
    )
    .json(&serde_json::json!([{ "other": 1 }]))
    .send()
    .await
    .unwrap();
    settle().await;

    common::add_proposal(app.db(), "TS-TEST-FAIL-01", "被拒绝的文档", "正文").await;
    app.state.indexer.wake();
    let started = Instant::now();
    let ready = loop {
        let (_, ready) = app.json("/readyz").await;
        if ready["outbox"]["failing"].as_u64().unwrap_or(0) >= 1 {
            break ready;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "failure never reported: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        ready["outbox"]["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("primary"),
        "the backend's reason is kept: {ready}"
    );
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("tingshang_outbox_failing 1"), "{metrics}");

    // The index accepts documents again: the queued change goes through on its next retry.
    call(reqwest::Method::DELETE, format!("/indexes/{}", meili.index))
        .send()
        .await
        .unwrap();
    settle().await;
    let started = Instant::now();
    loop {
        let (_, ready) = app.json("/readyz").await;
        if ready["outbox"]["pending"] == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never retried: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, found) = app
        .json("/api/v1/search?q=%E8%A2%AB%E6%8B%92%E7%BB%9D")
        .await;
    assert_eq!(found["total"], 1, "{found}");
}
