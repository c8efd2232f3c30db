//! `/admin/privacy`: the secretariat's review of personal information found in incoming text, and
//! erasure or correction requests on what is already published.
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;

use super::service::{self, Judgement};
use crate::accounts::extract::SignedForm;
use crate::accounts::SignedIn;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::privacy::store::ItemKind;
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/privacy", get(notice))
        .route("/admin/privacy", get(queue))
        .route("/admin/privacy/requests", post(request))
        .route("/admin/privacy/{kind}/{id}", get(review).post(judge))
}

/// 隐私说明: what personal information the archive holds, how long, and how to ask for erasure.
async fn notice(State(state): State<AppState>) -> AppResult<Response> {
    Ok(state
        .render(
            "privacy.html",
            context! { retention_days => state.config.personal_data_retention_days },
        )?
        .into_response())
}

async fn queue(State(state): State<AppState>, SignedIn(session): SignedIn) -> AppResult<Response> {
    queue_page(&state, &session, None, None).await
}

async fn queue_page(
    state: &AppState,
    session: &crate::accounts::sessions::Session,
    error: Option<&str>,
    done: Option<String>,
) -> AppResult<Response> {
    let waiting = service::queue(&state.db, &session.actor).await?;
    state.render_form(
        "admin/privacy.html",
        context! { waiting, csrf => &session.csrf_token, error, done },
        error,
    )
}

fn item(kind: &str, id: &str) -> AppResult<(ItemKind, i32)> {
    Ok((
        ItemKind::parse(kind).ok_or(AppError::NotFound)?,
        parse_id(id)?,
    ))
}

async fn review(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    SignedIn(session): SignedIn,
    crate::web::notice::Notice(notice): crate::web::notice::Notice,
) -> AppResult<Response> {
    let (kind, id) = item(&kind, &id)?;
    let review = service::review(&state.db, &session.actor, kind, id).await?;
    Ok(state
        .render(
            "admin/privacy_review.html",
            context! { review, notice, csrf => &session.csrf_token },
        )?
        .into_response())
}

/// The form sends `finding-<id>` = `redact` or `not_personal` for each finding judged.
async fn judge(
    State(state): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    let (kind, id) = item(&kind, &id)?;
    let mut judgements = Vec::new();
    for (name, value) in fields.iter() {
        let Some(finding) = name.strip_prefix("finding-") else {
            continue;
        };
        let finding = parse_id(finding).map_err(|_| AppError::bad_request("表单有误。"))?;
        let judgement = match value {
            "redact" => Judgement::Redact,
            "not_personal" => Judgement::NotPersonal,
            "" => continue,
            _ => return Err(AppError::bad_request("表单有误。")),
        };
        judgements.push((finding, judgement));
    }
    service::judge(&state.db, &session.actor, kind, id, &judgements).await?;
    Ok(Redirect::to(&crate::web::notice::after(
        &format!("/admin/privacy/{}/{id}", kind.as_str()),
        "judged",
    ))
    .into_response())
}

async fn request(
    State(state): State<AppState>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    let result = service::request(
        &state.db,
        &session.actor,
        fields.get("value"),
        Some(fields.get("code")),
        fields.get("reason"),
        fields.get("erase") == "on",
    )
    .await;
    match result {
        Ok(changed) => {
            let done = format!("已在 {changed} 项记录中隐去,公开页面、检索、订阅和导出随即更新。");
            queue_page(&state, &session, None, Some(done)).await
        }
        Err(AppError::BadRequest(message)) => {
            queue_page(&state, &session, Some(&message), None).await
        }
        Err(other) => Err(other),
    }
}
