//! `/statistics` (public statistics across agencies, sessions, channels and years), its CSV tables
//! and SVG charts, and `/agencies/{id}/scorecard` (one agency, per year).
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde::Deserialize;

use super::service::{csv, dataset, ChartKind, Dimension};
use super::Selection;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/statistics", get(overview))
        .route("/statistics/{file}", get(table_csv))
        .route("/statistics/charts/{file}", get(chart_svg))
        .route("/agencies/{id}/scorecard", get(scorecard))
        .route("/agencies/{id}/scorecard.csv", get(scorecard_csv))
}

#[derive(Debug, Default, Deserialize)]
struct YearQuery {
    year: Option<String>,
}

impl YearQuery {
    /// A plausible year, or `None` (all years) for anything else.
    fn year(&self) -> Option<i32> {
        self.year
            .as_deref()
            .and_then(|y| y.trim().parse::<i32>().ok())
            .filter(|y| (1949..=2200).contains(y))
    }
}

fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

async fn overview(
    State(state): State<AppState>,
    Query(query): Query<YearQuery>,
) -> AppResult<Html<String>> {
    let year = query.year();
    let data = dataset(&state.db, crate::time::today()).await?;
    let total = data.tally(&Selection {
        year,
        ..Default::default()
    });
    let charts: Vec<(&str, String)> = ChartKind::ALL
        .iter()
        .map(|k| (k.as_str(), data.chart(*k, year)))
        .collect();
    let tables: Vec<_> = Dimension::ALL
        .iter()
        .filter(|d| !(year.is_some() && **d == Dimension::Year))
        .map(|d| {
            context! {
                dimension => d.as_str(),
                label => d.label(),
                rows => data.rows(*d, year),
            }
        })
        .collect();
    state.render(
        "statistics/index.html",
        context! {
            year, total, charts, tables,
            years => data.years,
            year_query => year.map(|y| format!("year={y}")).unwrap_or_default(),
        },
    )
}

async fn table_csv(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<YearQuery>,
) -> AppResult<Response> {
    let dimension = file
        .strip_suffix(".csv")
        .and_then(Dimension::parse)
        .ok_or(AppError::NotFound)?;
    let year = query.year();
    let data = dataset(&state.db, crate::time::today()).await?;
    let rows = data.rows(dimension, year);
    let name = match year {
        Some(y) => format!("tingshang-{}-{y}.csv", dimension.as_str()),
        None => format!("tingshang-{}.csv", dimension.as_str()),
    };
    Ok(csv_response(&name, csv(dimension, &rows)))
}

async fn chart_svg(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<YearQuery>,
) -> AppResult<Response> {
    let kind = file
        .strip_suffix(".svg")
        .and_then(ChartKind::parse)
        .ok_or(AppError::NotFound)?;
    let data = dataset(&state.db, crate::time::today()).await?;
    let svg = data.chart(kind, query.year());
    Ok((
        [(header::CONTENT_TYPE, "image/svg+xml; charset=utf-8")],
        svg,
    )
        .into_response())
}

async fn scorecard(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<YearQuery>,
) -> AppResult<Html<String>> {
    let id = parse_id(&id)?;
    let agency = crate::agencies::service::find(&state.db, id).await?;
    let year = query.year();
    let data = dataset(&state.db, crate::time::today()).await?;
    let selection = Selection {
        year,
        agency_id: Some(id),
        ..Default::default()
    };
    let tally = data.tally(&selection);
    let by_year = data.agency_years(id);
    let commitments = crate::agencies::service::commitments_of(&state.db, id, year).await?;
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
    let agency = crate::agencies::service::find(&state.db, id).await?;
    let data = dataset(&state.db, crate::time::today()).await?;
    let mut rows = data.agency_years(id);
    rows.push(super::service::Row {
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
