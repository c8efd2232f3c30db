//! The secretariat runs sessions, agencies and accounts from its screens; nobody else can.
mod common;

use common::spawn_app;

#[tokio::test]
async fn the_secretariat_runs_a_session_from_creation_to_publication() {
    let app = spawn_app().await;
    let pw = app.create_user("mishu", "secretariat", None, None).await;
    let secretariat = app.login("mishu", &pw).await;

    let (status, _, location) = secretariat
        .post(
            "/admin/sessions",
            &[
                ("number", "28"),
                ("topic", "测试主题:建设海洋科技大市场"),
                ("held_on", "2026-11-20"),
                ("organisers", "市政协委员联络活动工作室、青岛日报社"),
                ("summary_md", "**概要**"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/sessions/28?done=created"))
    );
    // The page it lands on says what happened; a made-up notice says nothing.
    let (_, landed) = secretariat.get("/admin/sessions/28?done=created").await;
    assert!(landed.contains("<div class=\"notice\" role=\"status\">已创建。</div>"));
    let (_, forged) = secretariat
        .get("/admin/sessions/28?done=%E4%BD%A0%E5%A5%BD")
        .await;
    assert!(!forged.contains("class=\"notice\""));
    assert_eq!(
        app.get("/sessions/28").await.0,
        404,
        "not public before publication"
    );
    let (status, body, _) = secretariat
        .post(
            "/admin/sessions",
            &[
                ("number", "28"),
                ("topic", "重复"),
                ("held_on", "2026-11-20"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("第28期已存在") && body.contains("重复"),
        "the form keeps what was typed"
    );

    let (status, _, _) = secretariat
        .post(
            "/admin/sessions/28/participants",
            &[
                ("new_name", "测试委员"),
                ("role", "committee_member"),
                ("post", "市政协委员"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        secretariat
            .post("/admin/sessions/28/publish", &[("published", "true")])
            .await
            .0,
        303
    );
    let public = app.page("/sessions/28").await;
    assert!(
        public.contains("测试主题:建设海洋科技大市场")
            && public.contains("测试委员")
            && public.contains("<strong>概要</strong>")
    );
    // Withdrawn and published again: the public page follows at once (pages are cached only
    // until the next write).
    for (published, expected) in [("false", 404), ("true", 200)] {
        let path = "/admin/sessions/28/publish";
        assert_eq!(
            secretariat.post(path, &[("published", published)]).await.0,
            303
        );
        assert_eq!(
            app.get("/sessions/28").await.0,
            expected,
            "published={published}"
        );
    }
    app.wait_for_index().await;
    let (_, found) = app
        .json("/api/v1/search?q=%E6%B5%8B%E8%AF%95%E4%B8%BB%E9%A2%98")
        .await;
    assert_eq!(found["total"], 1, "the published session is searchable");

    let (status, _, _) = secretariat
        .post(
            "/admin/agencies",
            &[
                ("full_name", "青岛市教育局"),
                ("short_name", "市教育局"),
                ("aliases", "教育局"),
                ("kind", "government_department"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert!(app.page("/agencies").await.contains("青岛市教育局"));

    let (status, body, _) = secretariat
        .post(
            "/admin/users",
            &[
                ("username", "jyj"),
                ("display_name", "市教育局"),
                ("role", "agency_staff"),
                ("agency_id", ""),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("须关联一个单位"));
    let (status, body, _) = secretariat
        .post(
            "/admin/users",
            &[
                ("username", "newadmin"),
                ("display_name", "x"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(status, 403, "only an admin creates admins: {body}");
}

#[tokio::test]
async fn admin_screens_refuse_everyone_else_and_the_audit_log_records_who_did_what() {
    let app = spawn_app().await;
    let pw = app
        .create_user("xing", "member", Some("邢占军"), None)
        .await;
    let member = app.login("xing", &pw).await;
    let pw = app
        .create_user("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    let agency = app.login("kjj", &pw).await;
    for client in [&member, &agency] {
        for path in [
            "/admin/sessions",
            "/admin/agencies",
            "/admin/users",
            "/admin/audit",
        ] {
            assert_eq!(client.get(path).await.0, 403, "{} {path}", client.username);
        }
        let (status, _, _) = client
            .post(
                "/admin/sessions",
                &[("number", "99"), ("topic", "x"), ("held_on", "2026-01-01")],
            )
            .await;
        assert_eq!(status, 403);
    }
    assert_eq!(
        app.anonymous()
            .post_raw("/admin/sessions", &[("number", "99")])
            .await
            .0,
        401
    );

    let pw = app.create_user("root", "admin", None, None).await;
    let admin = app.login("root", &pw).await;
    assert_eq!(admin.post("/admin/users/kjj/disable", &[]).await.0, 303);
    assert_eq!(
        agency.get("/me").await.0,
        303,
        "a disabled account's session ends"
    );
    let (status, log) = admin.get("/admin/audit").await;
    assert_eq!(status, 200);
    assert!(log.contains("user_disable") && log.contains("kjj") && log.contains("login"));
}

#[tokio::test]
async fn overdue_items_appear_in_the_reminders_of_the_agency_and_the_secretariat() {
    use entity::{agencies, assignments, proposals};
    use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let kjj = agencies::Entity::find()
        .filter(agencies::Column::ShortName.eq("市科技局"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    for (code, days_late) in [
        ("TS-TEST-LATE-1", 3),
        ("TS-TEST-LATE-2", 45),
        ("TS-TEST-SOON-1", -5),
    ] {
        let due = today - chrono::Duration::days(days_late);
        let id = proposals::Entity::insert(proposals::ActiveModel {
            code: Set(code.into()),
            channel: Set("direct".into()),
            title: Set(format!("提醒测试 {code}")),
            body_md: Set("正文".into()),
            topics: Set("[]".into()),
            status: Set("assigned".into()),
            published: Set(true),
            supervised: Set(false),
            version: Set(0),
            due_on: Set(Some(due)),
            created_at: Set(now.fixed_offset()),
            updated_at: Set(now.fixed_offset()),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap()
        .last_insert_id;
        assignments::Entity::insert(assignments::ActiveModel {
            proposal_id: Set(id),
            agency_id: Set(kjj.id),
            role: Set("lead".into()),
            state: Set("active".into()),
            assigned_at: Set(now.fixed_offset()),
            due_on: Set(due),
            created_at: Set(now.fixed_offset()),
            updated_at: Set(now.fixed_offset()),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap();
    }
    let pw = app
        .create_user("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    let agency = app.login("kjj", &pw).await;
    let pw = app.create_user("mishu", "secretariat", None, None).await;
    let secretariat = app.login("mishu", &pw).await;
    for client in [&agency, &secretariat] {
        let (status, page) = client.get("/me").await;
        assert_eq!(status, 200);
        let reminders = page.split("办理提醒").nth(1).expect("reminders shown");
        let section = |title: &str| {
            reminders
                .split(title)
                .nth(1)
                .unwrap_or("")
                .split("</ul>")
                .next()
                .unwrap_or("")
                .to_owned()
        };
        assert!(
            section("7日内到期").contains("TS-TEST-SOON-1"),
            "{}",
            client.username
        );
        assert!(section("已逾期").contains("TS-TEST-LATE-1"));
        assert!(section("严重逾期").contains("TS-TEST-LATE-2"));
    }
}

#[tokio::test]
async fn the_working_calendar_moves_reply_deadlines_past_days_off() {
    use chrono::{Datelike, Months, Weekday};
    use entity::proposals;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let pw = app.create_user("mishu", "secretariat", None, None).await;
    let secretariat = app.login("mishu", &pw).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    let plain_due = today.checked_add_months(Months::new(3)).unwrap();
    let last_off = plain_due + chrono::Duration::days(6);
    let (status, _, _) = secretariat
        .post(
            "/admin/calendar",
            &[
                ("from", &plain_due.to_string()),
                ("to", &last_off.to_string()),
                ("kind", "day_off"),
                ("note", "测试假期"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, page) = secretariat.get("/admin/calendar").await;
    assert!(page.contains("已录入(7 天)") && page.contains("测试假期"));
    let (status, page, _) = secretariat
        .post(
            "/admin/calendar",
            &[("from", "2026-13-01"), ("kind", "day_off"), ("note", "x")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(page.contains("须为日期"));

    let mut expected = last_off + chrono::Duration::days(1);
    while matches!(expected.weekday(), Weekday::Sat | Weekday::Sun) {
        expected += chrono::Duration::days(1);
    }
    let accepted = proposals::Entity::find()
        .filter(proposals::Column::Code.eq("TS-2023-027-01"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let (_, work) = secretariat
        .get(&format!("/work/proposals/{}", accepted.id))
        .await;
    assert!(
        work.contains(&format!("name=\"due_on\" value=\"{expected}\"")),
        "default due should be {expected}"
    );

    let pw = app
        .create_user("xing", "member", Some("邢占军"), None)
        .await;
    let member = app.login("xing", &pw).await;
    assert_eq!(member.get("/admin/calendar").await.0, 403);
    assert_eq!(
        member
            .post(
                "/admin/calendar",
                &[("from", "2027-01-01"), ("kind", "day_off"), ("note", "x")]
            )
            .await
            .0,
        403
    );
}
