//! One error type, one rendering: framework responses (a timeout, an unknown route) get the same
//! Chinese page or problem+json as handler errors; JSON is chosen by `Accept` as well as by the
//! `/api/` prefix; a duplicate that slips past a check is a 409, not a 500.
mod common;

use std::time::Duration;

use common::*;
use sea_orm::{ActiveValue::Set, EntityTrait};
use tingshang::error::AppError;

/// A request that outlives the timeout gets the timeout page (503, request id), not the empty
/// 408 the timeout layer answered with while it sat outside the error renderer.
#[tokio::test]
async fn a_request_that_runs_too_long_gets_the_error_page() {
    let app = spawn_app_configured(true, |c| c.request_timeout = Duration::ZERO).await;
    let response = app.client.get(app.url("/statistics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(
        body.contains("处理超时") && body.contains("请求编号"),
        "{body}"
    );

    let response = app
        .client
        .get(app.url("/api/v1/proposals"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "https://tingshang.invalid/problems/timeout"
    );
}

#[tokio::test]
async fn json_clients_get_problem_json_on_page_paths_and_browsers_get_pages() {
    let app = spawn_app().await;
    let missing = "/proposals/TS-1900-000-00";
    let response = app
        .client
        .get(app.url(missing))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["title"], "页面不存在");

    let response = app
        .client
        .get(app.url(missing))
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // A route that exists answers a wrong method with the same table's title.
    let response = app.client.delete(app.url("/")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.text().await.unwrap().contains("不支持的操作"));
}

/// Two writers past the same duplicate check: the unique index refuses the second insert, and
/// that refusal is a conflict for the user, on the real database.
#[tokio::test]
async fn a_unique_violation_is_a_conflict_not_a_server_error() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().fixed_offset();
    let agency = || entity::agencies::ActiveModel {
        full_name: Set("重复测试单位".into()),
        short_name: Set("重复测试".into()),
        aliases: Set(String::new()),
        kind: Set("government_department".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    entity::agencies::Entity::insert(agency())
        .exec(app.db())
        .await
        .unwrap();
    let err = entity::agencies::Entity::insert(agency())
        .exec(app.db())
        .await
        .expect_err("the full name is unique");
    let report = AppError::from(err).report();
    assert_eq!(report.status.as_u16(), 409, "{report:?}");
    assert_eq!(report.kind, "duplicate");
    assert!(report.internal.is_none());
}
