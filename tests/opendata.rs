//! Open data over HTTP: the archive export imported into an empty database reproduces the public
//! pages; imports are all-or-nothing and idempotent; feeds parse as Atom and escape their text;
//! CSV and JSON exports hold exactly the filtered list.
mod common;

use chrono::Datelike;
use common::{spawn_app, spawn_app_with, TestApp};
use tingshang::opendata::archive;

/// A proposal with hostile text that goes through the whole workflow, so the archive holds
/// assignments, a written reply with a commitment, a rating and a closure.
async fn worked_example(app: &TestApp) -> String {
    let member = app.signed_in("xing", "member", Some("邢占军"), None).await;
    let secretariat = app.signed_in("mishu", "secretariat", None, None).await;
    let kjj = app
        .signed_in("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    let id = member
        .new_draft(&[
            ("title", "概念验证中心 <script>alert('x')</script> & 基金"),
            (
                "body_md",
                "建议设立**概念验证**基金。<img src=x onerror=alert(1)>",
            ),
            ("topics", "概念验证"),
            ("session_number", "27"),
        ])
        .await;
    assert_eq!(member.act(id, "submit", &[]).await.0, 303);
    assert_eq!(secretariat.act(id, "accept", &[]).await.0, 303);
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(60)).to_string();
    let lead = app.agency_id("市科技局").await.to_string();
    assert_eq!(
        secretariat
            .act(id, "assign", &[("lead", &lead), ("due_on", &due)])
            .await
            .0,
        303
    );
    let reply = [
        ("grade", "A"),
        ("doc_number", "青科函〔2026〕8号"),
        ("body_md", "已设立概念验证专项资金。"),
        ("c_description", "2027年底前支持概念验证项目"),
        ("c_metric", "概念验证项目"),
        ("c_unit", "个"),
        ("c_target", "30"),
        ("c_date", "2027-12-31"),
    ];
    // A progress report first: the item then has two responses from one agency.
    assert_eq!(
        kjj.act(id, "progress", &[("body_md", "已启动概念验证中心筹建。")])
            .await
            .0,
        303
    );
    assert_eq!(kjj.act(id, "reply", &reply).await.0, 303);
    assert_eq!(
        member
            .act(id, "rate", &[("rating", "satisfied"), ("comment", "")])
            .await
            .0,
        303
    );
    use sea_orm::EntityTrait;
    entity::proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code
}

const PAGES: &[&str] = &[
    "/",
    "/sessions",
    "/sessions/27",
    "/proposals",
    "/proposals?session=27&group=closed",
    "/agencies",
    "/agencies/1",
    "/agencies/1/scorecard",
    "/people/2",
    "/documents/1",
    "/documents",
    "/statistics",
    "/api/v1/proposals?per_page=200",
];

#[tokio::test]
async fn an_exported_archive_imported_into_an_empty_database_shows_the_same_pages() {
    let source = spawn_app().await;
    let code = worked_example(&source).await;
    let (status, archive_text) = source.get("/api/v1/export/archive.jsonl").await;
    assert_eq!(status, 200);
    assert!(!archive_text.contains("password"), "no account data leaves");

    let target = spawn_app_with(false).await;
    let report = archive::import(target.db(), &archive_text, &|_, _| {})
        .await
        .expect("the export imports");
    assert!(report.matched.is_empty(), "{:?}", report.matched);
    assert_eq!(report.inserted["proposal"], 12);

    let mut pages: Vec<String> = PAGES.iter().map(|p| p.to_string()).collect();
    pages.push(format!("/proposals/{code}"));
    pages.push("/proposals/TS-2023-027-06".into());
    pages.push(format!("/api/v1/proposals/{code}"));
    for page in &pages {
        let (a_status, a) = source.get(page).await;
        let (b_status, b) = target.get(page).await;
        assert_eq!((a_status, b_status), (200, 200), "{page}");
        assert!(a == b, "{page} differs after the round trip");
    }
    // The hostile title stays text on both sides.
    let page = target.page(&format!("/proposals/{code}")).await;
    assert!(!page.contains("<script>alert") && !page.contains("onerror=alert"));

    // Imported rows keep their exported ids; new rows get fresh ones (PostgreSQL's sequences
    // were moved past them).
    use sea_orm::{ActiveValue, ColumnTrait, EntityTrait, QueryFilter};
    let mut copy: entity::proposals::ActiveModel = entity::proposals::Entity::find()
        .filter(entity::proposals::Column::Code.eq(code.as_str()))
        .one(target.db())
        .await
        .unwrap()
        .unwrap()
        .into();
    copy.id = ActiveValue::NotSet;
    copy.code = ActiveValue::Set("TS-COPY-001".into());
    copy.external_id = ActiveValue::Set(None);
    let fresh = entity::proposals::Entity::insert(copy)
        .exec(target.db())
        .await
        .expect("a new row after the import gets a free id");
    assert!(fresh.last_insert_id > 12);
    entity::proposals::Entity::delete_by_id(fresh.last_insert_id)
        .exec(target.db())
        .await
        .unwrap();

    // Importing the same file again changes nothing.
    let again = archive::import(target.db(), &archive_text, &|_, _| {})
        .await
        .unwrap();
    assert!(again.inserted.is_empty(), "{:?}", again.inserted);
    assert_eq!(again.matched["proposal"], 12);
}

#[tokio::test]
async fn a_bad_file_is_reported_line_by_line_and_nothing_is_written() {
    let source = spawn_app().await;
    let (_, text) = source.get("/api/v1/export/archive.jsonl").await;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let proposal_line = lines
        .iter()
        .position(|l| l.starts_with(r#"{"type":"proposal""#))
        .unwrap();
    lines[proposal_line] =
        lines[proposal_line].replace(r#""status":"accepted""#, r#""status":"draft""#);
    lines.insert(3, "{not json".to_owned());
    let bad = lines.join("\n");

    let target = spawn_app_with(false).await;
    let errors = match archive::import(target.db(), &bad, &|_, _| {}).await {
        Err(archive::ImportError::Invalid(errors)) => errors,
        other => panic!("expected line errors, got {other:?}"),
    };
    let reported: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert!(reported.contains(&4), "the unparsable line: {errors:?}");
    assert!(
        reported.contains(&(proposal_line + 2)),
        "the draft proposal (shifted by the inserted line): {errors:?}"
    );
    let counts = tingshang::seed::table_counts(target.db()).await.unwrap();
    assert!(
        counts.values().all(|n| *n == 0),
        "nothing written: {counts:?}"
    );
}

#[tokio::test]
async fn feeds_are_atom_with_escaped_text_and_exports_hold_the_filtered_list() {
    let app = spawn_app().await;
    let code = worked_example(&app).await;
    for path in [
        "/feeds/proposals.atom".to_owned(),
        "/feeds/responses.atom".to_owned(),
        "/agencies/1/feed.atom".to_owned(),
        "/sessions/27/feed.atom".to_owned(),
        format!("/proposals/{code}/feed.atom"),
    ] {
        let (status, xml) = app.get(&path).await;
        assert_eq!(status, 200, "{path}");
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{path}: {e}"));
        let feed = doc.root_element();
        assert_eq!(feed.tag_name().name(), "feed");
        assert_eq!(
            feed.tag_name().namespace(),
            Some("http://www.w3.org/2005/Atom")
        );
        for required in ["id", "title", "updated"] {
            assert!(
                feed.children().any(|c| c.has_tag_name(required)),
                "{path} lacks <{required}>"
            );
        }
        let entries: Vec<_> = feed
            .children()
            .filter(|c| c.has_tag_name("entry"))
            .collect();
        assert!(!entries.is_empty(), "{path} has entries");
        let stamp = |entry: &roxmltree::Node, name: &str| {
            entry
                .children()
                .find(|c| c.has_tag_name(name))
                .and_then(|c| c.text())
                .map(|t| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .unwrap_or_else(|e| panic!("{path} {name} {t}: {e}"))
                })
        };
        let mut updated = std::collections::BTreeSet::new();
        for entry in &entries {
            for required in ["id", "title", "updated", "link"] {
                assert!(
                    entry.children().any(|c| c.has_tag_name(required)),
                    "{path} entry"
                );
            }
            // Dated by the record: never in the future, never before it was published.
            let at = stamp(entry, "updated").unwrap();
            assert!(
                at <= chrono::Utc::now() && at.year() >= 2000,
                "{path}: updated {at}"
            );
            if let Some(published) = stamp(entry, "published") {
                assert!(
                    published <= at,
                    "{path}: published {published} after updated {at}"
                );
            } else {
                assert!(
                    !path.ends_with("proposals.atom") && !path.contains("responses"),
                    "{path}: published"
                );
            }
            updated.insert(at);
        }
        if entries.len() > 2 {
            assert!(
                updated.len() > 1,
                "{path}: entries carry their own dates, not the seed's load time"
            );
        }
    }
    let (_, xml) = app.get("/feeds/proposals.atom").await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("<script>alert('x')</script> & 基金")),
        "the hostile title round-trips as text: {titles:?}"
    );
    assert!(!xml.contains("<script>"), "and is escaped in the XML");

    // CSV: BOM, header, one line per listed proposal; JSON: the same proposals.
    let (status, csv) = app.get("/api/v1/export/proposals.csv?session=27").await;
    assert_eq!(status, 200);
    assert!(csv.starts_with('\u{feff}'));
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 1 + 12, "header and 12 proposals of session 27");
    assert!(lines.iter().any(|l| l.contains(&code)));
    // 答复条数 counts responses, not the agencies that gave them (an agency answers on the spot
    // and in writing).
    let mut more_responses_than_agencies = 0;
    let (_, all) = app.get("/api/v1/export/proposals.csv").await;
    for line in all.trim_end().split("\r\n").skip(1) {
        let code = line.split(',').next().unwrap();
        let (_, detail) = app.json(&format!("/api/v1/proposals/{code}")).await;
        let responses = detail["responses"].as_array().unwrap();
        let agencies: std::collections::BTreeSet<_> =
            responses.iter().map(|r| r["agency_id"].as_i64()).collect();
        let count = line.rsplit(',').nth(1).unwrap();
        assert_eq!(count, responses.len().to_string(), "{line}");
        if responses.len() > agencies.len() {
            more_responses_than_agencies += 1;
        }
    }
    assert!(
        more_responses_than_agencies > 0,
        "the worked example has two responses from one agency"
    );
    let (_, json) = app
        .get("/api/v1/export/proposals.json?session=27&group=closed")
        .await;
    let items: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["code"], code.as_str());
    let (_, empty) = app
        .get("/api/v1/export/proposals.json?session=27&group=overdue")
        .await;
    assert_eq!(empty, "[]");
    assert_eq!(app.get("/api/v1/export/proposals.xml").await.0, 404);
    assert_eq!(
        app.get("/api/v1/export/proposals.csv?status=bogus").await.0,
        400
    );
}

#[tokio::test]
async fn the_secretariat_uploads_an_archive_through_the_admin_page() {
    let source = spawn_app().await;
    let (_, text) = source.get("/api/v1/export/archive.jsonl").await;
    let target = spawn_app_with(false).await;
    let secretariat = target.signed_in("mishu", "secretariat", None, None).await;
    let upload = |body: String| {
        let secretariat = &secretariat;
        async move {
            let csrf = secretariat.csrf().await;
            let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
                "file",
                reqwest::multipart::Part::text(body).file_name("archive.jsonl"),
            );
            let response = secretariat
                .client
                .post(format!("{}/admin/import", secretariat.base))
                .multipart(form)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, page) = upload(format!("{text}\n{{\"type\":\"nonsense\"}}\n")).await;
    assert_eq!(status, 400);
    assert!(page.contains("未导入任何内容"), "{page}");
    assert_eq!(
        tingshang::seed::table_counts(target.db()).await.unwrap()["proposals"],
        0
    );
    let (status, page) = upload(text).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("导入完成"));
    assert_eq!(
        target.page("/sessions/27").await,
        source.page("/sessions/27").await
    );
    // Members may not import.
    let member = target
        .signed_in("xing", "member", Some("邢占军"), None)
        .await;
    assert_eq!(member.get("/admin/import").await.0, 403);
}

/// A mirror follows `/api/v1/changes`: from the whole log it builds the archive, then, after a
/// proposal goes through the workflow and a session is unpublished, it reads only what changed and
/// ends up equal to the archive as the API and the export show it now.
#[tokio::test]
async fn a_mirror_following_the_change_log_equals_the_archive() {
    use std::collections::BTreeMap;
    let app = spawn_app().await;
    let mut mirror: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut reads = 0;

    async fn follow(
        app: &TestApp,
        mirror: &mut BTreeMap<String, serde_json::Value>,
        reads: &mut usize,
        mut since: i64,
    ) -> (i64, Vec<String>) {
        let mut changes = Vec::new();
        loop {
            let (status, page) = app
                .json(&format!("/api/v1/changes?since={since}&limit=7"))
                .await;
            assert_eq!(status, 200, "{page}");
            for item in page["items"].as_array().unwrap() {
                let key = format!(
                    "{}:{}",
                    item["kind"].as_str().unwrap(),
                    item["key"].as_str().unwrap()
                );
                changes.push(format!("{} {key}", item["change"].as_str().unwrap()));
                match item["url"].as_str() {
                    Some(url) => {
                        let (status, body) = app.json(url).await;
                        assert_eq!(status, 200, "{url}");
                        *reads += 1;
                        mirror.insert(key, body);
                    }
                    None => {
                        mirror.remove(&key);
                    }
                }
            }
            assert!(page["next_since"].as_i64().unwrap() >= since);
            since = page["next_since"].as_i64().unwrap();
            if !page["more"].as_bool().unwrap() {
                return (since, changes);
            }
        }
    }

    let (cursor, initial) = follow(&app, &mut mirror, &mut reads, 0).await;
    assert!(
        initial.iter().all(|c| c.starts_with("created ")),
        "{initial:?}"
    );
    let after_seed = reads;

    let code = worked_example(&app).await;
    let secretariat = app.signed_in("mishu2", "secretariat", None, None).await;
    let (status, _, _) = secretariat
        .post("/admin/sessions/27/publish", &[("published", "false")])
        .await;
    assert_eq!(status, 303);
    let (_, changes) = follow(&app, &mut mirror, &mut reads, cursor).await;
    assert!(
        changes.contains(&format!("created proposal:{code}")),
        "{changes:?}"
    );
    assert!(
        changes.contains(&"deleted session:27".to_owned()),
        "{changes:?}"
    );
    // Only what changed was read again: the new proposal and session 27's (now session-less) ones.
    assert!(
        reads - after_seed <= 14,
        "{} reads after the seed",
        reads - after_seed
    );

    // The mirror equals the archive now.
    let (_, export) = app.get("/api/v1/export/proposals.json").await;
    let export: serde_json::Value = serde_json::from_str(&export).unwrap();
    let exported: Vec<String> = export
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("proposal:{}", p["code"].as_str().unwrap()))
        .collect();
    let mirrored: Vec<String> = mirror
        .keys()
        .filter(|k| k.starts_with("proposal:"))
        .cloned()
        .collect();
    let mut exported_sorted = exported.clone();
    exported_sorted.sort();
    assert_eq!(mirrored, exported_sorted, "the same public proposals");
    for (key, held) in &mirror {
        let (kind, id) = key.split_once(':').unwrap();
        let url = match kind {
            "proposal" => format!("/api/v1/proposals/{id}"),
            "session" => format!("/api/v1/sessions/{id}"),
            _ => format!("/api/v1/documents/{id}"),
        };
        let (status, now) = app.json(&url).await;
        assert_eq!(status, 200, "{key} is public");
        assert_eq!(held, &now, "{key} is current in the mirror");
    }
    let (_, sessions) = app.json("/api/v1/sessions?per_page=200").await;
    let (_, documents) = app.json("/api/v1/documents?per_page=200").await;
    let count = |kind: &str| mirror.keys().filter(|k| k.starts_with(kind)).count() as u64;
    assert_eq!(count("session:"), sessions["total"].as_u64().unwrap());
    assert_eq!(count("document:"), documents["total"].as_u64().unwrap());
    assert!(!mirror.contains_key("session:27"));
}

#[tokio::test]
async fn lists_keep_only_what_changed_since_in_the_order_it_changed() {
    let app = spawn_app().await;
    let codes = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["code"].as_str().unwrap().to_owned())
            .collect()
    };
    // RFC 3339 in a query string: `+` must be sent as %2B.
    let since = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339().replace('+', "%2B");
    // Seeded earlier: nothing changed after this moment.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let start = chrono::Utc::now();
    let (status, page) = app
        .json(&format!("/api/v1/proposals?updated_since={}", since(start)))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 0, "{page}");

    let code = worked_example(&app).await;
    let (_, page) = app
        .json(&format!("/api/v1/proposals?updated_since={}", since(start)))
        .await;
    assert_eq!(
        codes(&page),
        std::slice::from_ref(&code),
        "only the one that changed"
    );
    // The same moment written in Beijing time selects the same.
    let beijing = start
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .to_rfc3339();
    let (_, page) = app
        .json(&format!(
            "/api/v1/proposals?updated_since={}",
            beijing.replace('+', "%2B")
        ))
        .await;
    assert_eq!(codes(&page), std::slice::from_ref(&code), "{beijing}");
    // With the other filters, and in the export.
    let (_, page) = app
        .json(&format!(
            "/api/v1/proposals?status=closed&updated_since={}",
            since(start)
        ))
        .await;
    assert_eq!(page["total"].as_u64(), Some(codes(&page).len() as u64));
    // Every list takes it; from the beginning it is every item, and a bad value names itself.
    for list in ["sessions", "agencies", "people", "documents", "proposals"] {
        let (status, all) = app.json(&format!("/api/v1/{list}?per_page=200")).await;
        assert_eq!(status, 200);
        let (status, since_ever) = app
            .json(&format!(
                "/api/v1/{list}?per_page=200&updated_since=2000-01-01T00:00:00Z"
            ))
            .await;
        assert_eq!(status, 200, "{list}: {since_ever}");
        assert_eq!(since_ever["total"], all["total"], "{list}");
        let (status, body) = app
            .json(&format!("/api/v1/{list}?updated_since=yesterday"))
            .await;
        assert_eq!(status, 400, "{list}");
        assert!(body.to_string().contains("updated_since"), "{list}: {body}");
    }
    let (_, future) = app
        .json("/api/v1/agencies?updated_since=2100-01-01T00:00:00Z")
        .await;
    assert_eq!(future["total"], 0);
}

/// `tingshang import FILE` reads the archive from disk line by line (twice: check, then write),
/// so its memory does not grow with the file: the same report of every bad line and nothing
/// written, or all of it in one transaction.
#[tokio::test]
async fn the_command_line_imports_an_archive_file_line_by_line() {
    let source = spawn_app().await;
    let (_, archive_text) = source.get("/api/v1/export/archive.jsonl").await;
    let dir = tempfile::tempdir().unwrap();
    let run = |url: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tingshang"))
            .args(args)
            .env("TINGSHANG_DATABASE_URL", url)
            .env("TINGSHANG_FILES_DIR", dir.path().join("files"))
            .env("TINGSHANG_LOG", "warn")
            .output()
            .unwrap()
    };

    // A bad line in the middle of a file with blank lines in it: both problems reported by line,
    // nothing written.
    let mut lines: Vec<String> = archive_text.lines().map(str::to_owned).collect();
    lines.insert(2, String::new());
    let proposal = lines
        .iter()
        .position(|l| l.starts_with(r#"{"type":"proposal""#))
        .unwrap();
    lines[proposal] = lines[proposal].replace(r#""status":"accepted""#, r#""status":"draft""#);
    lines.insert(5, "{not json".to_owned());
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let (url, _keep) = common::fresh_database().await;
    let out = run(&url, &["import", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bad.jsonl:第 6 行:不是有效的记录"),
        "{stderr}"
    );
    let proposal_line = if proposal >= 5 {
        proposal + 2
    } else {
        proposal + 1
    };
    assert!(
        stderr.contains(&format!("bad.jsonl:第 {proposal_line} 行")),
        "{stderr}"
    );
    assert!(
        stderr.contains("文件有 2 处错误,未导入任何内容"),
        "{stderr}"
    );
    let target = tingshang::db::connect(&tingshang::config::Config {
        database_url: url.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let counts = tingshang::seed::table_counts(&target).await.unwrap();
    assert!(
        counts.values().all(|n| *n == 0),
        "nothing written: {counts:?}"
    );

    // The good file: `--check` counts its records, then the import writes them all.
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, format!("\n{archive_text}\n\n")).unwrap();
    let records = archive_text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let out = run(&url, &["import", "--check", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("检查通过:{records} 条记录")));
    let out = run(&url, &["import", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let imported = tingshang::seed::table_counts(&target).await.unwrap();
    let original = tingshang::seed::table_counts(source.db()).await.unwrap();
    assert_eq!(imported.get("proposals"), original.get("proposals"));
    assert_eq!(imported.get("responses"), original.get("responses"));
}
