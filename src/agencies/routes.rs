//! `/agencies` and `/agencies/{id}`.
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use super::service;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agencies", get(index))
        .route("/agencies/{id}", get(show))
}

async fn index(State(state): State<AppState>) -> AppResult<Html<String>> {
    let agencies = service::list(&state.db).await?;
    state.render("agencies/index.html", context! { agencies })
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> AppResult<Html<String>> {
    let page = service::page(&state.db, parse_id(&id)?).await?;
    state.render("agencies/show.html", context! { page })
}
