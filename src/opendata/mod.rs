//! Open data beyond the JSON API: Atom feeds, streamed exports, and the archive format used by
//! `export`/`import` (CLI and the admin upload page).
pub mod archive;
mod export;
pub mod feeds;
mod upload;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::app::AppState;

/// Largest archive accepted by the admin upload form.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

/// Feeds and exports: under `web::conditional` (ETag, CORS) in `app::router`.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/feeds/proposals.atom", get(feeds::proposals_feed))
        .route("/feeds/responses.atom", get(feeds::responses_feed))
        .route("/agencies/{id}/feed.atom", get(feeds::agency_feed))
        .route("/sessions/{number}/feed.atom", get(feeds::session_feed))
        .route("/proposals/{code}/feed.atom", get(feeds::proposal_feed))
        .route("/api/v1/export/{file}", get(export::export))
}

/// The feed of a search: follows the index, not the content revision, so it is outside the
/// revision-based validators (`cors` only, as the search API).
pub fn search_routes() -> Router<AppState> {
    Router::new().route("/search.atom", get(feeds::search_feed))
}

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/admin/import",
        get(upload::form)
            .post(upload::submit)
            .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
    )
}
