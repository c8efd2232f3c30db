//! `/work/actuals`: agency staff (and the secretariat) upload a spreadsheet of reported actuals
//! (`bulk`), after downloading the template of their commitments.
use axum::extract::{Multipart, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use super::bulk::{self, Outcome, Refused, RowError};
use crate::accounts::extract::check_csrf;
use crate::accounts::SignedIn;
use crate::app::AppState;
use crate::error::{AppError, AppResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/work/actuals",
            get(form)
                .post(upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    bulk::MAX_BYTES + 64 * 1024,
                )),
        )
        .route("/work/actuals/template.csv", get(template))
}

fn page(
    state: &AppState,
    session: &crate::accounts::sessions::Session,
    outcome: Option<Outcome>,
    errors: Vec<RowError>,
    error: Option<String>,
) -> AppResult<Response> {
    let failed = error.is_some() || !errors.is_empty();
    let message = match (&error, errors.len()) {
        (Some(message), _) => Some(message.clone()),
        (None, 0) => None,
        (None, n) => Some(format!(
            "文件中有 {n} 行有误,未写入任何数据。请改正后重新上传。"
        )),
    };
    state.render_form(
        "followup/actuals.html",
        context! {
            csrf => &session.csrf_token, outcome, errors, error => message,
            columns => bulk::COLUMNS, max_rows => bulk::MAX_ROWS,
        },
        failed.then_some("refused"),
    )
}

async fn form(State(state): State<AppState>, SignedIn(session): SignedIn) -> AppResult<Response> {
    if !bulk::may_upload(&session.actor) {
        return Err(AppError::Forbidden);
    }
    page(&state, &session, None, Vec::new(), None)
}

async fn template(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> AppResult<Response> {
    if !bulk::may_upload(&session.actor) {
        return Err(AppError::Forbidden);
    }
    // Agency staff get their own agency's commitments; the secretariat gets every agency's.
    let agency = if session.actor.is_secretariat() {
        None
    } else {
        Some(session.actor.agency_id.ok_or(AppError::Forbidden)?)
    };
    let body = bulk::template(&state.db, agency).await?;
    Ok(crate::web::csv::attachment("actuals-template.csv", body))
}

async fn upload(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    mut multipart: Multipart,
) -> AppResult<Response> {
    if !bulk::may_upload(&session.actor) {
        return Err(AppError::Forbidden);
    }
    let mut csrf = String::new();
    let mut file = None;
    let unreadable = |_| AppError::bad_request("上传的内容无法读取。");
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(unreadable)?,
            Some("file") => file = Some(field.bytes().await.map_err(unreadable)?),
            _ => {}
        }
    }
    // A multipart upload, not a `SignedForm`: the token is checked here, before anything else.
    check_csrf(&session.csrf_token, &csrf)?;
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        return page(
            &state,
            &session,
            None,
            Vec::new(),
            Some("请选择要上传的文件。".into()),
        );
    };
    match bulk::import(&state.db, &session.actor, &file).await {
        Ok(outcome) => {
            state.indexer.wake();
            page(&state, &session, Some(outcome), Vec::new(), None)
        }
        Err(Refused::File(message)) => page(&state, &session, None, Vec::new(), Some(message)),
        Err(Refused::Rows(errors)) => page(&state, &session, None, errors, None),
        Err(Refused::Other(err)) => Err(err),
    }
}
