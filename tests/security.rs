//! Regression tests for the penetration test's findings, each against the real app: account
//! management across roles, tokens of disabled accounts, the login redirect, a stored character
//! that crashed search, a panicking handler, dates out of range, and the operational endpoints.
mod common;

use common::{assert_ok, cast, post_json, spawn_app, token_for};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

#[tokio::test]
async fn the_secretariat_cannot_act_on_an_administrator() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("second-admin", "admin", None, None).await;
    let secretariat = app.signed_in("mishu", "secretariat", None, None).await;
    for action in ["disable", "enable"] {
        let (status, _, _) = secretariat
            .post(&format!("/admin/users/second-admin/{action}"), &[])
            .await;
        assert_eq!(status, 403, "the secretariat may not {action} an admin");
    }
    let (status, _, _) = secretariat
        .post(&format!("/admin/users/{}/disable", admin.username), &[])
        .await;
    assert_eq!(status, 403);
    let stored = entity::users::Entity::find()
        .filter(entity::users::Column::Username.eq("second-admin"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.disabled, "the admin stays enabled");
    // Accounts of its own rank and below stay manageable; an admin manages everyone.
    app.create_user("kjj-staff", "agency_staff", None, Some("市科技局"))
        .await;
    let (status, _, _) = secretariat
        .post("/admin/users/kjj-staff/disable", &[])
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = admin.post("/admin/users/second-admin/disable", &[]).await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn disabling_an_account_revokes_its_api_tokens_for_good() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("hotline", "secretariat", None, None).await;
    let token = token_for(&admin, "hotline").await;
    let intake = |n: u32| {
        serde_json::json!({
            "channel": "hotline_12345",
            "external_id": format!("revoke-{n}"),
            "title": "令牌测试工单",
            "body_md": "正文",
        })
    };
    let (status, _) = post_json(&app, "/api/v1/intake", Some(&token), intake(1)).await;
    assert_eq!(status, 201);
    for action in ["disable", "enable"] {
        let (status, _, _) = admin
            .post(&format!("/admin/users/hotline/{action}"), &[])
            .await;
        assert_eq!(status, 303, "{action}");
    }
    let (status, body) = post_json(&app, "/api/v1/intake", Some(&token), intake(2)).await;
    assert_eq!(
        status, 401,
        "a token does not come back with its account: {body}"
    );
}

#[tokio::test]
async fn login_redirects_only_to_this_site_and_validates_before_writing() {
    let app = spawn_app().await;
    let password = app
        .create_user("member1", "member", Some("邢占军"), None)
        .await;
    let anonymous = app.anonymous();
    for next in [
        "%2F%09%2Fevil.example",
        "%2F%0A%2Fevil.example",
        "%2F%5Cevil.example",
        "%2F%2Fevil.example",
    ] {
        let (status, page) = anonymous.get(&format!("/login?next={next}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            common::input_value(&page, "next").as_deref(),
            Some("/me"),
            "{next} is replaced by the dashboard"
        );
    }
    let audit_before = entity::audit_log::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len();
    for next in ["/\t/evil.example", "/\r\nSet-Cookie: x=1", "/提案"] {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let csrf = common::login_csrf(client.get(app.url("/login"))).await;
        let response = client
            .post(app.url("/login"))
            .form(&[
                ("username", "member1"),
                ("password", password.as_str()),
                ("csrf", csrf.as_str()),
                ("next", next),
            ])
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(response.status(), 303, "{next:?}");
        assert_eq!(response.headers()["location"], "/me", "{next:?}");
    }
    let audit_after = entity::audit_log::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len();
    assert_eq!(
        audit_after,
        audit_before + 3,
        "one login entry per sign-in, none half written"
    );
}

#[tokio::test]
async fn a_stored_character_that_changes_length_when_folded_cannot_break_search() {
    let app = spawn_app().await;
    let proposal = entity::proposals::Entity::find()
        .filter(entity::proposals::Column::Code.eq("TS-2023-027-06"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let mut edited: entity::proposals::ActiveModel = proposal.clone().into();
    edited.title = Set("温度Ⱥ测量Ω温度控制".to_owned());
    edited.update(app.db()).await.unwrap();
    tingshang::search::outbox::enqueue(app.db(), "proposal", proposal.id)
        .await
        .unwrap();
    app.wait_for_index().await;
    let page = app.page("/search?q=温度").await;
    assert!(
        page.contains("<mark>温度</mark>Ⱥ测量Ω<mark>温度</mark>"),
        "highlighted"
    );
    let (status, body) = app.get("/api/v1/search?q=%E6%B8%A9%E5%BA%A6").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = app.get("/?q=%E6%B8%A9%E5%BA%A6").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_panicking_handler_becomes_the_error_page_with_a_request_id() {
    let app = spawn_app().await;
    let router = tingshang::app::router_with(
        app.state.clone(),
        axum::Router::new().route(
            "/panics",
            axum::routing::get(|| async {
                panic!("deliberately");
                #[allow(unreachable_code)]
                ""
            }),
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let response = reqwest::get(format!("http://{addr}/panics"))
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(response.status(), 500);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = response.text().await.unwrap();
    assert!(
        page.contains("服务器内部错误") && page.contains(&request_id),
        "{page}"
    );
}

#[tokio::test]
async fn dates_outside_the_record_are_refused() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let id = cast
        .member
        .new_draft(&[("title", "期限测试"), ("body_md", "正文")])
        .await;
    assert_ok("submit", cast.member.act(id, "submit", &[]).await);
    assert_ok("accept", cast.secretariat.act(id, "accept", &[]).await);
    let kjj = app.agency_id("市科技局").await.to_string();
    for due in ["+262142-01-01", "2101-01-01", "1900-01-01"] {
        let (status, page) = cast
            .secretariat
            .act(id, "assign", &[("lead", &kjj), ("due_on", due)])
            .await;
        assert_eq!(status, 400, "{due}");
        let reason = page
            .split("role=\"alert\">")
            .nth(1)
            .unwrap_or("")
            .split('<')
            .next()
            .unwrap_or("");
        assert!(
            reason.contains("1949 年至 2100 年"),
            "{due}: the reason is given: {reason}"
        );
    }
    let admin = app.signed_in("root", "admin", None, None).await;
    let token = token_for(&admin, &cast.secretariat.username).await;
    let commitment = entity::commitments::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let (status, body) = post_json(
        &app,
        &format!("/api/v1/commitments/{}/reports", commitment.id),
        Some(&token),
        serde_json::json!({"value": 1.0, "reported_on": "0999-01-01", "source": "测试"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn operational_detail_is_for_this_machine_or_the_metrics_token() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    // Through a proxy (as the public reaches a deployed site): status only, no metrics.
    let proxied = |path: &str| {
        client
            .get(app.url(path))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
    };
    let metrics = proxied("/metrics").await.unwrap();
    assert_eq!(metrics.status(), 403);
    let ready: serde_json::Value = proxied("/readyz").await.unwrap().json().await.unwrap();
    assert!(ready.get("database").is_none(), "no detail: {ready}");
    assert!(ready["status"].is_string());
    let health = proxied("/healthz").await.unwrap();
    assert_eq!(health.status(), 200, "healthz stays public");
    // From this machine: everything.
    let local: serde_json::Value = client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(local["database"]["writable"], true, "{local}");
    let metrics = client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("tingshang_db_write_failures_total{kind=\"full\"} 0"));
}
