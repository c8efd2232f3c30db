//! Role × action × ownership: allowed actions succeed; everyone else gets 401/403/404 and nothing
//! is written. Posts without the CSRF token are refused.
mod common;

use common::{spawn_app, TestApp, UserClient};
use sea_orm::EntityTrait;

struct People {
    author: UserClient,
    other_member: UserClient,
    secretariat: UserClient,
    lead: UserClient,
    co: UserClient,
    other_agency: UserClient,
    public: UserClient,
}

impl People {
    fn by_name(&self, name: &str) -> &UserClient {
        match name {
            "author" => &self.author,
            "other_member" => &self.other_member,
            "secretariat" => &self.secretariat,
            "lead" => &self.lead,
            "co" => &self.co,
            "other_agency" => &self.other_agency,
            _ => &self.public,
        }
    }
}

const EVERYONE: [&str; 7] = [
    "author",
    "other_member",
    "secretariat",
    "lead",
    "co",
    "other_agency",
    "public",
];

async fn people(app: &TestApp) -> People {
    let login = |u: &'static str,
                 role: &'static str,
                 person: Option<&'static str>,
                 agency: Option<&'static str>| async move {
        let pw = app.create_user(u, role, person, agency).await;
        app.login(u, &pw).await
    };
    People {
        author: login("xing", "member", Some("邢占军"), None).await,
        other_member: login("wangxue", "member", Some("王雪"), None).await,
        secretariat: login("mishu", "secretariat", None, None).await,
        lead: login("kjj", "agency_staff", None, Some("市科技局")).await,
        co: login("gxj", "agency_staff", None, Some("市工信局")).await,
        other_agency: login("bank", "agency_staff", None, Some("青岛银行")).await,
        public: app.anonymous(),
    }
}

#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Stage {
    Draft,
    Submitted,
    Accepted,
    Assigned,
    CoOpinionGiven,
    Answered,
    Closed,
}

async fn ok(client: &UserClient, id: i32, action: &str, fields: &[(&str, &str)]) {
    let (status, body) = client.act(id, action, fields).await;
    assert_eq!(
        status,
        303,
        "{} could not {action}: {}",
        client.username,
        &body[..body.len().min(500)]
    );
}

/// A fresh proposal by the author, driven to `stage` by the people whose job each step is.
async fn proposal_at(app: &TestApp, p: &People, stage: Stage) -> i32 {
    let id = p
        .author
        .new_draft(&[("title", "授权矩阵测试建议"), ("body_md", "正文")])
        .await;
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(60)).to_string();
    #[allow(clippy::type_complexity)]
    let steps: Vec<(Stage, &UserClient, &str, Vec<(&str, String)>)> = vec![
        (Stage::Submitted, &p.author, "submit", vec![]),
        (Stage::Accepted, &p.secretariat, "accept", vec![]),
        (
            Stage::Assigned,
            &p.secretariat,
            "assign",
            vec![
                ("lead", app.agency_id("市科技局").await.to_string()),
                ("co", app.agency_id("市工信局").await.to_string()),
                ("due_on", due.clone()),
            ],
        ),
        (
            Stage::CoOpinionGiven,
            &p.co,
            "co_opinion",
            vec![("body_md", "协办意见".into())],
        ),
        (
            Stage::Answered,
            &p.lead,
            "reply",
            vec![("grade", "A".into()), ("body_md", "书面答复".into())],
        ),
        (
            Stage::Closed,
            &p.author,
            "rate",
            vec![("rating", "satisfied".into())],
        ),
    ];
    for (reached, client, action, fields) in steps {
        if reached > stage {
            break;
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ok(client, id, action, &fields).await;
    }
    id
}

/// Everything a refused request must leave untouched.
async fn snapshot(app: &TestApp, id: i32) -> String {
    let mut counts = tingshang::seed::table_counts(app.db()).await.unwrap();
    // The outbox worker empties the search outbox at any moment: not something a request wrote.
    counts.remove("search_outbox");
    let proposal = entity::proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let notifications = entity::notifications::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len();
    format!(
        "{counts:?} v{} {} n{notifications}",
        proposal.version, proposal.status
    )
}

#[tokio::test]
async fn every_role_may_do_exactly_its_own_actions() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(200)).to_string();
    let lead_id = app.agency_id("市科技局").await.to_string();
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Stage, Vec<(&str, &str)>, Vec<&str>)> = vec![
        ("submit", Stage::Draft, vec![], vec!["author"]),
        ("withdraw", Stage::Submitted, vec![], vec!["author"]),
        ("accept", Stage::Submitted, vec![], vec!["secretariat"]),
        (
            "reject",
            Stage::Submitted,
            vec![("reason", "不属于协商范围")],
            vec!["secretariat"],
        ),
        (
            "merge",
            Stage::Submitted,
            vec![("into_code", "TS-2023-027-05"), ("reason", "内容相同")],
            vec!["secretariat"],
        ),
        (
            "assign",
            Stage::Accepted,
            vec![("lead", lead_id.as_str()), ("due_on", due.as_str())],
            vec!["secretariat"],
        ),
        (
            "return",
            Stage::Assigned,
            vec![("reason", "非本单位职责")],
            vec!["lead", "co"],
        ),
        (
            "co_opinion",
            Stage::Assigned,
            vec![("body_md", "意见")],
            vec!["co"],
        ),
        (
            "progress",
            Stage::Assigned,
            vec![("response_kind", "progress"), ("body_md", "进展")],
            vec!["lead", "co"],
        ),
        (
            "reply",
            Stage::CoOpinionGiven,
            vec![("grade", "B"), ("body_md", "答复")],
            vec!["lead"],
        ),
        (
            "rate",
            Stage::Answered,
            vec![("rating", "basically_satisfied")],
            vec!["author"],
        ),
        (
            "reopen",
            Stage::Closed,
            vec![("reason", "回头看")],
            vec!["secretariat"],
        ),
        (
            "extend",
            Stage::Assigned,
            vec![("due_on", due.as_str()), ("reason", "需协调多部门")],
            vec!["secretariat"],
        ),
        (
            "supervise",
            Stage::Assigned,
            vec![("on", "true"), ("reason", "群众关注度高")],
            vec!["secretariat"],
        ),
    ];
    let mut table = Vec::new();

    for (action, stage, fields, allowed) in cases {
        let id = proposal_at(&app, &p, stage).await;
        let version = entity::proposals::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
            .version
            .to_string();
        for who in EVERYONE.iter().filter(|w| !allowed.contains(w)) {
            let before = snapshot(&app, id).await;
            let client = p.by_name(who);
            let mut all = vec![("action", action), ("version", version.as_str())];
            all.extend(fields.iter().copied());
            let (status, _, _) = client
                .post(&format!("/work/proposals/{id}/act"), &all)
                .await;
            assert!(
                matches!(status, 401 | 403 | 404),
                "{who} {action}: got {status}"
            );
            assert_eq!(
                before,
                snapshot(&app, id).await,
                "{who} {action} wrote something"
            );
            table.push(format!("{action:<11} {who:<13} refused {status}"));
        }
        // Without the CSRF token even the allowed user is refused.
        let allowed_client = p.by_name(allowed[0]);
        let before = snapshot(&app, id).await;
        let mut all = vec![("action", action), ("version", version.as_str())];
        all.extend(fields.iter().copied());
        let (status, _, _) = allowed_client
            .post_raw(&format!("/work/proposals/{id}/act"), &all)
            .await;
        assert_eq!(status, 403, "{action} without CSRF");
        assert_eq!(before, snapshot(&app, id).await);
        for who in &allowed {
            let id = proposal_at(&app, &p, stage).await;
            ok(p.by_name(who), id, action, &fields).await;
            table.push(format!("{action:<11} {who:<13} allowed"));
        }
    }
    println!("{}", table.join("\n"));
}

#[tokio::test]
async fn drafts_and_undecided_items_stay_private() {
    let app = spawn_app().await;
    let p = people(&app).await;
    let id = proposal_at(&app, &p, Stage::Submitted).await;
    for who in ["other_member", "lead", "other_agency"] {
        let (status, _) = p.by_name(who).get(&format!("/work/proposals/{id}")).await;
        assert_eq!(status, 404, "{who} must not see a submitted proposal");
    }
    let (status, _) = p.public.get(&format!("/work/proposals/{id}")).await;
    assert_eq!(status, 303, "anonymous visitors are sent to the login page");
    for who in ["author", "secretariat"] {
        assert_eq!(
            p.by_name(who).get(&format!("/work/proposals/{id}")).await.0,
            200,
            "{who}"
        );
    }
    // Members cannot open the draft form as anyone else; agencies cannot write proposals.
    assert_eq!(p.lead.get("/me/proposals/new").await.0, 403);
    assert_eq!(p.secretariat.get("/me/proposals/new").await.0, 403);
}

#[tokio::test]
async fn logins_are_throttled_and_sessions_end_on_password_change() {
    let app = spawn_app().await;
    let password = app
        .create_user("xing", "member", Some("邢占军"), None)
        .await;
    let client = app.anonymous();
    for attempt in 0..5 {
        let form = client.get("/login").await.1;
        let csrf = common::input_value(&form, "csrf").unwrap();
        let (status, body, _) = client
            .post_raw(
                "/login",
                &[
                    ("username", "xing"),
                    ("password", "wrong-password"),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(status, 401, "attempt {attempt}");
        assert!(body.contains("用户名或密码不正确"));
    }
    let form = client.get("/login").await.1;
    let csrf = common::input_value(&form, "csrf").unwrap();
    let (status, body, _) = client
        .post_raw(
            "/login",
            &[
                ("username", "xing"),
                ("password", &password),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(status, 429, "locked even with the right password");
    assert!(body.contains("分钟后再试"));

    let password = app.create_user("mishu", "secretariat", None, None).await;
    let session = app.login("mishu", &password).await;
    assert_eq!(session.get("/me").await.0, 200);
    tingshang::accounts::service::set_password(app.db(), "mishu", "a-brand-new-password")
        .await
        .unwrap();
    assert_eq!(session.get("/me").await.0, 303, "the old session ended");
    // A login form posted without its CSRF cookie token is refused.
    let (status, _, _) = app
        .anonymous()
        .post_raw(
            "/login",
            &[("username", "mishu"), ("password", "x"), ("csrf", "abc")],
        )
        .await;
    assert_eq!(status, 403);
}
