//! `/proposals` (filterable list) and `/proposals/{code}`.
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;
use sea_orm::EntityTrait;
use serde::Deserialize;

use super::service::{self, ListFilter};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::statistics::Measure;
use crate::web::page_cache::Shows;
use crate::workflow::{Channel, ProposalStatus};

const PER_PAGE: u64 = 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/proposals", get(index))
        .route("/proposals/{code}", get(show))
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    status: Option<String>,
    channel: Option<String>,
    session: Option<String>,
    group: Option<String>,
    agency: Option<String>,
    year: Option<String>,
    page: Option<String>,
}

async fn index(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> AppResult<Html<String>> {
    // Unknown filter values are ignored (and shown as "all") rather than failing the page.
    let status = query
        .status
        .as_deref()
        .and_then(ProposalStatus::parse)
        .filter(|s| s.is_public());
    let channel = query.channel.as_deref().and_then(Channel::parse);
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, 100_000);
    let session = match query.session.as_deref().and_then(|s| s.parse::<i32>().ok()) {
        Some(number) => crate::visibility::published_session(&state.db, number).await?,
        None => None,
    };
    let measure = query.group.as_deref().and_then(Measure::parse);
    let agency = match query.agency.as_deref().and_then(|a| a.parse::<i32>().ok()) {
        Some(id) => {
            entity::agencies::Entity::find_by_id(id)
                .one(&state.db)
                .await?
        }
        None => None,
    };
    let year = query
        .year
        .as_deref()
        .and_then(|y| y.parse::<i32>().ok())
        .filter(|y| (1949..=2200).contains(y));
    let filter = ListFilter {
        status,
        channel,
        session_id: session.as_ref().map(|s| s.id),
        agency_id: agency.as_ref().map(|a| a.id),
        year,
        measure,
        page,
        per_page: PER_PAGE,
        ..Default::default()
    };
    let result = service::public_summaries(&state.db, &filter).await?;
    let pages = result.total.div_ceil(PER_PAGE).max(1);
    let statuses: Vec<_> = ProposalStatus::ALL
        .iter()
        .filter(|s| s.is_public())
        .map(|s| (s.as_str(), s.label()))
        .collect();
    let channels: Vec<_> = Channel::ALL
        .iter()
        .map(|c| (c.as_str(), c.label()))
        .collect();
    state.render(
        "proposals/index.html",
        context! {
            proposals => result.items,
            total => result.total,
            page, pages,
            status => status.map(|s| s.as_str()),
            channel => channel.map(|c| c.as_str()),
            session => session.map(|s| s.number),
            group => measure.map(|g| g.as_str()),
            group_label => measure.map(|g| g.label()),
            agency => agency.map(|a| (a.id, a.short_name)),
            year,
            statuses, channels,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    if !service::is_plausible_code(&code) {
        return Err(AppError::NotFound);
    }
    let key = crate::web::paths::proposal(&code);
    state
        .pages
        .page(&state.db, &key, Shows::Itself, &headers, || async {
            let page = service::public_page_snapshot(&state.db, &code).await?;
            Ok(state
                .templates
                .render("proposals/show.html", context! { page })?)
        })
        .await
}
