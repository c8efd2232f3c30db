//! One conformance suite for every search backend: the embedded index always, Meilisearch whenever
//! `MEILI_URL` points at a server (the run says so when that part is skipped). Plus the outage test:
//! writes succeed while search is down, and the index catches up afterwards.
mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::{add_proposal, spawn_app_with_search, TestApp};
use entity::proposals;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

fn codes(results: &Value) -> Vec<String> {
    results["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["code"].as_str().map(str::to_owned))
        .collect()
}

fn facet(results: &Value, name: &str, value: &str) -> u64 {
    results["facets"][name]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["value"] == value)
        .map_or(0, |f| f["count"].as_u64().unwrap())
}

async fn search(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.json(&format!("/api/v1/search?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn q(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn conformance(app: &TestApp, backend: &str) {
    app.wait_for_index().await;
    let mut report = Vec::new();

    // Chinese phrases.
    let r = search(app, &format!("q={}", q("概念验证中心"))).await;
    assert_eq!(
        codes(&r).first().map(String::as_str),
        Some("TS-2023-027-05"),
        "{backend}: 概念验证中心 → {r}"
    );
    let hit = &r["items"][0];
    assert!(
        hit["title_html"]
            .as_str()
            .unwrap()
            .contains("<mark>概念验证中心</mark>"),
        "{backend}: title highlighted"
    );
    assert!(
        hit["snippet_html"].as_str().unwrap().contains("<mark>"),
        "{backend}: snippet highlighted"
    );
    report.push(format!("概念验证中心 → {:?}", codes(&r)));

    let r = search(app, &format!("q={}", q("科技型中小企业"))).await;
    let found = codes(&r);
    assert!(
        found.contains(&"TS-2023-027-06".to_owned()),
        "{backend}: 科技型中小企业 → {found:?}"
    );
    assert!(
        r["total"].as_u64().unwrap() >= 3,
        "documents about SMEs are found too"
    );
    report.push(format!(
        "科技型中小企业 → {} hits, proposals {found:?}",
        r["total"]
    ));

    // Agency aliases: 科技局 finds 青岛市科学技术局's answers.
    let r = search(app, &format!("q={}&kind=proposal", q("科技局"))).await;
    assert!(r["total"].as_u64().unwrap() >= 8, "{backend}: 科技局 → {r}");
    report.push(format!("科技局 (proposals) → {} hits", r["total"]));

    // Member names, with a filter.
    let r = search(app, &format!("q={}&kind=proposal", q("秦军"))).await;
    let mut found = codes(&r);
    found.sort();
    assert_eq!(
        found,
        [
            "TS-2023-027-08",
            "TS-2023-027-09",
            "TS-2023-027-10",
            "TS-2023-027-11"
        ],
        "{backend}: 秦军"
    );
    report.push(format!("秦军 kind=proposal → {found:?}"));

    // Sub-word: 农业 inside 中国农业发展银行.
    add_proposal(
        app.db(),
        "TS-TEST-NY-01",
        "支持政策性银行服务科技企业",
        "建议中国农业发展银行青岛分行加大对涉农科技企业的信贷支持。",
    )
    .await;
    app.wait_for_index().await;
    let r = search(app, &format!("q={}", q("农业"))).await;
    assert!(
        codes(&r).contains(&"TS-TEST-NY-01".to_owned()),
        "{backend}: 农业 → {r}"
    );
    report.push(format!("农业 → {:?}", codes(&r)));

    // Filters and facets.
    let r = search(
        app,
        &format!("status=accepted&agency={}&kind=proposal", q("市工信局")),
    )
    .await;
    let mut found = codes(&r);
    found.sort();
    assert_eq!(
        found,
        ["TS-2023-027-06", "TS-2023-027-08"],
        "{backend}: agency filter"
    );
    let r = search(app, "session=27&kind=proposal&channel=session&year=2023").await;
    assert_eq!(r["total"], 11, "{backend}: session filter");
    assert_eq!(facet(&r, "member", "邢占军"), 5, "{backend}: member facet");
    let r = search(app, "").await;
    assert_eq!(
        facet(&r, "kind", "proposal"),
        12,
        "{backend}: kind facet {r}"
    );
    assert_eq!(facet(&r, "kind", "session"), 1);
    assert_eq!(facet(&r, "kind", "document"), 5);
    assert!(
        facet(&r, "agency", "市科技局") >= 9,
        "{backend}: agency facet"
    );
    let r = search(app, &format!("topic={}&kind=proposal", q("科技金融"))).await;
    assert_eq!(codes(&r), ["TS-2023-027-07"], "{backend}: topic filter");

    // Sort by date and paging.
    let r = search(app, "sort=newest&per_page=50").await;
    let dates: Vec<i64> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["date"].as_i64().unwrap())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "{backend}: newest first {dates:?}"
    );
    assert_eq!(r["items"][0]["code"], "TS-TEST-NY-01");
    let page1 = search(app, "kind=proposal&sort=oldest&per_page=5&page=1").await;
    let page2 = search(app, "kind=proposal&sort=oldest&per_page=5&page=2").await;
    let (a, b) = (codes(&page1), codes(&page2));
    assert_eq!((a.len(), b.len()), (5, 5), "{backend}: paging");
    assert!(
        a.iter().all(|c| !b.contains(c)),
        "{backend}: pages do not overlap"
    );

    // Unpublishing removes an item; deletion too.
    let row = proposals::Entity::find()
        .filter(proposals::Column::Code.eq("TS-TEST-NY-01"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    proposals::Entity::update_many()
        .col_expr(proposals::Column::Published, false.into())
        .filter(proposals::Column::Id.eq(row.id))
        .exec(app.db())
        .await
        .unwrap();
    tingshang::search::outbox::enqueue(app.db(), "proposal", row.id)
        .await
        .unwrap();
    app.wait_for_index().await;
    let r = search(app, &format!("q={}", q("农业"))).await;
    assert!(
        !codes(&r).contains(&"TS-TEST-NY-01".to_owned()),
        "{backend}: unpublished item still found"
    );

    // Filter injection: quotes, OR, =, backslashes are values, never syntax.
    for hostile in [
        "accepted\" OR status = \"draft",
        "x' OR 1=1 --",
        "\\\"",
        "a\\\\\" OR kind = \"session",
        "status = accepted",
    ] {
        let r = search(
            app,
            &format!(
                "status={}&agency={}&q={}",
                q(hostile),
                q(hostile),
                q(hostile)
            ),
        )
        .await;
        assert_eq!(r["total"], 0, "{backend}: {hostile} matched something");
    }
    let (status, _) = app
        .get(&format!(
            "/search?q={}&session={}",
            q("\" OR 1=1"),
            q("27 OR 1=1")
        ))
        .await;
    assert_eq!(status, 200);

    // The HTML page shows facets and highlighted results without JavaScript.
    let page = app.page(&format!("/search?q={}", q("概念验证中心"))).await;
    assert!(
        page.contains("<mark>概念验证中心</mark>") && page.contains("类型") && page.contains("共 ")
    );
    let empty = app
        .page(&format!("/search?q={}", q("完全不存在的词语组合乙丙")))
        .await;
    assert!(empty.contains("没有找到"));

    query_language(app, backend, &mut report).await;
    println!("== {backend} ==\n{}", report.join("\n"));
}

/// Sorted codes of the proposals a query finds.
async fn found(app: &TestApp, text: &str) -> Vec<String> {
    let r = search(app, &format!("q={}&kind=proposal&per_page=50", q(text))).await;
    let mut found = codes(&r);
    found.sort();
    found
}

/// The query language, the same on both backends: contiguous sub-words only, folding, phrases,
/// exclusions, synonyms (curated ones applied without a reindex), titles first, counts.
async fn query_language(app: &TestApp, backend: &str, report: &mut Vec<String>) {
    for (code, title, body) in [
        (
            "TS-TEST-QL-01",
            "全固态电池产业链",
            "支持市政协委员调研的全固态电池项目。",
        ),
        (
            "TS-TEST-QL-02",
            "高水平人才引进",
            "为企业提供高效的电池回收服务,固态 电池分开写。",
        ),
        (
            "TS-TEST-QL-03",
            "创新联合的体制",
            "组建创新联合机制,合体办公。",
        ),
        (
            "TS-TEST-QL-04",
            "組建創新聯合體",
            "以ＡＩ芯片推动產學研協同。",
        ),
        ("TS-TEST-QL-05", "高新技术企业认定", "加快培育认定工作。"),
        ("TS-TEST-QL-06", "电池回收", "正文提到全固态电池。"),
    ] {
        add_proposal(app.db(), code, title, body).await;
    }
    app.wait_for_index().await;
    let cases: [(&str, &[&str]); 16] = [
        // Sub-words inside longer words, and nothing where the characters only stand apart.
        ("固态电池", &["TS-TEST-QL-01", "TS-TEST-QL-06"]),
        ("政协委员", &["TS-TEST-QL-01"]),
        ("创新联合体", &["TS-TEST-QL-04"]),
        // Traditional and simplified fold to each other, full-width to half-width, case.
        ("創新聯合體", &["TS-TEST-QL-04"]),
        ("产学研", &["TS-TEST-QL-04"]),
        ("ai芯片", &["TS-TEST-QL-04"]),
        ("Ａｉ", &["TS-TEST-QL-04"]),
        // Phrases, several words, exclusions.
        ("\"固态 电池\"", &["TS-TEST-QL-02"]),
        ("电池 回收", &["TS-TEST-QL-02", "TS-TEST-QL-06"]),
        ("固态电池 -政协", &["TS-TEST-QL-06"]),
        ("电池 -\"全固态\"", &["TS-TEST-QL-02"]),
        // Synonyms: curated (高企 = 高新技术企业, from the starting list) and both ways.
        ("高企", &["TS-TEST-QL-05"]),
        ("高新技术企业认定", &["TS-TEST-QL-05"]),
        ("高效", &["TS-TEST-QL-02"]),
        ("合体", &["TS-TEST-QL-03", "TS-TEST-QL-04"]),
        ("联合体 -組建", &[]),
    ];
    for (text, expected) in cases {
        let got: Vec<String> = found(app, text)
            .await
            .into_iter()
            .filter(|c| c.starts_with("TS-TEST-QL"))
            .collect();
        assert_eq!(got, expected, "{backend}: {text}");
        report.push(format!("{text} → {got:?}"));
    }
    // 科小 = 科技型中小企业 (starting list) finds the SME proposal of session 27.
    assert!(
        found(app, "科小")
            .await
            .contains(&"TS-2023-027-06".to_owned()),
        "{backend}: 科小"
    );

    // A match in the title ranks before one in the body only.
    let r = search(app, &format!("q={}&kind=proposal", q("电池回收"))).await;
    assert_eq!(
        codes(&r).first().map(String::as_str),
        Some("TS-TEST-QL-06"),
        "{backend}: title first {r}"
    );

    // A synonym group added on the admin page applies at once, without a reindex.
    assert!(found(app, "联合体攻关").await.is_empty());
    let secretariat = app.signed_in("mishu", "secretariat", None, None).await;
    let (status, body, _) = secretariat
        .post(
            "/admin/synonyms",
            &[("words", "联合体攻关 = 产学研"), ("note", "测试")],
        )
        .await;
    assert!(status < 400, "{backend}: adding synonyms: {status} {body}");
    let with_synonym = found(app, "联合体攻关").await;
    assert!(
        with_synonym.contains(&"TS-TEST-QL-04".to_owned())
            && !with_synonym.contains(&"TS-TEST-QL-01".to_owned()),
        "{backend}: curated synonym {with_synonym:?}"
    );
    let (status, page) = secretariat.get("/admin/synonyms").await;
    assert!(
        status == 200 && page.contains("联合体攻关 = 产学研"),
        "{status}"
    );

    // Counts are exact (no 约) at this size.
    let r = search(app, "").await;
    assert_eq!(r["total_is_estimate"], false, "{backend}");

    // Nothing found: broader searches that do find something are offered.
    let page = app
        .page(&format!("/search?q={}", q("创新联合体 完全不存在乙丙")))
        .await;
    assert!(
        page.contains("范围更宽") && page.contains(">创新联合体</a>"),
        "{backend}: broader"
    );
    let page = app
        .page(&format!("/search?q={}&kind=session", q("固态电池")))
        .await;
    assert!(
        page.contains("在全部类型中有 ") && page.contains("建议 2 条"),
        "{backend}: unfiltered count {}",
        &page[page.find("没有找到").unwrap_or(0)..]
    );
}

#[tokio::test]
async fn embedded_backend_conforms() {
    let app = spawn_app_with_search(true, None, |b| b).await;
    conformance(&app, "embedded").await;
}

#[tokio::test]
async fn meilisearch_backend_conforms() {
    let Some(meili) = common::meili::server_for("meilisearch_backend_conforms").await else {
        return;
    };
    let app = spawn_app_with_search(true, Some(meili.fresh_index()), |b| b).await;
    conformance(&app, "meilisearch").await;
}

#[tokio::test]
async fn writes_succeed_during_a_search_outage_and_the_index_catches_up() {
    let mut switch = None;
    let app = spawn_app_with_search(true, None, |backend| {
        let (flaky, down) = common::flaky::FlakyBackend::wrap(backend);
        switch = Some(down);
        Arc::new(flaky)
    })
    .await;
    let down = switch.unwrap();
    app.wait_for_index().await;
    down.store(true, Ordering::SeqCst);

    // The public search reports the outage clearly; browsing still works.
    let (status, page) = app.get(&format!("/search?q={}", q("科技"))).await;
    assert_eq!(status, 503);
    assert!(page.contains("检索服务暂时不可用"));
    app.page("/sessions/27").await;
    let (status, health) = app.json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(health["status"], "not_ready");
    assert_eq!(health["database"]["ok"], true);
    let (status, _) = app.json("/healthz").await;
    assert_eq!(status, 200, "the process itself is alive");

    // Members keep submitting; the secretariat keeps accepting.
    let member = app.signed_in("xing", "member", Some("邢占军"), None).await;
    let secretariat = app.signed_in("mishu", "secretariat", None, None).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let title = format!("检索中断期间提交的建议第{n}号");
        let id = member
            .new_draft(&[("title", &title), ("body_md", "断网期间的正文")])
            .await;
        let (status, _) = member.act(id, "submit", &[]).await;
        assert_eq!(status, 303);
        let (status, _) = secretariat.act(id, "accept", &[]).await;
        assert_eq!(status, 303);
        ids.push(id);
    }
    app.state.indexer.drain().await.unwrap();
    let lag = app.state.indexer.lag().await.unwrap();
    assert!(
        lag.pending >= 6,
        "changes wait in the outbox while search is down ({})",
        lag.pending
    );
    let failed = entity::search_outbox::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert!(failed.iter().any(|r| r.attempts > 0
        && r.last_error
            .as_deref()
            .is_some_and(|e| e.contains("outage"))));

    // Recovery: the outbox drains to zero and every change is searchable.
    down.store(false, Ordering::SeqCst);
    app.wait_for_index().await;
    let r = search(
        &app,
        &format!("q={}&per_page=50", q("检索中断期间提交的建议")),
    )
    .await;
    assert_eq!(r["total"], 6, "{r}");
    let (status, health) = app.json("/readyz").await;
    assert_eq!(
        (status, health["outbox"]["pending"].as_u64()),
        (200, Some(0))
    );
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("tingshang_outbox_pending 0"), "{metrics}");
    assert!(metrics.contains("tingshang_search_failures_total "));
}
