//! A proposal's whole life over HTTP with real logins, as the people who do it.
mod common;

use common::{assert_ok, cast, spawn_app, Cast, UserClient};
use sea_orm::EntityTrait;

fn agency_id(page: &str, short_name: &str) -> String {
    let marker = format!("\">{short_name}</option>");
    let end = page.find(&marker).expect("agency option");
    let start = page[..end].rfind("value=\"").unwrap() + 7;
    page[start..end].to_owned()
}

/// Creates a draft as the member and returns its id.
async fn draft(member: &UserClient, title: &str) -> i32 {
    member
        .new_draft(&[
            ("title", title),
            (
                "body_md",
                "建议**加快**建设概念验证中心。\n\n<script>alert(1)</script>",
            ),
            ("topics", "科技成果转化、概念验证中心"),
            ("cosigners", "王雪"),
            ("session_number", ""),
        ])
        .await
}

#[tokio::test]
async fn a_proposal_lives_from_draft_to_closure() {
    let app = spawn_app().await;
    let Cast {
        member,
        secretariat,
        kjj: lead,
        gxj: co,
    } = cast(&app).await;

    // The member previews, then saves and submits.
    let (status, preview, _) = member
        .post(
            "/me/proposals/new",
            &[
                ("title", "预览标题"),
                ("body_md", "**加粗**"),
                ("intent", "preview"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(preview.contains("<strong>加粗</strong>") && preview.contains("预览标题"));
    let id = draft(&member, "支持高校建设概念验证中心").await;
    assert_ok("submit", member.act(id, "submit", &[]).await);

    // The secretariat accepts and assigns a lead and a co-handling agency.
    assert_ok("accept", secretariat.act(id, "accept", &[]).await);
    let (_, page) = secretariat.get(&format!("/work/proposals/{id}")).await;
    let (kjj, gxj) = (agency_id(&page, "市科技局"), agency_id(&page, "市工信局"));
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(90)).to_string();
    assert_ok(
        "assign",
        secretariat
            .act(
                id,
                "assign",
                &[("lead", &kjj), ("co", &gxj), ("due_on", &due)],
            )
            .await,
    );

    // The secretariat marks it for supervision (督办); the agency's inbox shows it.
    assert_ok(
        "supervise",
        secretariat
            .act(
                id,
                "supervise",
                &[("on", "true"), ("reason", "群众关注度高")],
            )
            .await,
    );
    assert!(lead.get("/me").await.1.contains("督办"));

    // The lead is not offered the reply before the co-handling opinion, and the page says why
    // (the state machine's guard, not a check only the command makes).
    let page = lead.get(&format!("/work/proposals/{id}")).await.1;
    assert!(
        !page.contains("id=\"form-reply\""),
        "reply offered too early"
    );
    assert!(page.contains("暂不能书面答复") && page.contains("尚未提交协办意见"));
    // Sent anyway, it is refused; the text typed is kept on the form.
    let reply = [
        ("grade", "B"),
        ("doc_number", "青科函〔2026〕1号"),
        ("body_md", "我局正在研究专项政策。"),
    ];
    let (status, body) = lead.act(id, "reply", &reply).await;
    assert_eq!(status, 409);
    assert!(
        body.contains("尚未提交协办意见") && body.contains("我局正在研究专项政策。"),
        "{}",
        &body[body.len().saturating_sub(3000)..]
    );

    assert_ok(
        "co opinion",
        co.act(
            id,
            "co_opinion",
            &[("body_md", "市工信局支持并将配合推进。")],
        )
        .await,
    );
    let page = lead.get(&format!("/work/proposals/{id}")).await.1;
    assert!(page.contains("id=\"form-reply\"") && !page.contains("暂不能书面答复"));
    assert_ok(
        "progress",
        lead.act(
            id,
            "progress",
            &[("response_kind", "progress"), ("body_md", "已开展调研。")],
        )
        .await,
    );
    let with_commitment = [
        ("grade", "B"),
        ("doc_number", "青科函〔2026〕1号"),
        ("body_md", "我局正在研究专项政策。"),
        ("c_description", "2027年底前新建概念验证中心"),
        ("c_metric", "新建概念验证中心"),
        ("c_unit", "家"),
        ("c_target", "5"),
        ("c_date", "2027-12-31"),
    ];
    assert_ok("reply", lead.act(id, "reply", &with_commitment).await);

    // The public page as it stands now (rendered pages are cached until the next write).
    let (_, work) = member.get(&format!("/work/proposals/{id}")).await;
    let code = work
        .split("<span>TS-")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let public_path = format!("/proposals/TS-{code}");
    let answered = app.page(&public_path).await;
    assert!(answered.contains("书面答复") && !answered.contains("已办结"));
    assert_eq!(app.page(&public_path).await, answered);

    // 不满意 reopens it for re-handling; a second reply; 满意 closes it.
    let (status, body) = member
        .act(id, "rate", &[("rating", "unsatisfied"), ("comment", "")])
        .await;
    assert_eq!(status, 400, "an unsatisfied rating needs a comment");
    assert!(body.contains("评价意见不能为空"));
    assert_ok(
        "rate unsatisfied",
        member
            .act(
                id,
                "rate",
                &[("rating", "unsatisfied"), ("comment", "进度太慢")],
            )
            .await,
    );
    // A member's step (not in the audit log) reaches the cached public page at once.
    let rated = app.page(&public_path).await;
    assert!(rated.contains("进度太慢") && !answered.contains("进度太慢"));
    let (_, work) = member.get(&format!("/work/proposals/{id}")).await;
    assert!(work.contains("重新办理"));
    assert_ok(
        "second reply",
        lead.act(
            id,
            "reply",
            &[
                ("grade", "A"),
                ("doc_number", "青科函〔2026〕2号"),
                ("body_md", "专项政策已出台。"),
            ],
        )
        .await,
    );
    assert_ok(
        "rate satisfied",
        member
            .act(id, "rate", &[("rating", "satisfied"), ("comment", "")])
            .await,
    );

    // The lead agency reports an actual against its commitment; the co agency cannot.
    let (_, work) = lead.get(&format!("/work/proposals/{id}")).await;
    let commitment = work
        .split("action=\"/work/commitments/")
        .nth(1)
        .expect("report form")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let report_path = format!("/work/commitments/{commitment}/report");
    let fields = [
        ("value", "6"),
        ("reported_on", "2026-01-15"),
        ("source", "市科技局2026年1月通报"),
        ("proposal_id", "0"),
    ];
    assert_eq!(co.post(&report_path, &fields).await.0, 403);
    assert_eq!(lead.post(&report_path, &fields).await.0, 303);

    // The public page shows the closed proposal with its whole timeline, and nothing unsafe.
    let public = app.anonymous().get(&public_path).await;
    assert_eq!(public.0, 200);
    let page = public.1;
    for expected in [
        "已办结",
        "提出建议",
        "立案",
        "交办",
        "协办意见",
        "进展通报",
        "书面答复",
        "委员评价",
        "不满意",
        "满意",
        "专项政策已出台",
        "2027年底前新建概念验证中心",
        "王雪",
        "超额完成",
        "督办",
        "群众关注度高",
        "市科技局2026年1月通报",
    ] {
        assert!(page.contains(expected), "public page lacks {expected}");
    }
    assert!(!page.contains("<script>alert"));

    // Notifications reached the people concerned.
    let (_, dashboard) = lead.get("/me").await;
    assert!(dashboard.contains("未读") && dashboard.contains("委员评价为“满意”"));
}

#[tokio::test]
async fn stale_forms_are_detected_and_nothing_is_overwritten() {
    let app = spawn_app().await;
    let Cast {
        member,
        secretariat,
        ..
    } = cast(&app).await;
    let id = draft(&member, "过期表单测试").await;
    assert_ok("submit", member.act(id, "submit", &[]).await);
    let stale_version = secretariat.version(id).await;
    assert_ok("accept", secretariat.act(id, "accept", &[]).await);
    let (status, body, _) = secretariat
        .post(
            &format!("/work/proposals/{id}/act"),
            &[
                ("action", "reject"),
                ("version", &stale_version),
                ("reason", "重复"),
            ],
        )
        .await;
    assert_eq!(status, 409);
    assert!(
        body.contains("刚被他人更新") || body.contains("不能进行"),
        "{body}"
    );
    let (_, page) = secretariat.get(&format!("/work/proposals/{id}")).await;
    assert!(page.contains("已立案"));
}

/// A workflow step makes stale only the pages that show its proposal (its own, its session's)
/// and the home page; the other cached pages stay. A change of unknown reach drops them all.
#[tokio::test]
async fn a_step_on_one_proposal_refreshes_its_pages_and_keeps_the_others_cached() {
    let app = spawn_app().await;
    let Cast {
        member,
        secretariat,
        kjj: lead,
        ..
    } = cast(&app).await;
    let id = member
        .new_draft(&[
            ("title", "支持高校建设概念验证中心"),
            ("body_md", "建议加快建设概念验证中心。"),
            ("topics", "概念验证中心"),
            ("cosigners", ""),
            ("session_number", "27"),
        ])
        .await;
    assert_ok("submit", member.act(id, "submit", &[]).await);
    assert_ok("accept", secretariat.act(id, "accept", &[]).await);
    let (_, page) = secretariat.get(&format!("/work/proposals/{id}")).await;
    let kjj = agency_id(&page, "市科技局");
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(90)).to_string();
    assert_ok(
        "assign",
        secretariat
            .act(id, "assign", &[("lead", &kjj), ("due_on", &due)])
            .await,
    );
    let code = entity::proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    let own = format!("/proposals/{code}");
    let other = "/proposals/TS-2023-027-06";
    let pages = ["/", "/sessions/27", own.as_str(), other];
    for path in pages {
        app.page(path).await;
        assert!(app.state.pages.holds(path), "{path} is cached");
    }

    let report = "已走访驻青高校七所,形成概念验证中心建设清单";
    assert_ok(
        "progress",
        lead.act(
            id,
            "progress",
            &[("response_kind", "progress"), ("body_md", report)],
        )
        .await,
    );
    // The first request after the step catches the cache up: the three pages that show the
    // proposal are rendered afresh with the report, the other proposal's page is still cached.
    assert!(app.page(&own).await.contains(report), "its own page");
    assert!(
        app.state.pages.holds(other),
        "an untouched page stays cached"
    );
    assert!(!app.state.pages.holds("/"), "the home page shows anything");
    assert!(!app.state.pages.holds("/sessions/27"));
    assert!(
        app.page("/sessions/27").await.contains(report),
        "its session's page"
    );
    assert_eq!(app.page(other).await, app.page(other).await);

    // A change that names no pages (a session edited by the secretariat, say) drops them all.
    tingshang::revision::bump(app.db()).await.unwrap();
    app.page("/sessions/27").await;
    assert!(!app.state.pages.holds(other));
}

/// The in-app notices of user `username`, oldest first.
async fn notices_of(app: &common::TestApp, username: &str) -> Vec<(String, String)> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let user = entity::users::Entity::find()
        .filter(entity::users::Column::Username.eq(username))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    entity::notifications::Entity::find()
        .filter(entity::notifications::Column::UserId.eq(user.id))
        .order_by_asc(entity::notifications::Column::Id)
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.kind, n.message))
        .collect()
}

#[tokio::test]
async fn everyone_around_a_proposal_hears_of_returns_merges_and_closure() {
    let app = spawn_app().await;
    let Cast {
        member,
        secretariat,
        kjj: lead,
        gxj: co,
    } = cast(&app).await;
    app.create_user("wangxue", "member", Some("王雪"), None)
        .await;
    let id = draft(&member, "关于支持概念验证中心的建议").await;
    assert_ok("submit", member.act(id, "submit", &[]).await);
    assert_ok("accept", secretariat.act(id, "accept", &[]).await);
    let (_, page) = secretariat.get(&format!("/work/proposals/{id}")).await;
    let (kjj, gxj) = (agency_id(&page, "市科技局"), agency_id(&page, "市工信局"));
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(90)).to_string();
    let assign = [
        ("lead", kjj.as_str()),
        ("co", gxj.as_str()),
        ("due_on", &due),
    ];
    assert_ok("assign", secretariat.act(id, "assign", &assign).await);

    // The lead agency returns it: the co-handling agency hears that it waits for the
    // secretariat (not the reason, which is the secretariat's), the lead does not hear itself.
    assert_ok(
        "return",
        lead.act(id, "return", &[("reason", "不属于我局职责")])
            .await,
    );
    let returned: Vec<_> = notices_of(&app, "gxj")
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "returned")
        .collect();
    assert_eq!(returned.len(), 1, "{returned:?}");
    assert!(returned[0].1.contains("主办单位已退回交办") && !returned[0].1.contains("职责"));
    assert!(notices_of(&app, "kjj")
        .await
        .iter()
        .all(|(k, _)| k != "returned"));

    assert_ok("assign again", secretariat.act(id, "assign", &assign).await);
    assert_ok(
        "co opinion",
        co.act(id, "co_opinion", &[("body_md", "支持并配合。")])
            .await,
    );
    let reply = [
        ("grade", "A"),
        ("doc_number", ""),
        ("body_md", "已经解决。"),
    ];
    assert_ok("reply", lead.act(id, "reply", &reply).await);
    assert_ok(
        "rate",
        member
            .act(id, "rate", &[("rating", "satisfied"), ("comment", "")])
            .await,
    );
    // Closure: the co-signing member hears of it; the author, who closed it, is not told.
    let closed: Vec<_> = notices_of(&app, "wangxue")
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "closed")
        .collect();
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert!(closed[0].1.contains("已办结") && closed[0].1.contains("满意"));
    assert!(notices_of(&app, "xing")
        .await
        .iter()
        .all(|(k, _)| k != "closed"));

    // A later proposal merged into this one: its author is told where, and why.
    let later = draft(&member, "再次建议支持概念验证中心").await;
    assert_ok("submit", member.act(later, "submit", &[]).await);
    let code = entity::proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    assert_ok(
        "merge",
        secretariat
            .act(
                later,
                "merge",
                &[("into_code", &code), ("reason", "内容相同,一并办理")],
            )
            .await,
    );
    let (_, merged) = notices_of(&app, "xing").await.pop().unwrap();
    assert!(
        merged.contains(&code) && merged.contains("内容相同,一并办理"),
        "{merged}"
    );
}

#[tokio::test]
async fn the_work_page_leads_with_its_main_action_and_picks_merge_targets_by_title() {
    let app = spawn_app().await;
    let Cast {
        member,
        secretariat,
        kjj: lead,
        gxj: co,
    } = cast(&app).await;
    let id = draft(&member, "关于支持概念验证中心的建议").await;
    assert_ok("submit", member.act(id, "submit", &[]).await);
    let work = format!("/work/proposals/{id}");

    // The secretariat's main action on a submission is acceptance; the rest are folded.
    let (_, page) = secretariat.get(&work).await;
    let main = &page[page
        .find("class=\"card main-action")
        .expect("a main action")..];
    let main = &main[..main.find("</section>").unwrap()];
    assert!(main.contains("id=\"form-accept\""), "{main}");
    assert!(
        page.contains("<summary>并案</summary>") && page.contains("<summary>不予立案</summary>")
    );

    // The merge picker finds the seeded proposal by a word of its title and shows its title.
    let seeded = entity::proposals::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.code == "TS-2023-027-01")
        .unwrap();
    let word: String = seeded.title.chars().skip(2).take(4).collect();
    let (status, page) = secretariat
        .get(&format!("{work}?merge_q={}", urlencoding(&word)))
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("value=\"{}\" required", seeded.code))
            && page.contains(&seeded.title),
        "the picker lists {} {}",
        seeded.code,
        seeded.title
    );
    let (_, page) = secretariat
        .get(&format!(
            "{work}?merge_q=%E6%B2%A1%E6%9C%89%E8%BF%99%E4%B8%AA"
        ))
        .await;
    assert!(page.contains("没有找到与“没有这个”相符的其他建议"));

    // After acceptance the main action is the assignment; its lead list starts empty and the
    // page says what happened.
    assert_ok("accept", secretariat.act(id, "accept", &[]).await);
    let (_, page) = secretariat.get(&format!("{work}?done=accept")).await;
    assert!(page.contains("已立案。下一步:交办承办单位。"));
    let main = &page[page.find("class=\"card main-action").unwrap()..];
    assert!(main[..main.find("</section>").unwrap()].contains("id=\"form-assign\""));
    assert!(page.contains("<option value=\"\">请选择主办单位</option>"));
    let (kjj, gxj) = (agency_id(&page, "市科技局"), agency_id(&page, "市工信局"));
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(90)).to_string();
    // The same agency as lead and co is refused with a message, nothing assigned.
    let (status, page) = secretariat
        .act(
            id,
            "assign",
            &[("lead", &kjj), ("co", &kjj), ("due_on", &due)],
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("主办单位不能同时是协办单位"));
    assert_ok(
        "assign",
        secretariat
            .act(
                id,
                "assign",
                &[("lead", &kjj), ("co", &gxj), ("due_on", "2099/12/31")],
            )
            .await,
    );
    // The co-handling agency leads with its opinion, the lead agency (after it) with the reply.
    let (_, page) = co.get(&work).await;
    let main = &page[page.find("class=\"card main-action").unwrap()..];
    assert!(main[..main.find("</section>").unwrap()].contains("id=\"form-co_opinion\""));
    assert_ok(
        "co opinion",
        co.act(id, "co_opinion", &[("body_md", "支持。")]).await,
    );
    let (_, page) = lead.get(&work).await;
    let main = &page[page.find("class=\"card main-action").unwrap()..];
    let main = &main[..main.find("</section>").unwrap()];
    assert!(main.contains("id=\"form-reply\"") && main.contains("可量化承诺"));
    assert!(page.contains("<summary>退回交办</summary>"));
}

fn urlencoding(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}
