//! Two app instances (real processes) on one database and one Meilisearch, as in production
//! behind a reverse proxy: a workflow step on one is searchable and its public page fresh on the
//! other within 2 s, and killing an instance in the middle of its work loses nothing and never
//! leaves an older state of an item in the index.
mod common;

use std::time::{Duration, Instant};

use common::process::{cli, start_with, Server};

const WITHIN: Duration = Duration::from_secs(2);

fn ticket(external_id: &str, title: &str) -> serde_json::Value {
    serde_json::json!({
        "channel": "hotline_12345",
        "external_id": external_id,
        "title": title,
        "body_md": format!("{title}。市民反映的问题需要有关部门协调解决。"),
    })
}

/// Registers a ticket on `server` and accepts it there; returns its code.
async fn register_and_accept(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    id: &str,
    title: &str,
) -> String {
    let created: serde_json::Value = client
        .post(server.url("/api/v1/intake"))
        .bearer_auth(token)
        .json(&ticket(id, title))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = created["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let decision = client
        .post(server.url(&format!("/api/v1/proposals/{code}/decision")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "action": "accept" }))
        .send()
        .await
        .unwrap();
    assert_eq!(decision.status(), 201, "accepting {code}");
    code
}

async fn found(client: &reqwest::Client, server: &Server, text: &str) -> Vec<String> {
    let r: serde_json::Value = client
        .get(server.url("/api/v1/search"))
        .query(&[("q", text), ("per_page", "50")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["items"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_one_database_and_one_meilisearch() {
    let test = "two_instances_share_one_database_and_one_meilisearch";
    if common::engine() != "postgres" {
        // Several instances are a PostgreSQL deployment (README, Running in production); the
        // PostgreSQL pass of `.ci/run` runs this.
        common::skip(&format!(
            "{test}: several instances need PostgreSQL (TEST_DATABASE_URL)"
        ));
        return;
    }
    let Some(meili) = common::meili::server_for(test).await else {
        return;
    };
    let index = meili.fresh_index();
    let (url, _dir) = common::fresh_database().await;
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
        &[
            "token",
            "create",
            "--user",
            "hotline",
            "--name",
            "instances",
        ],
    )
    .trim()
    .to_owned();
    let key = meili.key.clone().unwrap_or_default();
    let env = [
        ("MEILI_URL", meili.url.as_str()),
        ("MEILI_API_KEY", key.as_str()),
        ("TINGSHANG_MEILI_INDEX", index.index.as_str()),
        ("TINGSHANG_API_RATE", "100000/100000"),
        // A killed instance's rows go to the other one after this.
        ("TINGSHANG_SEARCH_LEASE_SECS", "3"),
    ];
    let a = start_with(&url, search_dir.path(), &env).await;
    let b = start_with(&url, search_dir.path(), &env).await;
    let client = reqwest::Client::new();
    // Both have finished starting: the first rebuild of the empty index, done by each.
    for server in [&a, &b] {
        let started = Instant::now();
        loop {
            let ready: serde_json::Value = client
                .get(server.url("/readyz"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if ready["outbox"]["rebuilding"] == false
                && ready["search"]["documents"].as_u64() > Some(0)
            {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{ready}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // B renders the list of proposals before the change, so a cached copy exists to go stale.
    let before = client
        .get(b.url("/proposals"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!before.contains("海泊河沿岸路灯不亮"));

    // A step on A: searchable on B, and B's public pages show it, within 2 s.
    let code =
        register_and_accept(&client, &a, &token, "two-instances-1", "海泊河沿岸路灯不亮").await;
    let accepted = Instant::now();
    loop {
        if found(&client, &b, "海泊河沿岸路灯").await.contains(&code) {
            break;
        }
        if accepted.elapsed() > WITHIN {
            let ready: serde_json::Value = client
                .get(b.url("/readyz"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let all = found(&client, &b, "").await;
            panic!("B's search did not find {code} within 2 s: {ready} {all:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let searchable_after = accepted.elapsed();
    let page = client
        .get(b.url(&format!("/proposals/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "B serves the proposal A accepted");
    loop {
        let list = client
            .get(b.url("/proposals"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if list.contains("海泊河沿岸路灯不亮") {
            break;
        }
        assert!(
            accepted.elapsed() < WITHIN,
            "B's list of proposals is stale after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("searchable on the other instance after {searchable_after:?}");

    // Changes through both instances, then A is killed, perhaps in the middle of a drain: B takes
    // over A's rows once their lease ends; every item is found once, nothing is lost.
    let mut codes = Vec::new();
    for n in 0..20 {
        let server = if n % 2 == 0 { &a } else { &b };
        codes.push(
            register_and_accept(
                &client,
                server,
                &token,
                &format!("two-instances-batch-{n}"),
                &format!("并发工单批次甲{n:02}号"),
            )
            .await,
        );
    }
    let mut a = a;
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let batch = found(&client, &b, "并发工单批次甲").await;
        let ready: serde_json::Value = client
            .get(b.url("/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let pending = ready["outbox"]["pending"].as_u64();
        if codes.iter().all(|c| batch.contains(c)) && pending == Some(0) {
            assert_eq!(batch.len(), codes.len(), "each item once: {batch:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not caught up after A was killed: {batch:?} {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(b.stop().is_some(), "B shuts down cleanly");
}

/// A backend whose writes wait at a gate the test opens: a drain caught in the middle.
struct Held {
    inner: tingshang::search::Backend,
    open: tokio::sync::watch::Receiver<bool>,
}

#[async_trait::async_trait]
impl tingshang::search::SearchBackend for Held {
    fn name(&self) -> &'static str {
        "held"
    }
    async fn upsert(&self, docs: Vec<tingshang::search::SearchDoc>) -> anyhow::Result<()> {
        let mut open = self.open.clone();
        open.wait_for(|o| *o).await?;
        self.inner.upsert(docs).await
    }
    async fn delete(&self, ids: Vec<String>) -> anyhow::Result<()> {
        self.inner.delete(ids).await
    }
    async fn replace_all(&self, docs: tingshang::search::RebuildStream) -> anyhow::Result<()> {
        self.inner.replace_all(docs).await
    }
    async fn set_synonyms(
        &self,
        synonyms: tingshang::search::query::Synonyms,
    ) -> anyhow::Result<()> {
        self.inner.set_synonyms(synonyms).await
    }
    async fn search(
        &self,
        q: &tingshang::search::SearchQuery,
    ) -> anyhow::Result<tingshang::search::SearchResults> {
        self.inner.search(q).await
    }
    async fn health(&self) -> tingshang::search::Health {
        self.inner.health().await
    }
}

/// Two drains on one outbox (two instances): while one holds an item's rows, the other leaves
/// that item's newer rows alone, so the older state it read can never land after the newer one.
#[tokio::test]
async fn a_drain_never_indexes_an_item_another_drain_holds() {
    use entity::proposals;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    use tingshang::search::outbox::Indexer;

    // The database alone: no app worker draining the outbox beside the two drains under test.
    let (url, _dir) = common::fresh_database().await;
    let db = sea_orm::Database::connect(&url).await.unwrap();
    tingshang::db::migrate(&db).await.unwrap();
    let shared: tingshang::search::Backend =
        std::sync::Arc::new(tingshang::search::embedded::EmbeddedBackend::open(None).unwrap());
    let (open, gate) = tokio::sync::watch::channel(false);
    let first = Indexer::new(
        db.clone(),
        std::sync::Arc::new(Held {
            inner: shared.clone(),
            open: gate,
        }),
        1,
    );
    let second = Indexer::new(db.clone(), shared.clone(), 1);

    let id = common::add_proposal(&db, "TS-TEST-ORDER-01", "旧标题甲乙", "正文").await;
    let held = tokio::spawn(async move { first.drain_once().await.unwrap() });
    // The first drain has read the old title and waits at the gate.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut row: proposals::ActiveModel = proposals::Entity::find_by_id(id)
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.title = Set("新标题丙丁".into());
    row.update(&db).await.unwrap();
    tingshang::search::outbox::enqueue(&db, "proposal", id)
        .await
        .unwrap();

    let meanwhile = second.drain_once().await.unwrap();
    assert_eq!(meanwhile.indexed, 0, "the item is held by the first drain");
    open.send(true).unwrap();
    assert_eq!(held.await.unwrap().indexed, 1);
    assert_eq!(
        second.drain_once().await.unwrap().indexed,
        1,
        "the newer row, after the first drain"
    );

    let query = |text: &str| tingshang::search::SearchQuery {
        text: text.into(),
        ..Default::default()
    };
    assert_eq!(shared.search(&query("新标题丙丁")).await.unwrap().total, 1);
    assert_eq!(
        shared.search(&query("旧标题甲乙")).await.unwrap().total,
        0,
        "an older state never lands last"
    );
}
