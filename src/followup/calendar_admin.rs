//! `/admin/calendar`: the secretariat keeps the official days off and make-up working days that
//! every deadline is counted on.
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, Utc};
use entity::calendar_days;
use minijinja::context;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::deadlines::DayKind;
use crate::accounts::extract::SignedForm;
use crate::accounts::policy::{self, Action};
use crate::accounts::SignedIn;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::web::form::check_text;
use crate::web::notice::Notice;
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/calendar", get(index).post(add))
        .route("/admin/calendar/{id}/delete", post(remove))
}

async fn page(
    state: &AppState,
    csrf: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> AppResult<Response> {
    let days = calendar_days::Entity::find()
        .order_by_asc(calendar_days::Column::Day)
        .all(&state.db)
        .await?;
    let kinds: Vec<_> = DayKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect();
    let rows: Vec<_> = days
        .iter()
        .map(|d| context! { id => d.id, day => d.day, kind => DayKind::parse(&d.kind).map(|k| k.label()), note => &d.note })
        .collect();
    state.render_form(
        "admin/calendar.html",
        context! { days => rows, kinds, csrf, error, notice },
        error,
    )
}

async fn index(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Notice(notice): Notice,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageCalendar)?;
    page(&state, &session.csrf_token, None, notice).await
}

async fn add(
    State(state): State<AppState>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageCalendar)?;
    let parsed = (|| {
        let from = fields.date("from", "起始日期")?;
        let to = fields.optional_date("to", "结束日期")?.unwrap_or(from);
        let kind = DayKind::parse(fields.get("kind")).ok_or("请选择类型。")?;
        check_text("说明", fields.get("note"), 200, true)?;
        if to < from || (to - from).num_days() > 31 {
            return Err("结束日期须不早于起始日期,且一次最多录入32天。".to_owned());
        }
        Ok((from, to, kind))
    })();
    let (from, to, kind) = match parsed {
        Ok(v) => v,
        Err(message) => return page(&state, &session.csrf_token, Some(&message), None).await,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    calendar_days::Entity::delete_many()
        .filter(calendar_days::Column::Day.is_in(days.clone()))
        .exec(&txn)
        .await?;
    for day in &days {
        calendar_days::Entity::insert(calendar_days::ActiveModel {
            day: Set(*day),
            kind: Set(kind.as_str().into()),
            note: Set(fields.get("note").trim().to_owned()),
            created_at: Set(Utc::now().fixed_offset()),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
    }
    let target = format!("{from}…{to} {}", kind.as_str());
    crate::audit::record(
        &txn,
        Some(&session.actor),
        "calendar_set",
        Some(target),
        Some(fields.get("note").to_owned()),
        None,
    )
    .await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    Ok(Redirect::to(&crate::web::notice::after("/admin/calendar", "added")).into_response())
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { session, .. }: SignedForm,
) -> AppResult<Redirect> {
    policy::require(&session.actor, Action::ManageCalendar)?;
    let id = parse_id(&id)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let day = calendar_days::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    calendar_days::Entity::delete_by_id(id).exec(&txn).await?;
    crate::audit::record(
        &txn,
        Some(&session.actor),
        "calendar_remove",
        Some(day.day.to_string()),
        None,
        None,
    )
    .await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    Ok(Redirect::to(&crate::web::notice::after(
        "/admin/calendar",
        "removed",
    )))
}
