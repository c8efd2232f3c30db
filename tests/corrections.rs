//! Corrections of published text: nothing published is overwritten without a version that says
//! who changed it, when and why, shown in public as "已修改" with the change, and in the API.
mod common;

use common::{cast, input_value, spawn_app, TestApp, UserClient};
use entity::{
    commitments, correction_fields, corrections, proposals, response_proposals, responses,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// A published reply of 市科技局 and the code of a public proposal it answers.
async fn kjj_reply(app: &TestApp) -> (responses::Model, String) {
    let kjj = app.agency_id("市科技局").await;
    let reply = responses::Entity::find()
        .filter(responses::Column::AgencyId.eq(kjj))
        .filter(responses::Column::Published.eq(true))
        .order_by_asc(responses::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .expect("the seed has a published reply of 市科技局");
    let proposal = proposals::Entity::find()
        .inner_join(response_proposals::Entity)
        .filter(response_proposals::Column::ResponseId.eq(reply.id))
        .filter(tingshang::visibility::public_proposals())
        .order_by_asc(proposals::Column::Code)
        .one(app.db())
        .await
        .unwrap()
        .expect("it answers a public proposal");
    (reply, proposal.code)
}

/// Opens the correction form (as a browser does, taking its `base`) and posts `fields` with it.
async fn correct(
    client: &UserClient,
    form: &str,
    fields: &[(&str, &str)],
) -> (u16, String, Option<String>) {
    let (status, page) = client.get(form).await;
    assert_eq!(status, 200, "{} cannot open {form}", client.username);
    let base = input_value(&page, "base").expect("the form carries its base");
    let mut all = vec![("base", base.as_str())];
    all.extend_from_slice(fields);
    client.post(form, &all).await
}

async fn secretariat_actor(app: &TestApp) -> tingshang::accounts::Actor {
    let mishu = entity::users::Entity::find()
        .filter(entity::users::Column::Username.eq("mishu"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    tingshang::accounts::Actor {
        user_id: mishu.id,
        username: "mishu".into(),
        display_name: "秘书处".into(),
        role: tingshang::accounts::Role::Secretariat,
        person_id: None,
        agency_id: None,
    }
}

async fn body_of(app: &TestApp, id: i32) -> String {
    responses::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .body_md
}

#[tokio::test]
async fn a_corrected_reply_keeps_its_first_version_and_says_so_in_public() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let (reply, code) = kjj_reply(&app).await;
    let form = format!("/corrections/response/{}", reply.id);
    let before = reply.body_md.clone();
    let after = format!("{before}\n\n(本答复于公开后补充:相关数据以市统计局公布为准。)");

    // Only the replying agency and the secretariat may correct it.
    assert_eq!(c.kjj.get(&form).await.0, 200);
    assert_eq!(c.secretariat.get(&form).await.0, 200);
    assert_eq!(c.gxj.get(&form).await.0, 403, "another agency");
    assert_eq!(c.member.get(&form).await.0, 403, "a member");
    let (status, _) = app.anonymous().get(&form).await;
    assert!(status == 303 || status == 401, "anonymous: {status}");
    let (status, _, _) = c
        .gxj
        .post(&form, &[("body_md", "改写"), ("reason", "试试")])
        .await;
    assert_eq!(status, 403);
    assert_eq!(body_of(&app, reply.id).await, before);

    // Refused without a change, without a reason, or with a reason naming a person's phone.
    let (status, page, _) =
        correct(&c.kjj, &form, &[("body_md", &before), ("reason", "核对")]).await;
    assert_eq!(status, 400);
    assert!(page.contains("没有需要更正"), "{page}");
    let (status, page, _) = correct(&c.kjj, &form, &[("body_md", &after), ("reason", " ")]).await;
    assert_eq!(status, 400);
    assert!(page.contains("修改原因不能为空"), "{page}");
    assert!(
        page.contains("相关数据以市统计局公布为准"),
        "the typed text is kept"
    );
    let (status, _, _) = correct(
        &c.kjj,
        &form,
        &[("body_md", &after), ("reason", "经办人电话13912345678")],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body_of(&app, reply.id).await, before, "nothing was written");
    assert_eq!(
        corrections::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .len(),
        0
    );

    let reason = "补充数据口径说明";
    let (status, _, location) =
        correct(&c.kjj, &form, &[("body_md", &after), ("reason", reason)]).await;
    assert_eq!(status, 303);
    let history = format!("/proposals/{code}/history");
    assert_eq!(location.as_deref(), Some(history.as_str()));
    assert_eq!(body_of(&app, reply.id).await, after);

    // The version: who, when, why, before and after.
    let kept = corrections::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].target_kind, "response");
    assert_eq!(kept[0].target_id, reply.id);
    assert_eq!(kept[0].reason, reason);
    assert!(
        kept[0].editor_label.starts_with("市科技局"),
        "{}",
        kept[0].editor_label
    );
    let fields = correction_fields::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(fields.len(), 1, "only the body changed");
    assert_eq!(
        (fields[0].before.as_str(), fields[0].after.as_str()),
        (before.as_str(), after.as_str())
    );

    // The public page says so and links to the history, which shows the change.
    let page = app.page(&format!("/proposals/{code}")).await;
    assert!(page.contains("相关数据以市统计局公布为准"));
    assert!(
        page.contains("已修改") && page.contains(&history.replace('/', "&#x2f;")),
        "public page marks it and links to the history: {page}"
    );
    let shown = app.page(&history).await;
    assert!(shown.contains(reason));
    assert!(shown.contains("<ins>"), "the added text is marked");
    assert!(shown.contains("市科技局"));

    // The API gives the same history.
    let (status, json) = app.json(&format!("/api/v1/proposals/{code}/history")).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["total"], 1);
    let item = &json["items"][0];
    assert_eq!(item["kind"], "response");
    assert_eq!(item["reason"], reason);
    assert_eq!(item["fields"][0]["field"], "body_md");
    assert_eq!(item["fields"][0]["before"], before.as_str());
    assert_eq!(item["fields"][0]["after"], after.as_str());
    // The proposals feed dates the entry by the correction: its readers see it.
    let feed = app.page("/feeds/proposals.atom").await;
    let doc = roxmltree::Document::parse(&feed).unwrap();
    let entry = doc
        .descendants()
        .filter(|n| n.has_tag_name("entry"))
        .find(|e| {
            e.descendants()
                .any(|n| n.has_tag_name("id") && n.text().is_some_and(|t| t.ends_with(&code)))
        })
        .expect("the proposal's entry");
    let updated = entry
        .descendants()
        .find(|n| n.has_tag_name("updated"))
        .and_then(|n| n.text())
        .unwrap();
    let updated = chrono::DateTime::parse_from_rfc3339(updated).unwrap();
    assert!(
        updated >= kept[0].made_at - chrono::Duration::seconds(1),
        "entry updated {updated}, corrected {}",
        kept[0].made_at
    );
    let (_, detail) = app.json(&format!("/api/v1/proposals/{code}")).await;
    assert_eq!(detail["corrected"], true);
    assert_eq!(
        detail["history_url"],
        format!("/api/v1/proposals/{code}/history")
    );
    let (_, later) = app
        .json(&format!(
            "/api/v1/proposals/{code}/history?updated_since=2999-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(
        later["total"], 0,
        "updated_since keeps only later corrections"
    );
}

#[tokio::test]
async fn a_revised_target_shows_the_old_and_new_figures_and_only_its_agency_may_revise_it() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let target = commitments::Entity::find()
        .filter(commitments::Column::TargetValue.eq(9500.0))
        .one(app.db())
        .await
        .unwrap()
        .expect("the seed's commitment of 9500 科技型中小企业");
    let code = proposals::Entity::find_by_id(target.proposal_id.unwrap())
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    let form = format!("/corrections/commitment/{}", target.id);
    let owner = entity::agencies::Entity::find_by_id(target.agency_id)
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
    assert_eq!(other.get(&form).await.0, 403, "another agency's commitment");

    let (status, page, _) = correct(
        owning,
        &form,
        &[("target_value", "九千"), ("reason", "笔误")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("目标值须为"), "{page}");
    let (status, _, _) = correct(
        owning,
        &form,
        &[
            ("target_value", "9800"),
            ("target_date", "2024/12/31"),
            ("reason", "按2024年工作方案修订目标"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let now = commitments::Entity::find_by_id(target.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.target_value, 9800.0);
    assert_eq!(
        now.target_date.map(|d| d.to_string()).as_deref(),
        Some("2024-12-31")
    );

    let shown = app.page(&format!("/proposals/{code}/history")).await;
    assert!(shown.contains("按2024年工作方案修订目标"));
    assert!(
        shown.contains("<del>5</del>") && shown.contains("<ins>8</ins>"),
        "{shown}"
    );
    let page = app.page(&format!("/proposals/{code}")).await;
    assert!(page.contains("9,800"));
    assert!(page.contains("已修改"));
}

#[tokio::test]
async fn the_secretariat_fixes_a_title_and_search_finds_the_new_one() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let p = proposals::Entity::find()
        .filter(tingshang::visibility::public_proposals())
        .order_by_asc(proposals::Column::Code)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let form = format!("/corrections/proposal/{}", p.id);
    assert_eq!(
        c.kjj.get(&form).await.0,
        403,
        "agencies do not edit proposals"
    );
    assert_eq!(
        c.member.get(&form).await.0,
        403,
        "nor do members, once published"
    );
    let title = format!("{}(勘误版甲乙丙)", p.title);
    let (status, _, _) = correct(
        &c.secretariat,
        &form,
        &[("title", &title), ("reason", "标题漏字")],
    )
    .await;
    assert_eq!(status, 303);
    let now = proposals::Entity::find_by_id(p.id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.title, title);
    assert_eq!(now.body_md, p.body_md, "a field left out keeps its text");
    assert_eq!(now.version, p.version + 1, "open edit forms see the change");
    app.wait_for_index().await;
    let (status, json) = app.json("/api/v1/search?q=勘误版甲乙丙").await;
    assert_eq!(status, 200);
    assert_eq!(json["total"], 1, "{json}");

    // An unpublished proposal has no published text to correct, nor a history.
    let draft = c
        .member
        .new_draft(&[("title", "草稿标题"), ("body_md", "草稿正文")])
        .await;
    assert_eq!(
        c.secretariat
            .get(&format!("/corrections/proposal/{draft}"))
            .await
            .0,
        404
    );
    let code = proposals::Entity::find_by_id(draft)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    assert_eq!(app.get(&format!("/proposals/{code}/history")).await.0, 404);
    assert_eq!(
        app.json(&format!("/api/v1/proposals/{code}/history"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_session_summary_is_corrected_only_by_the_secretariat() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let session = entity::sessions::Entity::find()
        .filter(entity::sessions::Column::Number.eq(27))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let form = format!("/corrections/session/{}", session.id);
    assert_eq!(c.kjj.get(&form).await.0, 403);
    assert_eq!(c.member.get(&form).await.0, 403);
    let summary = format!("{}\n\n更正:活动地点以报道为准。", session.summary_md);
    let (status, _, location) = correct(
        &c.secretariat,
        &form,
        &[("summary_md", &summary), ("reason", "补充活动地点说明")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/sessions/27/history"));
    let page = app.page("/sessions/27").await;
    assert!(page.contains("已修改") && page.contains("活动地点以报道为准"));
    let shown = app.page("/sessions/27/history").await;
    assert!(shown.contains("补充活动地点说明"));
    let (_, json) = app.json("/api/v1/sessions/27/history").await;
    assert_eq!(json["items"][0]["kind"], "session");
    assert_eq!(json["items"][0]["fields"][0]["field"], "summary_md");
}

#[tokio::test]
async fn a_value_redacted_later_is_hidden_in_the_kept_versions_too() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let (reply, code) = kjj_reply(&app).await;
    // A name that is not personal information to the detector, later judged private.
    let secret = "甄小明同志";
    let (status, _, _) = correct(
        &c.kjj,
        &format!("/corrections/response/{}", reply.id),
        &[
            ("body_md", &format!("{}\n\n联系人:{secret}", reply.body_md)),
            ("reason", "补充联系人"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (status, _, _) = correct(
        &c.kjj,
        &format!("/corrections/response/{}", reply.id),
        &[("body_md", &reply.body_md), ("reason", "撤回联系人")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(app
        .page(&format!("/proposals/{code}/history"))
        .await
        .contains(secret));

    let rule = tingshang::redaction::service::request(
        app.db(),
        &secretariat_actor(&app).await,
        secret,
        None,
        "当事人要求隐去姓名",
        false,
    )
    .await;
    assert!(rule.is_ok(), "{rule:?}");
    let shown = app.page(&format!("/proposals/{code}/history")).await;
    assert!(
        !shown.contains(secret),
        "the history keeps no redacted value"
    );
    assert!(shown.contains(tingshang::privacy::REDACTED));
}

#[tokio::test]
async fn a_correction_made_meanwhile_is_not_overwritten() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let (reply, _) = kjj_reply(&app).await;
    let form = format!("/corrections/response/{}", reply.id);
    let (_, stale) = c.kjj.get(&form).await;
    let stale_base = input_value(&stale, "base").unwrap();
    let first = format!("{}\n\n秘书处补注。", reply.body_md);
    let (status, _, _) = correct(
        &c.secretariat,
        &form,
        &[("body_md", &first), ("reason", "补注")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, page, _) = c
        .kjj
        .post(
            &form,
            &[
                ("base", &stale_base),
                ("body_md", "覆盖"),
                ("reason", "覆盖"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("已被他人更正"), "{page}");
    assert!(
        page.contains("秘书处补注"),
        "the form shows the current text"
    );
    assert_eq!(body_of(&app, reply.id).await, first);
    assert_eq!(
        corrections::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_browsers_line_breaks_are_not_a_change() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let (reply, _) = kjj_reply(&app).await;
    let form = format!("/corrections/response/{}", reply.id);
    let body = format!("{}\n\n第二段。", reply.body_md);
    let (status, _, _) =
        correct(&c.kjj, &form, &[("body_md", &body), ("reason", "补第二段")]).await;
    assert_eq!(status, 303);
    // The same text as a browser sends it (CRLF), and a document number added.
    let crlf = body.replace('\n', "\r\n");
    let (status, _, _) = correct(
        &c.kjj,
        &form,
        &[
            ("body_md", &crlf),
            ("doc_number", "青科函〔2024〕12号"),
            ("reason", "补文号"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(body_of(&app, reply.id).await, body, "no CR stored");
    let last = corrections::Entity::find()
        .order_by_desc(corrections::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let fields = correction_fields::Entity::find()
        .filter(correction_fields::Column::CorrectionId.eq(last.id))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(fields.len(), 1, "only the document number changed");
    assert_eq!(fields[0].field, "doc_number");
}

#[tokio::test]
async fn a_correction_cannot_bring_back_a_hidden_value() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let (reply, code) = kjj_reply(&app).await;
    let secret = "甄小明同志";
    tingshang::redaction::service::request(
        app.db(),
        &secretariat_actor(&app).await,
        secret,
        None,
        "当事人要求隐去姓名",
        false,
    )
    .await
    .unwrap();
    let form = format!("/corrections/response/{}", reply.id);
    let body = format!("{}\n\n联系人:{secret}", reply.body_md);
    let (status, _, _) = correct(
        &c.kjj,
        &form,
        &[("body_md", &body), ("reason", "补充联系人")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(!body_of(&app, reply.id).await.contains(secret));
    let history = app.page(&format!("/proposals/{code}/history")).await;
    assert!(!history.contains(secret), "nor in the version kept");
    let (_, json) = app.json(&format!("/api/v1/proposals/{code}/history")).await;
    assert!(!json.to_string().contains(secret));
}
