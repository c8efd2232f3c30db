//! The JSON API `/api/v1`: public reads of the archive, token-authenticated writes for other
//! systems, and the OpenAPI 3.1 document generated from these handlers and types.
pub mod auth;
mod changes;
mod docs;
pub mod idempotency;
pub mod rate_limit;
pub mod read;
pub mod schema;
pub mod write;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::app::AppState;

/// Largest accepted JSON body (a proposal body is at most 100 KB of text).
pub const MAX_JSON_BYTES: usize = 256 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "听商 Tingshang API",
        description = "青岛“倾听与商量”协商平台的公开记录:协商活动、建议、答复、跟踪办理与承诺。读取接口公开、只含已公开内容;写入接口需要管理员签发的令牌(Authorization: Bearer …)。错误以 application/problem+json 返回。日期为 ISO-8601。",
        version = "1"
    ),
    paths(
        read::sessions, read::session, read::proposals, read::proposal,
        read::agencies, read::agency, read::people_list, read::person,
        read::documents_list, read::document, crate::search::routes::api, changes::changes,
        write::intake, write::decide, write::respond, write::report, write::report_bulk,
        write::act_on, write::attach, read::proposal_history, read::session_history,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "archive", description = "公开档案(无需令牌)"),
        (name = "write", description = "写入接口(需要令牌,与网页表单走同一套办理流程和权限)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The public reads: under `web::conditional` (ETag, CORS) in `app::router`.
pub fn read_routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/v1/sessions", get(read::sessions))
        .route("/api/v1/sessions/{number}", get(read::session))
        .route(
            "/api/v1/sessions/{number}/history",
            get(read::session_history),
        )
        .route("/api/v1/proposals", get(read::proposals))
        .route("/api/v1/proposals/{code}", get(read::proposal))
        .route(
            "/api/v1/proposals/{code}/history",
            get(read::proposal_history),
        )
        .route("/api/v1/agencies", get(read::agencies))
        .route("/api/v1/agencies/{id}", get(read::agency))
        .route("/api/v1/people", get(read::people_list))
        .route("/api/v1/people/{id}", get(read::person))
        .route("/api/v1/documents", get(read::documents_list))
        .route("/api/v1/documents/{id}", get(read::document))
}

/// Public reads whose answer is not a function of the content revision alone (the change log):
/// under `web::conditional::cors` in `app::router`.
pub fn log_routes() -> Router<AppState> {
    Router::new().route("/api/v1/changes", get(changes::changes))
}

/// The token-authenticated writes and the human-facing API page: no CORS.
pub fn write_routes() -> Router<AppState> {
    Router::new()
        .route("/api/docs", get(docs::page))
        .route("/api/v1/intake", post(write::intake))
        .route("/api/v1/proposals/{code}/decision", post(write::decide))
        .route("/api/v1/proposals/{code}/actions", post(write::act_on))
        .route("/api/v1/commitments/{id}/reports", post(write::report))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        // A spreadsheet is larger than a JSON body.
        .route(
            "/api/v1/commitments/reports",
            post(write::report_bulk).layer(DefaultBodyLimit::max(crate::followup::bulk::MAX_BYTES)),
        )
        // A reply may carry files: its JSON is limited by the handler, files while they stream.
        .route(
            "/api/v1/proposals/{code}/responses",
            post(write::respond).layer(DefaultBodyLimit::disable()),
        )
        // Files: limited while they stream in (`attachments::service::read_uploads`).
        .route(
            "/api/v1/attachments/{kind}/{id}",
            post(write::attach).layer(DefaultBodyLimit::disable()),
        )
}
