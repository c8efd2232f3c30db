//! `/documents` and `/documents/{id}`, and `/admin/documents` where the secretariat keeps the
//! documents' files (originals, scans).
use axum::extract::{Path, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use super::service;
use crate::accounts::policy::{self, Action};
use crate::accounts::SignedIn;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/documents", get(index))
        .route("/documents/{id}", get(show))
        .route("/admin/documents", get(admin))
}

/// Every document (published or not) with its files and a form to add more.
async fn admin(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    crate::web::notice::Notice(notice): crate::web::notice::Notice,
) -> AppResult<Html<String>> {
    policy::require(&session.actor, Action::ImportArchive)?;
    let documents = service::list_all(&state.db).await?;
    let owners: Vec<_> = documents
        .iter()
        .map(|d| (crate::files::OwnerKind::Document, d.id))
        .collect();
    let files = crate::attachments::service::listed(&state.db, &owners).await?;
    let file_limits = (
        state.config.max_file_bytes / (1024 * 1024),
        state.config.max_files_per_item,
    );
    state.render(
        "admin/documents.html",
        context! { documents, files, file_limits, notice, csrf => &session.csrf_token },
    )
}

async fn index(State(state): State<AppState>) -> AppResult<Html<String>> {
    let documents = service::list(&state.db).await?;
    state.render("documents/index.html", context! { documents })
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> AppResult<Html<String>> {
    let page = service::page(&state.db, parse_id(&id)?).await?;
    state.render("documents/show.html", context! { page })
}
