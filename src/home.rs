//! The home page: latest sessions, recent responses and the archive's counts.
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use entity::{commitments, documents, proposals, responses, sessions};
use minijinja::context;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::app::AppState;
use crate::error::AppResult;
use crate::visibility::{public_proposals, public_sessions};
use crate::web::page_cache::Shows;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(index))
}

/// How stale the home page's totals may be.
pub const COUNTS_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// The archive at a glance, as the home page shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ArchiveCounts {
    sessions: u64,
    proposals: u64,
    responses: u64,
    commitments: u64,
    documents: u64,
}

async fn count_archive(db: &sea_orm::DatabaseConnection) -> Result<ArchiveCounts, sea_orm::DbErr> {
    Ok(ArchiveCounts {
        sessions: sessions::Entity::find()
            .filter(public_sessions())
            .count(db)
            .await?,
        proposals: proposals::Entity::find()
            .filter(public_proposals())
            .count(db)
            .await?,
        responses: responses::Entity::find()
            .filter(responses::Column::Published.eq(true))
            .count(db)
            .await?,
        commitments: commitments::Entity::find().count(db).await?,
        documents: documents::Entity::find()
            .filter(documents::Column::Published.eq(true))
            .count(db)
            .await?,
    })
}

async fn index(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let db = &state.db;
    state
        .pages
        .page(db, "/", Shows::Anything, &headers, || async {
            let sessions = crate::sessions::service::list(db, Some(5)).await?;
            let recent_responses = crate::responses::service::recent(db, 6).await?;
            let counts = state.home_counts.get(|| count_archive(db)).await?;
            Ok(state
                .templates
                .render("home.html", context! { sessions, recent_responses, counts })?)
        })
        .await
}
