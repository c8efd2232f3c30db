//! `/sessions` and `/sessions/{number}`.
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;

use super::service;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::page_cache::Shows;
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(index))
        .route("/sessions/{number}", get(show))
}

async fn index(State(state): State<AppState>) -> AppResult<Html<String>> {
    let sessions = service::list(&state.db, None).await?;
    state.render("sessions/index.html", context! { sessions })
}

async fn show(
    State(state): State<AppState>,
    Path(number): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let number = parse_id(&number)?;
    let key = crate::web::paths::session(number);
    state
        .pages
        .page(&state.db, &key, Shows::Itself, &headers, || async {
            let page = service::page_snapshot(&state.db, number).await?;
            Ok(state
                .templates
                .render("sessions/show.html", context! { page })?)
        })
        .await
}
