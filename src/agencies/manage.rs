//! The secretariat keeps the agency directory: adds agencies with their short names and aliases.
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use entity::agencies;
use minijinja::context;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::AgencyKind;
use crate::accounts::extract::{ClientIp, SignedForm};
use crate::accounts::policy::{self, Action};
use crate::accounts::SignedIn;
use crate::app::AppState;
use crate::error::AppResult;
use crate::web::form::check_text;
use crate::web::notice::Notice;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/agencies", get(index).post(create))
}

#[derive(Default, Deserialize, Serialize)]
struct AgencyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    short_name: String,
    #[serde(default)]
    aliases: String,
    #[serde(default)]
    kind: String,
}

async fn page(
    state: &AppState,
    csrf: &str,
    form: &AgencyForm,
    error: Option<String>,
    notice: Option<&str>,
) -> AppResult<Response> {
    let all = agencies::Entity::find()
        .order_by_asc(agencies::Column::Id)
        .all(&state.db)
        .await?;
    let kinds: Vec<_> = AgencyKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect();
    let error = error.as_deref();
    state.render_form(
        "admin/agencies.html",
        context! { agencies => all, kinds, form, error, csrf, notice },
        error,
    )
}

async fn index(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Notice(notice): Notice,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageAgencies)?;
    page(
        &state,
        &session.csrf_token,
        &AgencyForm::default(),
        None,
        notice,
    )
    .await
}

async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SignedForm {
        session,
        fields: form,
    }: SignedForm<AgencyForm>,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageAgencies)?;
    let kind = AgencyKind::parse(&form.kind);
    let checks = check_text("全称", &form.full_name, 400, true)
        .and(check_text("简称", &form.short_name, 100, true))
        .and(check_text("别名", &form.aliases, 1000, false))
        .and(
            kind.ok_or_else(|| "请选择单位类别。".to_owned())
                .map(|_| ()),
        );
    if let Err(message) = checks {
        return page(&state, &session.csrf_token, &form, Some(message), None).await;
    }
    let txn = crate::db::begin_write(&state.db).await?;
    if agencies::Entity::find()
        .filter(agencies::Column::FullName.eq(form.full_name.trim()))
        .one(&txn)
        .await?
        .is_some()
    {
        drop(txn);
        return page(
            &state,
            &session.csrf_token,
            &form,
            Some("同名单位已存在。".into()),
            None,
        )
        .await;
    }
    let aliases: Vec<&str> = form
        .aliases
        .split(['、', ',', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let now = Utc::now().fixed_offset();
    agencies::Entity::insert(agencies::ActiveModel {
        full_name: Set(form.full_name.trim().to_owned()),
        short_name: Set(form.short_name.trim().to_owned()),
        aliases: Set(serde_json::to_string(&aliases).map_err(anyhow::Error::from)?),
        kind: Set(kind.map(|k| k.as_str()).unwrap_or_default().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    crate::audit::record(
        &txn,
        Some(&session.actor),
        "agency_create",
        Some(form.full_name.trim().to_owned()),
        None,
        Some(&ip),
    )
    .await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    Ok(Redirect::to(&crate::web::notice::after("/admin/agencies", "saved")).into_response())
}
