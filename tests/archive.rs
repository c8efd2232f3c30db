//! The public archive over HTTP: pages show the seeded record, bad ids are 404, Markdown is safe.
mod common;

use chrono::Utc;
use common::spawn_app;
use entity::proposals;
use sea_orm::{ActiveValue::Set, EntityTrait};

#[tokio::test]
async fn home_lists_session_27_and_recent_responses() {
    let app = spawn_app().await;
    let home = app.page("/").await;
    assert!(home.contains("第27期"), "home must list 第27期");
    assert!(home.contains("提升科技创新能力,打造国际化创新型城市"));
    assert!(home.contains("lang=\"zh-CN\""));
    assert!(
        home.contains("市科技局"),
        "recent responses name the agency"
    );
}

#[tokio::test]
async fn session_page_shows_members_their_proposals_and_the_responses() {
    let app = spawn_app().await;
    let page = app.page("/sessions/27").await;
    for member in ["邢占军", "王雪", "秦军"] {
        assert!(
            page.contains(member),
            "{member} missing from the session page"
        );
    }
    for title in [
        "出台专项政策,加快高校概念验证中心建设",
        "加快培育、壮大科技型企业,搭建高新技术企业梯次培育体系",
        "突出海洋特色和上合跨境技术转移优势,加快建设、完善青岛科技大市场",
    ] {
        assert!(page.contains(title), "proposal {title} missing");
    }
    assert!(page.contains("刘学辉"));
    assert!(page.contains("市科技局党组成员、副局长"));
    assert!(
        page.contains("沃土计划"),
        "刘学辉's on-the-spot response is shown"
    );
    assert!(page.contains("青岛银行普惠金融部的产品经理"));
    for organiser in [
        "市政协委员联络活动工作室",
        "市12345政务服务便民热线",
        "青岛日报社",
    ] {
        assert!(page.contains(organiser));
    }
    assert!(page.contains("2023年9月28日"));
    // The follow-up summary is computed from the items and links to them.
    assert!(page.contains("跟踪办理概况"));
    assert!(
        page.contains("href=\"/proposals?session=27&group=open\"><b>11</b>"),
        "11 proposals in handling"
    );
    assert!(
        page.contains("已达成 2,未达成 0,待定 5"),
        "commitments met / missed / pending"
    );
    let open = app.page("/proposals?session=27&group=open").await;
    assert!(open.contains("建议(11 条)") && open.contains("办理中"));
    let none = app.page("/proposals?session=27&group=overdue").await;
    assert!(none.contains("建议(0 条)"));
}

#[tokio::test]
async fn large_public_pages_go_gzipped_to_clients_that_accept_it() {
    use std::io::Read;
    let app = spawn_app().await;
    let plain = app.page("/sessions/27").await;
    assert!(
        plain.len() >= 16 * 1024,
        "the session page is large: {}",
        plain.len()
    );
    let client = reqwest::Client::new();
    for _ in 0..2 {
        // The first request renders the page, the second is served from the page cache.
        let response = client
            .get(app.url("/sessions/27"))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], "gzip");
        assert_eq!(response.headers()["vary"], "accept-encoding");
        let body = response.bytes().await.unwrap();
        assert!(
            body.len() * 3 < plain.len(),
            "compressed: {} bytes",
            body.len()
        );
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut inflated)
            .unwrap();
        assert_eq!(inflated, plain);
    }
    // Without Accept-Encoding the cached page comes inflated, the same as the first time.
    assert_eq!(app.page("/sessions/27").await, plain);
}

#[tokio::test]
async fn a_session_page_shows_the_opening_of_a_written_reply_and_links_to_its_full_text() {
    let app = spawn_app().await;
    let body = format!(
        "市科技局书面答复:关于概念验证中心建设,{}我局将于年内出台专项政策。",
        "已开展专题调研并征求高校意见,".repeat(8)
    );
    let now = Utc::now().fixed_offset();
    let agency_id = entity::agencies::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.short_name == "市科技局")
        .unwrap()
        .id;
    let proposal = proposals::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.code == "TS-2023-027-01")
        .unwrap();
    let response = entity::responses::Entity::insert(entity::responses::ActiveModel {
        created_at: Set(now),
        updated_at: Set(now),
        agency_id: Set(agency_id),
        kind: Set("written".into()),
        body_md: Set(body.clone()),
        doc_number: Set(Some("青科函〔2024〕1号".into())),
        published: Set(true),
        responded_on: Set(chrono::NaiveDate::from_ymd_opt(2024, 1, 5)),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap()
    .last_insert_id;
    entity::response_proposals::Entity::insert(entity::response_proposals::ActiveModel {
        response_id: Set(response),
        proposal_id: Set(proposal.id),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap();
    tingshang::revision::bump(app.db()).await.unwrap();

    let session = app.page("/sessions/27").await;
    let link = format!("href=\"/proposals/TS-2023-027-01#response-{response}\">阅读全文</a>");
    assert!(session.contains(&link), "the reply links to its full text");
    assert!(
        session.contains("市科技局书面答复:关于概念验证中心建设"),
        "its opening is shown"
    );
    assert!(
        !session.contains("我局将于年内出台专项政策"),
        "not the whole text"
    );
    assert!(
        session.contains("沃土计划"),
        "on-the-spot responses stay whole"
    );
    let page = app.page("/proposals/TS-2023-027-01").await;
    assert!(page.contains(&format!("id=\"response-{response}\"")));
    assert!(
        page.contains("我局将于年内出台专项政策"),
        "the full text is on the proposal page"
    );
}

#[tokio::test]
async fn proposal_page_shows_commitment_target_and_reported_actual() {
    let app = spawn_app().await;
    let page = app.page("/proposals/TS-2023-027-06").await;
    assert!(page.contains("王雪"));
    assert!(page.contains("争取2024年底前,全市科技型中小企业达到9500家"));
    assert!(
        page.contains("9,500") && page.contains("9,777"),
        "target and actual shown"
    );
    assert!(page.contains("超额完成"), "9777 ≥ 9500 is exceeded");
    assert!(
        page.contains("暂无报告"),
        "the 沃土计划 commitment has no reported actual"
    );
    assert!(page.contains("class=\"progress"), "a progress bar is drawn");
    assert!(page.contains("办理过程") && page.contains("提出建议") && page.contains("现场回应"));
    assert!(
        page.contains("2024年"),
        "a year-precision follow-up shows as a year"
    );
}

#[tokio::test]
async fn directory_and_document_pages_render() {
    let app = spawn_app().await;
    let agencies = app.page("/agencies").await;
    assert!(agencies.contains("青岛市科学技术局") && agencies.contains("青岛市工业和信息化局"));
    // Counts per row come from the database (市科技局: 3 responses, 10 commitments).
    assert!(
        agencies.contains("data-label=\"回应\">3<") && agencies.contains("data-label=\"承诺\">10<")
    );
    assert!(app
        .page("/sessions")
        .await
        .contains("data-label=\"建议\">11<"));
    let documents = app.page("/documents").await;

    assert!(documents.contains("关于进一步优化提升科技领域营商环境的若干措施"));
    assert!(documents.contains("2023年11月28日"));
    let list = app
        .page("/proposals?status=accepted&channel=session&page=1")
        .await;
    assert!(list.contains("TS-2023-027-11"));
    // Unknown filter values are ignored rather than failing.
    app.page("/proposals?status=%27%20OR%201=1--&channel=x&page=-5")
        .await;
}

#[tokio::test]
async fn unknown_or_malformed_ids_give_the_chinese_404_page() {
    let app = spawn_app().await;
    let long = "9".repeat(300);
    for path in [
        "/sessions/999",
        "/sessions/abc",
        "/sessions/0",
        "/sessions/-1",
        "/proposals/TS-0000-000-00",
        "/proposals/%00",
        &format!("/proposals/{long}"),
        "/agencies/99999",
        "/agencies/1.5",
        "/people/x",
        "/documents/99999999999999",
        "/no/such/page",
        "/static/../../etc/passwd",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            body.contains("页面不存在"),
            "{path} must show the Chinese 404 page"
        );
        assert!(body.contains("请求编号"), "{path} shows a request id");
    }
}

#[tokio::test]
async fn markdown_bodies_are_sanitised_and_unpublished_proposals_hidden() {
    let app = spawn_app().await;
    let now = Utc::now().fixed_offset();
    let hostile = "正文\n\n<script>alert('x')</script>\n\n[点击](javascript:alert(1))\n\n<img src=x onerror=alert(2)>";
    for (code, published) in [("TS-TEST-001", true), ("TS-TEST-002", false)] {
        proposals::Entity::insert(proposals::ActiveModel {
            code: Set(code.into()),
            channel: Set("direct".into()),
            title: Set("<b>标题</b>测试".into()),
            body_md: Set(hostile.into()),
            topics: Set("[]".into()),
            status: Set("accepted".into()),
            published: Set(published),
            supervised: Set(false),
            version: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap();
    }
    let page = app.page("/proposals/TS-TEST-001").await;
    assert!(page.contains("正文"));
    assert!(!page.contains("<script>alert"), "script tag survived");
    assert!(!page.contains("javascript:"), "javascript: link survived");
    assert!(!page.contains("onerror"), "event handler survived");
    assert!(
        page.contains("&lt;b&gt;标题&lt;") && !page.contains("<b>标题"),
        "titles are escaped, not rendered"
    );
    let (status, _) = app.get("/proposals/TS-TEST-002").await;
    assert_eq!(status, 404, "unpublished proposals are not public");
}

#[tokio::test]
async fn stylesheet_is_served_with_cache_headers() {
    let app = spawn_app().await;
    let home = app.page("/").await;
    let href = home
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#x2f;", "/");
    let response = app.client.get(app.url(&href)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(response.text().await.unwrap().contains("--brand"));
}
