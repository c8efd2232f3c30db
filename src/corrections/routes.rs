//! `/corrections/{kind}/{id}` (the correction form) and the public histories,
//! `/proposals/{code}/history` and `/sessions/{number}/history`.
use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;

use super::service::{self, Editable, Refused, Submitted};
use crate::accounts::extract::SignedForm;
use crate::accounts::{ClientIp, SignedIn};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::versions::{Field, TargetKind};
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/corrections/{kind}/{id}", get(form).post(submit))
        .route("/proposals/{code}/history", get(proposal_history))
        .route("/sessions/{number}/history", get(session_history))
}

fn target(kind: &str, id: &str) -> AppResult<(TargetKind, i32)> {
    Ok((
        TargetKind::parse(kind).ok_or(AppError::NotFound)?,
        parse_id(id)?,
    ))
}

fn page(
    state: &AppState,
    csrf: &str,
    item: &Editable,
    values: &HashMap<Field, String>,
    reason: &str,
    error: Option<String>,
) -> AppResult<Response> {
    let fields: Vec<_> = item
        .fields
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if let Some(v) = values.get(&f.field) {
                f.value.clone_from(v);
            }
            f
        })
        .collect();
    state.render_form(
        "corrections/form.html",
        context! { csrf, item, fields, reason, error => &error },
        error.as_deref(),
    )
}

async fn form(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path((kind, id)): Path<(String, String)>,
) -> AppResult<Response> {
    let (kind, id) = target(&kind, &id)?;
    let item = service::editable(&state.db, &session.actor, kind, id).await?;
    page(
        &state,
        &session.csrf_token,
        &item,
        &HashMap::new(),
        "",
        None,
    )
}

async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((kind, id)): Path<(String, String)>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    let (kind, id) = target(&kind, &id)?;
    let values: HashMap<Field, String> = Field::ALL
        .iter()
        .filter_map(|f| {
            fields
                .iter()
                .find(|(name, _)| *name == f.as_str())
                .map(|(_, v)| (*f, v.to_owned()))
        })
        .collect();
    let reason = fields.get("reason");
    let submitted = Submitted {
        values: values.iter().map(|(f, v)| (*f, v.as_str())).collect(),
        reason,
        base: fields.get("base"),
    };
    match service::correct(&state.db, &session.actor, kind, id, &submitted, &ip).await? {
        Ok(history) => {
            state.indexer.wake();
            Ok(Redirect::to(&history).into_response())
        }
        Err(refused) => {
            let conflict = matches!(refused, Refused::Conflict);
            let item = service::editable(&state.db, &session.actor, kind, id).await?;
            let message = match refused {
                Refused::Invalid(message) => message,
                Refused::Unchanged => "内容与已公开的版本相同,没有需要更正的地方。".to_owned(),
                Refused::Conflict => {
                    "打开表单后,这项内容已被他人更正。下面是最新的内容,请在此基础上重新修改。"
                        .to_owned()
                }
            };
            // After a conflict the form shows the current text, not the stale one typed.
            let values = if conflict { HashMap::new() } else { values };
            page(
                &state,
                &session.csrf_token,
                &item,
                &values,
                reason,
                Some(message),
            )
        }
    }
}

async fn proposal_history(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<Html<String>> {
    // Codes are short ASCII words (TS-2023-027-01); anything else names nothing.
    if code.len() > 64 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(AppError::NotFound);
    }
    let history = service::proposal_history(&state.db, &code, true).await?;
    state.render("corrections/history.html", context! { history })
}

async fn session_history(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> AppResult<Html<String>> {
    let history = service::session_history(&state.db, parse_id(&number)?, true).await?;
    state.render("corrections/history.html", context! { history })
}
