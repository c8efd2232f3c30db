//! Attachments: uploaded through the forms, stored once by content, served under the visibility
//! of what they belong to, their text searchable (with the file and page named), and refused
//! when they are not what they claim, too large or a zip bomb.
mod common;
#[path = "common/files.rs"]
mod test_files;

use common::{cast, spawn_app, spawn_app_configured, TestApp, UserClient};
use entity::{attachments, proposals, response_proposals, responses};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};

/// Uploads `files` (name, bytes) to `/attachments/{kind}/{id}` as a browser does: the CSRF token
/// first, then the files. Returns status, body and Location.
async fn upload(
    client: &UserClient,
    kind: &str,
    id: i32,
    files: &[(&str, Vec<u8>)],
) -> (u16, String, Option<String>) {
    let csrf = client.csrf().await;
    let mut form = reqwest::multipart::Form::new().text("csrf", csrf);
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    let response = client
        .client
        .post(format!("{}/attachments/{kind}/{id}", client.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap_or_default(), location)
}

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

#[tokio::test]
async fn a_signed_reply_pdf_is_served_and_its_words_find_the_proposal() {
    let Some(font) =
        test_files::cjk_font("a_signed_reply_pdf_is_served_and_its_words_find_the_proposal")
    else {
        return;
    };
    let app = spawn_app().await;
    let c = cast(&app).await;
    let (reply, code) = kjj_reply(&app).await;
    let pdf = test_files::chinese_pdf(
        &font,
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
    assert!(location.unwrap().contains("notice=attached"));
    let stored = files_of(&app, "response", reply).await;
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
    let pass = extract(&app).await;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!((pass.files, pass.pages), (2, 4));
    eprintln!(
        "extracted {} pages in {:.3} s of extraction ({:.1} pages/s; pass with indexing {seconds:.3} s)",
        pass.pages,
        pass.extracting.as_secs_f64(),
        pass.pages as f64 / pass.extracting.as_secs_f64()
    );
    let stored = files_of(&app, "response", reply).await;
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
    assert_eq!(other.status(), 308);
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
