//! Attachments: uploaded through the forms, stored once by content, served under the visibility
//! of what they belong to, their text searchable (with the file and page named), and refused
//! when they are not what they claim, too large or a zip bomb.
mod common;
#[path = "common/files.rs"]
mod test_files;

use common::{cast, spawn_app, spawn_app_configured, upload, TestApp, UserClient};
use entity::{attachments, proposals, response_proposals, responses};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};

async fn extract(app: &TestApp) -> tingshang::attachments::worker::Pass {
    let pass = tingshang::attachments::worker::run_once(app.db(), &app.state.config)
        .await
        .expect("worker pass");
    app.wait_for_index().await;
    pass
}

async fn files_of(app: &TestApp, kind: &str, id: i32) -> Vec<attachments::Model> {
    attachments::Entity::find()
        .filter(attachments::Column::OwnerKind.eq(kind))
        .filter(attachments::Column::OwnerId.eq(id))
        .order_by_asc(attachments::Column::Id)
        .all(app.db())
        .await
        .unwrap()
}

/// A published reply of 市科技局 and the code of the public proposal it answers first.
async fn kjj_reply(app: &TestApp) -> (i32, String) {
    let kjj = app.agency_id("市科技局").await;
    let reply = responses::Entity::find()
        .filter(responses::Column::AgencyId.eq(kjj))
        .filter(responses::Column::Published.eq(true))
        .order_by_asc(responses::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let code = proposals::Entity::find()
        .inner_join(response_proposals::Entity)
        .filter(response_proposals::Column::ResponseId.eq(reply.id))
        .filter(tingshang::visibility::public_proposals())
        .order_by_asc(proposals::Column::Code)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    (reply.id, code)
}

async fn fetch(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.unwrap()
}

/// 市科技局 attaches its signed reply (a two-page PDF, Chinese text in an embedded font) to its
/// reply; the worker extracts it; a phrase only in the PDF's second page then finds the proposal,
/// naming the file and the page. Returns the proposal's code, the PDF and its digest.
async fn attach_reply_pdf(app: &TestApp, font: &[u8]) -> (String, Vec<u8>, String) {
    let c = cast(app).await;
    let (reply, code) = kjj_reply(app).await;
    let pdf = test_files::chinese_pdf(
        font,
        &[
            "青岛市科学技术局关于市政协委员建议的书面答复",
            "将设立独角兽培育计划专项资金三千万元",
        ],
    );
    let digest = hex::encode(Sha256::digest(&pdf));

    // Another agency may not attach to this reply; its own agency may.
    assert_eq!(
        upload(&c.gxj, "response", reply, &[("x.pdf", pdf.clone())])
            .await
            .0,
        403
    );
    let (status, body, location) =
        upload(&c.kjj, "response", reply, &[("书面答复.pdf", pdf.clone())]).await;
    assert_eq!(status, 303, "{body}");
    assert!(location.unwrap().contains("done=attached"));
    let stored = files_of(app, "response", reply).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].sha256, digest);
    assert_eq!(stored[0].kind, "pdf");
    assert_eq!(stored[0].extraction, "pending");
    assert!(
        app.files.path().join(&digest[..2]).join(&digest).is_file(),
        "stored under its hash"
    );

    // The same file again is stored once.
    let (status, _, _) = upload(&c.kjj, "response", reply, &[("再次上传.pdf", pdf.clone())]).await;
    assert_eq!(status, 303);
    assert_eq!(
        std::fs::read_dir(app.files.path().join(&digest[..2]))
            .unwrap()
            .count(),
        1
    );

    let started = std::time::Instant::now();
    let pass = extract(app).await;
    let seconds = started.elapsed().as_secs_f64();
    // The server's own worker runs beside this pass and may take a file first: what counts is
    // that both are extracted (checked below), and the figures are printed when this pass did it.
    if (pass.files, pass.pages) == (2, 4) {
        eprintln!(
            "extracted {} pages in {:.3} s of extraction ({:.1} pages/s; pass with indexing {seconds:.3} s)",
            pass.pages,
            pass.extracting.as_secs_f64(),
            pass.pages as f64 / pass.extracting.as_secs_f64()
        );
    }
    for _ in 0..100 {
        let stored = files_of(app, "response", reply).await;
        if stored.iter().all(|f| f.extraction != "pending") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.wait_for_index().await;
    let pages: i32 = files_of(app, "response", reply)
        .await
        .iter()
        .filter_map(|f| f.page_count)
        .sum();
    assert_eq!(pages, 4, "both PDFs extracted");
    let stored = files_of(app, "response", reply).await;
    assert_eq!(
        stored[0].extraction, "done",
        "{:?}",
        stored[0].extraction_error
    );
    assert_eq!(stored[0].page_count, Some(2));

    // A phrase that is only inside the PDF finds the proposal, naming the file and the page.
    let (status, json) = app.json("/api/v1/search?q=独角兽培育计划").await;
    assert_eq!(status, 200);
    let hit = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["code"] == code.as_str())
        .unwrap_or_else(|| panic!("{code} not found through its reply's PDF: {json}"));
    assert_eq!(hit["in_file"]["name"], "书面答复.pdf");
    assert_eq!(hit["in_file"]["page"], 2);
    let page = app.page("/search?q=独角兽培育计划").await;
    assert!(
        page.contains("见附件") && page.contains("第 2 页"),
        "{page}"
    );
    (code, pdf, digest)
}

#[tokio::test]
async fn a_signed_reply_pdf_is_served_and_its_words_find_the_proposal() {
    let Some(font) =
        test_files::cjk_font("a_signed_reply_pdf_is_served_and_its_words_find_the_proposal")
    else {
        return;
    };
    let app = spawn_app().await;
    let (code, pdf, digest) = attach_reply_pdf(&app, &font).await;

    // The public page lists it; anyone downloads it, byte for byte, with safe headers.
    let shown = app.page(&format!("/proposals/{code}")).await;
    assert!(shown.contains("书面答复.pdf") && shown.contains("PDF 文档"));
    let url = app.url(&format!("/files/{digest}/书面答复.pdf"));
    let anonymous = reqwest::Client::new();
    let response = fetch(&anonymous, &url).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("inline;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%E4%B9%A6%E9%9D%A2%E7%AD%94%E5%A4%8D.pdf"),
        "{disposition}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert_eq!(headers["etag"], format!("\"{digest}\"").as_str());
    let body = response.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&body)), digest);

    let ranged = anonymous
        .get(&url)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes 0-99/{}", pdf.len()).as_str()
    );
    assert_eq!(ranged.bytes().await.unwrap(), &pdf[..100]);
    let cached = anonymous
        .get(&url)
        .header("if-none-match", format!("\"{digest}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    // Another name for the same content leads to its own name.
    let other = fetch(&app.client, &app.url(&format!("/files/{digest}/other.pdf"))).await;
    assert_eq!(
        other.status(),
        307,
        "a temporary redirect: names change with rows"
    );
    assert_eq!(
        fetch(
            &anonymous,
            &app.url(&format!("/files/{}/x.pdf", "0".repeat(64)))
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn meilisearch_finds_a_proposal_through_its_replys_pdf() {
    let test = "meilisearch_finds_a_proposal_through_its_replys_pdf";
    let Some(font) = test_files::cjk_font(test) else {
        return;
    };
    let Some(server) = common::meili::server_for(test).await else {
        return;
    };
    let app = common::spawn_app_with_search(true, Some(server.fresh_index()), |b| b).await;
    attach_reply_pdf(&app, &font).await;
}

#[tokio::test]
async fn a_drafts_files_stay_private_and_removable_until_it_is_submitted() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let draft = c
        .member
        .new_draft(&[("title", "关于社区养老服务的建议"), ("body_md", "正文")])
        .await;
    let docx = test_files::docx(&["社区养老服务站点调研报告", "共走访银发驿站十七处"]);
    let png = test_files::png(1200, 800);
    let (status, body, _) = upload(
        &c.member,
        "proposal",
        draft,
        &[
            ("调研报告.docx", docx.clone()),
            ("现场照片.png", png.clone()),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let stored = files_of(&app, "proposal", draft).await;
    assert_eq!(
        stored.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>(),
        ["docx", "png"]
    );
    extract(&app).await;
    let stored = files_of(&app, "proposal", draft).await;
    assert_eq!(stored[0].extraction, "done");
    let thumb = stored[1]
        .thumbnail_sha256
        .clone()
        .expect("a thumbnail of the photo");

    // Only those who see the draft see its files: not the public, other members or agencies.
    let docx_url = format!("/files/{}/调研报告.docx", stored[0].sha256);
    let other = app.signed_in("other", "member", Some("王雪"), None).await;
    for (who, client, expected) in [
        ("anonymous", &app.anonymous(), 404),
        ("another member", &other, 404),
        ("an agency", &c.kjj, 404),
        ("the author", &c.member, 200),
        ("the secretariat", &c.secretariat, 200),
    ] {
        assert_eq!(client.get(&docx_url).await.0, expected, "{who}");
    }
    let response = fetch(&c.member.client, &format!("{}{docx_url}", c.member.base)).await;
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let thumbnail = format!("/files/{thumb}/现场照片.png.thumbnail.png");
    let (status, _) = c.member.get(&thumbnail).await;
    assert_eq!(status, 200);
    assert_eq!(app.anonymous().get(&thumbnail).await.0, 404);
    // Drafts are not searchable, their files neither.
    let (_, json) = app.json("/api/v1/search?q=银发驿站十七处").await;
    assert_eq!(json["total"], 0, "{json}");

    // The author removes a file while it is a draft; nobody else can.
    let remove = format!("/attachments/{}/delete", stored[1].id);
    assert_eq!(other.post(&remove, &[]).await.0, 403);
    let (status, _, _) = c.member.post(&remove, &[]).await;
    assert_eq!(status, 303);
    assert_eq!(files_of(&app, "proposal", draft).await.len(), 1);
    // Nor may others add files to it.
    assert_eq!(
        upload(&other, "proposal", draft, &[("x.txt", b"x".to_vec())])
            .await
            .0,
        403
    );
    assert_eq!(
        upload(
            &c.secretariat,
            "proposal",
            draft,
            &[("x.txt", b"x".to_vec())]
        )
        .await
        .0,
        403
    );
}

#[tokio::test]
async fn refused_uploads_write_nothing_and_say_why() {
    let app = spawn_app_configured(true, |config| config.max_files_per_item = 2).await;
    let c = cast(&app).await;
    let draft = c
        .member
        .new_draft(&[("title", "附件测试"), ("body_md", "正文")])
        .await;

    let elf = [
        b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".as_slice(),
        &[0u8; 512],
    ]
    .concat();
    let (status, body, _) = upload(&c.member, "proposal", draft, &[("答复.pdf", elf)]).await;
    assert_eq!(status, 422);
    assert!(body.contains("不接受这种文件"), "{body}");

    let big = vec![b'a'; 21 * 1024 * 1024];
    let (status, _, _) = upload(&c.member, "proposal", draft, &[("big.txt", big)]).await;
    assert_eq!(status, 413, "a 21 MB file");

    let bomb = test_files::docx_bomb(210 * 1024 * 1024);
    assert!(
        bomb.len() < 2 * 1024 * 1024,
        "the bomb is small: {}",
        bomb.len()
    );
    let (status, body, _) = upload(&c.member, "proposal", draft, &[("bomb.docx", bomb)]).await;
    assert_eq!(status, 422);
    assert!(body.contains("解压后过大"), "{body}");

    let three: Vec<(&str, Vec<u8>)> = vec![
        ("1.txt", b"one".to_vec()),
        ("2.txt", b"two".to_vec()),
        ("3.txt", b"three".to_vec()),
    ];
    let (status, _, _) = upload(&c.member, "proposal", draft, &three).await;
    assert_eq!(status, 413, "more files than an item may have");
    let (status, _, _) = upload(&c.member, "proposal", draft, &three[..2]).await;
    assert_eq!(status, 303);
    let (status, body, _) = upload(&c.member, "proposal", draft, &three[2..]).await;
    assert_eq!(status, 422, "the limit counts the files already there");
    assert!(body.contains("最多 2 个附件"), "{body}");
    assert_eq!(files_of(&app, "proposal", draft).await.len(), 2);

    // Without the CSRF token first, nothing is read.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"),
        )
        .text("csrf", c.member.csrf().await);
    let response = c
        .member
        .client
        .post(format!("{}/attachments/proposal/{draft}", c.member.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // The refused third file was stored before its row was refused: an orphan, which the
    // garbage collection removes, keeping what rows name.
    let store = tingshang::files::FileStore::new(app.files.path());
    let (removed, _) = tingshang::attachments::service::collect_garbage(
        app.db(),
        &store,
        std::time::Duration::ZERO,
        false,
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(removed, 1);
    for file in files_of(&app, "proposal", draft).await {
        assert!(store.contains(&file.sha256), "a named file is kept");
    }
}

/// The real server is killed (SIGKILL) after it stored an upload's file and while its
/// transaction waits for the database: the file is on disk and no row names it. After the
/// restart nothing names a missing file, the upload can be made again, and `files gc` removes the
/// orphan.
#[tokio::test]
async fn a_crash_between_storing_a_file_and_committing_its_row_leaves_only_an_orphan() {
    use common::process::{cli, start_with, BIN};
    use sea_orm::ConnectionTrait;
    let (url, _dir) = common::fresh_database().await;
    let search_dir = tempfile::tempdir().unwrap();
    let files_dir = tempfile::tempdir().unwrap();
    cli(&url, search_dir.path(), &["seed"]);
    let mut add = std::process::Command::new(BIN)
        .args([
            "user",
            "add",
            "xing",
            "--role",
            "member",
            "--person",
            "邢占军",
            "--password-stdin",
        ])
        .env("TINGSHANG_DATABASE_URL", &url)
        .env("TINGSHANG_SEARCH_DIR", search_dir.path())
        .env("TINGSHANG_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(add.stdin.as_mut().unwrap(), b"pw-xing-0123456789\n").unwrap();
    assert!(add.wait().unwrap().success());
    let env = [("TINGSHANG_FILES_DIR", files_dir.path().to_str().unwrap())];
    let server = start_with(&url, search_dir.path(), &env).await;
    let member = login(&server.base, "xing", "pw-xing-0123456789").await;
    let draft = member
        .new_draft(&[("title", "断电测试建议"), ("body_md", "正文")])
        .await;

    // Another connection takes the write lock (SQLite) or locks the table (PostgreSQL), so the
    // upload's transaction waits after its file was stored.
    let blocker = sea_orm::Database::connect(&url).await.unwrap();
    let txn = sea_orm::TransactionTrait::begin(&blocker).await.unwrap();
    if common::engine() == "postgres" {
        txn.execute_unprepared("LOCK TABLE attachments IN EXCLUSIVE MODE")
            .await
            .unwrap();
    } else {
        // An open write: SQLite holds its one write lock until this transaction ends.
        txn.execute_unprepared("UPDATE content_revision SET revision = revision")
            .await
            .unwrap();
    }
    let orphan = b"stored, then the server died".to_vec();
    let digest = hex::encode(Sha256::digest(&orphan));
    let stored = files_dir.path().join(&digest[..2]).join(&digest);
    let pending = {
        let (client, base) = (member.client.clone(), member.base.clone());
        let csrf = member.csrf().await;
        tokio::spawn(async move {
            let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
                "file",
                reqwest::multipart::Part::bytes(orphan).file_name("orphan.txt"),
            );
            client
                .post(format!("{base}/attachments/proposal/{draft}"))
                .multipart(form)
                .send()
                .await
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !stored.is_file() {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload's file was never stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    common::send_signal(i64::from(server.child.id()), libc::SIGKILL);
    let answer = pending.await.unwrap();
    assert!(
        answer
            .as_ref()
            .map_or(true, |r| !r.status().is_redirection()),
        "the upload was never acknowledged: {answer:?}"
    );
    drop(server);
    txn.rollback().await.unwrap();
    drop(blocker);

    let server = start_with(&url, search_dir.path(), &env).await;
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let rows = attachments::Entity::find().all(&db).await.unwrap();
    assert!(rows.is_empty(), "no row without its commit: {rows:?}");
    assert!(stored.is_file(), "the orphan is still there");
    // The member tries again: stored once, now with its row.
    let member = login(&server.base, "xing", "pw-xing-0123456789").await;
    let (status, body, _) = upload(
        &member,
        "proposal",
        draft,
        &[("again.txt", b"kept".to_vec())],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let out = std::process::Command::new(BIN)
        .args(["files", "gc", "--grace-minutes", "0"])
        .env("TINGSHANG_DATABASE_URL", &url)
        .env("TINGSHANG_FILES_DIR", files_dir.path())
        .env("TINGSHANG_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("已删除 1 个"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stored.is_file(), "the orphan was collected");
    let store = tingshang::files::FileStore::new(files_dir.path());
    for row in attachments::Entity::find().all(&db).await.unwrap() {
        assert!(
            store.contains(&row.sha256),
            "every row names a file that exists"
        );
    }
    drop(server);
}

/// Logs in to a server started as a process, like a browser.
async fn login(base: &str, username: &str, password: &str) -> UserClient {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf = common::login_csrf(client.get(format!("{base}/login"))).await;
    let response = client
        .post(format!("{base}/login"))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/me"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "login as {username}");
    UserClient {
        client,
        base: base.to_owned(),
        username: username.to_owned(),
    }
}

/// The write API takes the same files as the forms, with the same rules, as
/// `multipart/form-data` with a bearer token.
#[tokio::test]
async fn the_api_attaches_files_with_the_same_rules() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    let kjj = common::token_for(&admin, "kjj").await;
    let gxj = common::token_for(&admin, "gxj").await;
    let (reply, code) = kjj_reply(&app).await;
    let url = app.url(&format!("/api/v1/attachments/response/{reply}"));
    let send = |token: Option<String>, name: &'static str, bytes: Vec<u8>| {
        let client = app.client.clone();
        let url = url.clone();
        async move {
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
            let mut request = client.post(url).multipart(form);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                status,
                kind,
                response
                    .json::<serde_json::Value>()
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    assert_eq!(send(None, "a.txt", b"x".to_vec()).await.0, 401);
    assert_eq!(
        send(Some(gxj), "a.txt", b"x".to_vec()).await.0,
        403,
        "another agency's reply"
    );
    let (status, kind, body) = send(
        Some(kjj.clone()),
        "a.pdf",
        b"MZ\x90\0\x03\0\0\0 renamed".to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(kind.as_deref(), Some("application/problem+json"));
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("不接受"),
        "{body}"
    );
    let (status, _, body) = send(
        Some(kjj),
        "办理说明.txt",
        "答复的补充说明:已建立联络机制。".as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let item = &body["items"][0];
    assert_eq!(item["name"], "办理说明.txt");
    assert_eq!(item["kind"], "text");
    extract(&app).await;
    let (status, json) = app.json("/api/v1/search?q=已建立联络机制").await;
    assert_eq!(status, 200);
    assert!(
        json["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["code"] == code.as_str()),
        "{json}"
    );
    let (status, _) = app.get(item["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    drop(c);
}

/// The archive carries the public attachments with their content (checked by digest on import),
/// not a draft's; importing it twice stores nothing twice; a tampered file is refused by line.
#[tokio::test]
async fn the_archive_carries_public_files_and_imports_them_once() {
    use tingshang::opendata::archive;
    let source = spawn_app().await;
    let c = cast(&source).await;
    let (reply, code) = kjj_reply(&source).await;
    let public = "答复附件:工作方案全文。".as_bytes().to_vec();
    let private = "草稿附件:尚未提交。".as_bytes().to_vec();
    assert_eq!(
        upload(
            &c.kjj,
            "response",
            reply,
            &[("工作方案.txt", public.clone())]
        )
        .await
        .0,
        303
    );
    let draft = c
        .member
        .new_draft(&[("title", "草稿"), ("body_md", "正文")])
        .await;
    assert_eq!(
        upload(
            &c.member,
            "proposal",
            draft,
            &[("草稿附件.txt", private.clone())]
        )
        .await
        .0,
        303
    );

    let store = tingshang::files::FileStore::new(source.files.path());
    let records = archive::export_records(source.db()).await.unwrap();
    let text: String = archive::lines_with_files(records, store).collect();
    assert!(text.contains("工作方案.txt"));
    assert!(
        !text.contains("草稿附件.txt"),
        "a draft's file is not public"
    );
    let public_digest = tingshang::files::store::digest(&public);

    let target = common::spawn_app_with(false).await;
    let target_store = tingshang::files::FileStore::new(target.files.path());
    let report = archive::import_with_files(target.db(), &text, &target_store, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.inserted["attachment"], 1);
    assert_eq!(report.inserted["file"], 1);
    assert_eq!(target_store.read(&public_digest).unwrap(), public);
    let again = archive::import_with_files(target.db(), &text, &target_store, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(again.inserted.get("attachment"), None, "{again:?}");
    assert_eq!(again.matched["attachment"], 1);
    assert_eq!(again.matched["file"], 1);
    // The imported reply's file is public on the target's page, and its text gets extracted.
    extract(&target).await;
    assert!(target
        .page(&format!("/proposals/{code}"))
        .await
        .contains("工作方案.txt"));
    let (status, _) = target
        .get(&format!("/files/{public_digest}/工作方案.txt"))
        .await;
    assert_eq!(status, 200);

    // A file whose content does not match its digest is refused with its line; nothing written.
    let tampered_line = text
        .lines()
        .position(|l| l.contains("\"type\":\"file\""))
        .unwrap();
    let tampered: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let l = if i == tampered_line {
                l.replace(&public_digest, &"ab".repeat(32))
            } else {
                l.to_owned()
            };
            format!("{l}\n")
        })
        .collect();
    let fresh = common::spawn_app_with(false).await;
    let fresh_store = tingshang::files::FileStore::new(fresh.files.path());
    match archive::import_with_files(fresh.db(), &tampered, &fresh_store, &|_, _| {}).await {
        Err(archive::ImportError::Invalid(errors)) => {
            assert!(
                errors.iter().any(|e| e.line == tampered_line + 1),
                "{errors:?}"
            );
        }
        other => panic!("a tampered file was not refused: {other:?}"),
    }
    assert_eq!(
        attachments::Entity::find()
            .all(fresh.db())
            .await
            .unwrap()
            .len(),
        0
    );
    // Without a store to put them in, an archive with files is refused rather than half read.
    assert!(matches!(
        archive::import(fresh.db(), &text, &|_, _| {}).await,
        Err(archive::ImportError::Invalid(_))
    ));
}

/// The evidence behind a reported actual (its agency's) and the original of a source document
/// (the secretariat's) are attached the same way, shown on their pages and searchable.
#[tokio::test]
async fn reported_actuals_and_source_documents_take_files_too() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let report = entity::commitment_reports::Entity::find()
        .find_also_related(entity::commitments::Entity)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .find_map(|(r, commitment)| {
            let commitment = commitment?;
            commitment.proposal_id.map(|p| (r, commitment, p))
        })
        .expect("the seed has a reported actual of a proposal's commitment");
    let (report, commitment, proposal_id) = report;
    let code = proposals::Entity::find_by_id(proposal_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    let owner = entity::agencies::Entity::find_by_id(commitment.agency_id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .short_name;
    let (owning, other) = if owner == "市科技局" {
        (&c.kjj, &c.gxj)
    } else {
        (&c.gxj, &c.kjj)
    };
    let evidence = "佐证材料:年度认定名单共计九千七百七十七家"
        .as_bytes()
        .to_vec();
    assert_eq!(
        upload(
            other,
            "report",
            report.id,
            &[("名单.txt", evidence.clone())]
        )
        .await
        .0,
        403,
        "another agency's figure"
    );
    let (status, body, _) = upload(owning, "report", report.id, &[("名单.txt", evidence)]).await;
    assert_eq!(status, 303, "{body}");

    let document = entity::documents::Entity::find()
        .filter(entity::documents::Column::Published.eq(true))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let original = test_files::docx(&["原件扫描说明:本文件由市政协秘书处存档"]);
    assert_eq!(
        upload(
            &c.kjj,
            "document",
            document.id,
            &[("原件.docx", original.clone())]
        )
        .await
        .0,
        403,
        "source documents are the secretariat's"
    );
    let (status, body, _) = upload(
        &c.secretariat,
        "document",
        document.id,
        &[("原件.docx", original)],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    extract(&app).await;

    assert!(app
        .page(&format!("/proposals/{code}"))
        .await
        .contains("名单.txt"));
    assert!(app
        .page(&format!("/documents/{}", document.id))
        .await
        .contains("原件.docx"));
    let (_, json) = app.json("/api/v1/search?q=九千七百七十七家").await;
    let hit = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["code"] == code.as_str())
        .unwrap_or_else(|| panic!("{code} not found through its report's evidence: {json}"));
    assert_eq!(hit["in_file"]["name"], "名单.txt");
    let (_, json) = app.json("/api/v1/search?q=秘书处存档").await;
    let hit = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "document")
        .unwrap_or_else(|| panic!("the document not found through its original: {json}"));
    assert_eq!(hit["in_file"]["name"], "原件.docx");
}

/// A written reply and its signed copy in one API request (`multipart/form-data` with a `json`
/// part): both are written, or neither.
#[tokio::test]
async fn a_reply_and_its_files_arrive_in_one_request_or_not_at_all() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    let token = common::token_for(&admin, "kjj").await;
    let kjj = app.agency_id("市科技局").await.to_string();
    let id = c
        .member
        .new_draft(&[
            ("title", "关于科创金融的建议"),
            ("body_md", "建议内容。"),
            ("topics", "科技创新"),
        ])
        .await;
    common::assert_ok("submit", c.member.act(id, "submit", &[]).await);
    common::assert_ok("accept", c.secretariat.act(id, "accept", &[]).await);
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(90)).to_string();
    common::assert_ok(
        "assign",
        c.secretariat
            .act(
                id,
                "assign",
                &[("lead", kjj.as_str()), ("due_on", due.as_str())],
            )
            .await,
    );
    let code = proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    let url = app.url(&format!("/api/v1/proposals/{code}/responses"));
    let reply = serde_json::json!({
        "kind": "written", "body_md": "经研究,现答复如下。", "doc_number": "青科函〔2026〕21号", "grade": "A"
    })
    .to_string();
    let send = |files: Vec<(&'static str, Vec<u8>)>| {
        let (client, url, token, reply) = (
            app.client.clone(),
            url.clone(),
            token.clone(),
            reply.clone(),
        );
        async move {
            let mut form = reqwest::multipart::Form::new().text("json", reply);
            for (name, bytes) in files {
                form = form.part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes).file_name(name),
                );
            }
            let response = client
                .post(url)
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let replies = || async {
        responses::Entity::find()
            .inner_join(response_proposals::Entity)
            .filter(response_proposals::Column::ProposalId.eq(id))
            .all(app.db())
            .await
            .unwrap()
    };

    // A bad file refuses the reply too.
    let (status, body) = send(vec![(
        "签发件.pdf",
        b"\x7fELF\x02\x01\x01\0 not a pdf".to_vec(),
    )])
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(replies().await.is_empty(), "no reply without its files");

    let (status, body) = send(vec![(
        "签发件.txt",
        "青岛市科学技术局(盖章)".as_bytes().to_vec(),
    )])
    .await;
    assert_eq!(status, 201, "{body}");
    let written = replies().await;
    assert_eq!(written.len(), 1);
    let files = files_of(&app, "response", written[0].id).await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "签发件.txt");
    // The JSON body alone still works as before (here: refused, the reply is already given).
    let (status, _) = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::from_str::<serde_json::Value>(&reply).unwrap())
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 409);
}

/// The secretariat's page for the source documents' files: only for the secretariat, with a
/// form per document that adds files like any other.
#[tokio::test]
async fn the_secretariat_keeps_source_documents_files_on_its_own_page() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    assert_eq!(c.kjj.get("/admin/documents").await.0, 403);
    assert_eq!(c.member.get("/admin/documents").await.0, 403);
    let (status, page) = c.secretariat.get("/admin/documents").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("action=\"/attachments/document/"),
        "a form per document"
    );
    let document = entity::documents::Entity::find()
        .filter(entity::documents::Column::Published.eq(true))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let (status, _, location) = upload(
        &c.secretariat,
        "document",
        document.id,
        &[("扫描件说明.txt", "原件存于秘书处档案室".as_bytes().to_vec())],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some(format!("/admin/documents?done=attached#document-{}", document.id).as_str())
    );
    assert!(c
        .secretariat
        .get("/admin/documents")
        .await
        .1
        .contains("扫描件说明.txt"));
}
