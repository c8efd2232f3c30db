//! `/agencies/{id}/scorecard` (问责): one agency's handling figures per year, as a page and as CSV,
//! counted by `statistics` like every other figure.
use axum::extract::{Path, Query, State};
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;

use crate::app::AppState;
use crate::error::AppResult;
use crate::statistics::service::{csv, dataset, Dimension};
use crate::statistics::Selection;
use crate::web::csv::attachment as csv_response;
use crate::web::{parse_id, YearQuery};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agencies/{id}/scorecard", get(scorecard))
        .route("/agencies/{id}/scorecard.csv", get(scorecard_csv))
}

async fn scorecard(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<YearQuery>,
) -> AppResult<Html<String>> {
    let id = parse_id(&id)?;
    let agency = super::service::find(&state.db, id).await?;
    let year = query.year();
    let data = dataset(&state.db, crate::time::today()).await?;
    let selection = Selection {
        year,
        agency_id: Some(id),
        ..Default::default()
    };
    let tally = data.tally(&selection);
    let by_year = data.agency_years(id);
    let commitments = super::service::commitments_of(&state.db, id, year).await?;
    let query = match year {
        Some(y) => format!("agency={id}&year={y}"),
        None => format!("agency={id}"),
    };
    state.render(
        "agencies/scorecard.html",
        context! { agency, year, tally, by_year, commitments, query, years => data.years },
    )
}

async fn scorecard_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let agency = super::service::find(&state.db, id).await?;
    let data = dataset(&state.db, crate::time::today()).await?;
    let mut rows = data.agency_years(id);
    rows.push(crate::statistics::service::Row {
        label: "合计".into(),
        href: None,
        query: format!("agency={id}"),
        tally: data.tally(&Selection {
            agency_id: Some(id),
            ..Default::default()
        }),
    });
    Ok(csv_response(
        &format!("tingshang-agency-{}.csv", agency.id),
        csv(Dimension::Year, &rows),
    ))
}
