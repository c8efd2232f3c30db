//! Internal data stays out of every public output — pages, the JSON API, feeds, exports and search
//! documents: returned assignments and their reasons, and sessions that are not published. Return
//! reasons are shown on the working page only to the secretariat and the agencies concerned.
mod common;

use common::{assert_ok, cast, spawn_app, TestApp};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};

/// Only in the reason 市工信局 gives for returning its part.
const REASON: &str = "RETURNZQXJ非本单位职责范围";

/// A proposal assigned to 市科技局 (lead) and 市工信局 (co), whose co-handling part 市工信局 has
/// returned with [`REASON`]; returns its id and code.
async fn returned_by_co(app: &TestApp, c: &common::Cast) -> (i32, String) {
    let id = c
        .member
        .new_draft(&[("title", "退回交办可见性测试"), ("body_md", "正文")])
        .await;
    assert_ok("submit", c.member.act(id, "submit", &[]).await);
    assert_ok("accept", c.secretariat.act(id, "accept", &[]).await);
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(60)).to_string();
    let lead = app.agency_id("市科技局").await.to_string();
    let co = app.agency_id("市工信局").await.to_string();
    assert_ok(
        "assign",
        c.secretariat
            .act(
                id,
                "assign",
                &[("lead", &lead), ("co", &co), ("due_on", &due)],
            )
            .await,
    );
    assert_ok(
        "return",
        c.gxj.act(id, "return", &[("reason", REASON)]).await,
    );
    let code = entity::proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    (id, code)
}

/// The table under a page's `<h2>{heading}</h2>`, or "" when the page has none.
fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let marker = format!("<h2>{heading}</h2>");
    page.find(&marker).map_or("", |start| {
        let rest = &page[start..];
        &rest[..rest.find("</table>").unwrap_or(rest.len())]
    })
}

#[tokio::test]
async fn a_returned_assignment_and_its_reason_are_in_no_public_output() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let (id, code) = returned_by_co(&app, &c).await;
    let gxj = app.agency_id("市工信局").await;

    let (status, archive) = app.get("/api/v1/export/archive.jsonl").await;
    assert_eq!(status, 200);
    assert!(
        !archive.contains(REASON),
        "the archive export holds the reason"
    );
    let returned: Vec<&str> = archive
        .lines()
        .filter(|l| l.contains("\"type\":\"assignment\"") && l.contains("\"returned\""))
        .collect();
    assert!(
        returned.is_empty(),
        "returned assignments exported: {returned:?}"
    );

    let (status, detail) = app.json(&format!("/api/v1/proposals/{code}")).await;
    assert_eq!(status, 200);
    let assignments = detail["assignments"].as_array().unwrap();
    assert_eq!(
        assignments.len(),
        1,
        "only the lead's part: {assignments:?}"
    );
    assert_eq!(assignments[0]["agency"], "市科技局");
    assert_eq!(assignments[0]["state"], "active");
    assert!(!detail.to_string().contains(REASON));

    let page = app.page(&format!("/proposals/{code}")).await;
    let handling = section(&page, "承办单位");
    assert!(handling.contains("市科技局"), "{handling}");
    assert!(
        !handling.contains("市工信局"),
        "the returning agency is listed as 承办单位: {handling}"
    );
    assert!(!page.contains(REASON));

    // The returning agency's page does not list the proposal among those it handles.
    let agency_page = app.page(&format!("/agencies/{gxj}")).await;
    assert!(
        !agency_page.contains(&code),
        "市工信局's page lists the proposal it returned"
    );

    for path in [
        format!("/proposals/{code}/feed.atom"),
        "/feeds/proposals.atom".to_owned(),
        "/api/v1/export/proposals.csv".to_owned(),
        "/api/v1/export/proposals.json".to_owned(),
    ] {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains(REASON), "{path} holds the reason");
    }

    let docs = tingshang::search::documents::build_proposals(app.db(), &[id])
        .await
        .unwrap();
    assert_eq!(
        docs[0].agencies,
        vec!["市科技局".to_owned()],
        "search files it under 市工信局"
    );
    assert!(!docs[0].body.contains(REASON));
}

#[tokio::test]
async fn return_reasons_are_for_the_secretariat_and_the_agencies_concerned() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let other_member = app.signed_in("wangxue", "member", Some("王雪"), None).await;
    let other_agency = app
        .signed_in("bank", "agency_staff", None, Some("青岛银行"))
        .await;
    let (id, _) = returned_by_co(&app, &c).await;
    let path = format!("/work/proposals/{id}");

    for (who, client) in [
        ("secretariat", &c.secretariat),
        ("lead agency", &c.kjj),
        ("returning agency", &c.gxj),
    ] {
        let (status, page) = client.get(&path).await;
        assert_eq!(status, 200, "{who}");
        assert!(page.contains(REASON), "{who} must see the reason");
    }
    for (who, client) in [
        ("author", &c.member),
        ("other member", &other_member),
        ("other agency", &other_agency),
    ] {
        let (status, page) = client.get(&path).await;
        assert_eq!(status, 200, "{who}");
        assert!(
            page.contains("已退回"),
            "{who} still sees that it was returned"
        );
        assert!(!page.contains(REASON), "{who} sees the return reason");
    }
}

/// Only in the topic of the unpublished session.
const TOPIC: &str = "zqxjhidden 尚未公开的协商议题";

#[tokio::test]
async fn an_unpublished_session_is_never_offered_and_never_shown() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let (status, _, _) = c
        .secretariat
        .post(
            "/admin/sessions",
            &[
                ("number", "99"),
                ("topic", TOPIC),
                ("held_on", "2026-11-20"),
                ("organisers", "市政协"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let session = {
        use sea_orm::{ColumnTrait, QueryFilter};
        entity::sessions::Entity::find()
            .filter(entity::sessions::Column::Number.eq(99))
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
    };
    assert!(!session.published);

    // Not offered on the draft form, and refused when posted anyway.
    let (status, form) = c.member.get("/me/proposals/new").await;
    assert_eq!(status, 200);
    assert!(!form.contains("zqxjhidden"), "the draft form offers it");
    let (status, _, _) = c
        .member
        .post(
            "/me/proposals/new",
            &[
                ("intent", "save"),
                ("title", "关联未公开协商活动"),
                ("body_md", "正文"),
                ("session_number", "99"),
            ],
        )
        .await;
    assert_eq!(status, 400, "a draft may not name an unpublished session");
    let linked = {
        use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
        entity::proposals::Entity::find()
            .filter(entity::proposals::Column::SessionId.eq(session.id))
            .count(app.db())
            .await
            .unwrap()
    };
    assert_eq!(linked, 0);

    // A public proposal linked to it some other way (an import, an older version) shows nothing
    // of it.
    let id = c
        .member
        .new_draft(&[("title", "未公开协商活动的关联建议"), ("body_md", "正文")])
        .await;
    assert_ok("submit", c.member.act(id, "submit", &[]).await);
    assert_ok("accept", c.secretariat.act(id, "accept", &[]).await);
    let proposal = entity::proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let code = proposal.code.clone();
    let mut linked = proposal.into_active_model();
    linked.session_id = Set(Some(session.id));
    linked.update(app.db()).await.unwrap();
    tingshang::search::outbox::enqueue(app.db(), tingshang::search::documents::PROPOSAL, id)
        .await
        .unwrap();
    tingshang::revision::bump(app.db()).await.unwrap();

    let page = app.page(&format!("/proposals/{code}")).await;
    assert!(
        !page.contains("zqxjhidden"),
        "the public page shows the topic"
    );
    assert!(
        !page.contains("第99期"),
        "the public page names the session"
    );

    let (status, detail) = app.json(&format!("/api/v1/proposals/{code}")).await;
    assert_eq!(status, 200);
    assert!(detail["session_number"].is_null(), "{detail}");
    let (_, list) = app.json("/api/v1/proposals?per_page=200").await;
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == code.as_str())
        .expect("listed");
    assert!(item["session_number"].is_null(), "{item}");

    for path in [
        "/feeds/proposals.atom",
        "/api/v1/export/archive.jsonl",
        "/api/v1/export/proposals.json",
    ] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("zqxjhidden"), "{path} shows the topic");
    }
    let (_, csv) = app.get("/api/v1/export/proposals.csv").await;
    let row = csv
        .lines()
        .find(|l| l.starts_with(&code))
        .expect("exported");
    assert!(!row.contains(",99,"), "the CSV names the session: {row}");

    let docs = tingshang::search::documents::build_proposals(app.db(), &[id])
        .await
        .unwrap();
    assert_eq!(docs.len(), 1);
    assert!(!docs[0].body.contains("zqxjhidden"), "{}", docs[0].body);
    assert_eq!(docs[0].session, None);
    app.wait_for_index().await;
    let (status, hits) = app.json("/api/v1/search?q=zqxjhidden").await;
    assert_eq!(status, 200);
    assert_eq!(hits["total"], 0, "search finds it by the topic: {hits}");
}
