//! `/statistics` (public statistics across agencies, sessions, channels and years), its CSV tables
//! and SVG charts.
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;

use super::service::{csv, dataset, ChartKind, Dimension};
use super::Selection;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::csv::attachment as csv_response;
use crate::web::YearQuery;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/statistics", get(overview))
        .route("/statistics/{file}", get(table_csv))
        .route("/statistics/charts/{file}", get(chart_svg))
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
