//! The secretariat runs sessions: create them, add participants, publish or withdraw them.
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{NaiveDate, Utc};
use entity::{people, proposals, session_participants, sessions};
use minijinja::context;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use crate::accounts::extract::{ClientIp, SignedForm};
use crate::accounts::policy::{self, Action};
use crate::accounts::SignedIn;
use crate::app::AppState;
use crate::directory::PersonKind;
use crate::error::{AppError, AppResult};
use crate::web::form::{check_text, MAX_BODY_BYTES};
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/sessions", get(index).post(create))
        .route("/admin/sessions/{number}", get(edit))
        .route(
            "/admin/sessions/{number}/participants",
            post(add_participant),
        )
        .route("/admin/sessions/{number}/publish", post(publish))
}

#[derive(Default, Deserialize, serde::Serialize)]
struct SessionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    held_on: String,
    #[serde(default)]
    organisers: String,
    #[serde(default)]
    summary_md: String,
}

async fn list_page(
    state: &AppState,
    csrf: &str,
    form: &SessionForm,
    error: Option<String>,
) -> AppResult<Response> {
    let all = sessions::Entity::find()
        .order_by_desc(sessions::Column::Number)
        .all(&state.db)
        .await?;
    let error = error.as_deref();
    state.render_form(
        "admin/sessions.html",
        context! { sessions => all, form, error, csrf },
        error,
    )
}

async fn index(State(state): State<AppState>, SignedIn(session): SignedIn) -> AppResult<Response> {
    policy::require(&session.actor, Action::RunSessions)?;
    list_page(&state, &session.csrf_token, &SessionForm::default(), None).await
}

fn validate(form: &SessionForm) -> Result<(i32, NaiveDate, Vec<String>), String> {
    let number: i32 = form
        .number
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or("期数须为正整数。")?;
    let held_on = crate::time::parse_date(&form.held_on)
        .ok_or("日期须为 2026-09-28 或 2026/09/28 这样的格式。")?;
    let held_on = crate::time::check_record_date(held_on, "日期")?;
    check_text("主题", &form.topic, 400, true)?;
    check_text("概要", &form.summary_md, MAX_BODY_BYTES, false)?;
    check_text("主办单位", &form.organisers, 1000, false)?;
    // A session's record is the secretariat's own public text: a private person's details have
    // no place in it, and there is no review between writing and publishing it.
    crate::privacy::refuse_personal("主题", &form.topic)?;
    crate::privacy::refuse_personal("概要", &form.summary_md)?;
    let organisers = form
        .organisers
        .split(['、', ',', ',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Ok((number, held_on, organisers))
}

async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SignedForm {
        session,
        fields: form,
    }: SignedForm<SessionForm>,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::RunSessions)?;
    let (number, held_on, organisers) = match validate(&form) {
        Ok(v) => v,
        Err(message) => return list_page(&state, &session.csrf_token, &form, Some(message)).await,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    if sessions::Entity::find()
        .filter(sessions::Column::Number.eq(number))
        .one(&txn)
        .await?
        .is_some()
    {
        drop(txn);
        return list_page(
            &state,
            &session.csrf_token,
            &form,
            Some(format!("第{number}期已存在。")),
        )
        .await;
    }
    let now = Utc::now().fixed_offset();
    let id = sessions::Entity::insert(sessions::ActiveModel {
        number: Set(number),
        topic: Set(form.topic.trim().to_owned()),
        held_on: Set(held_on),
        organisers: Set(serde_json::to_string(&organisers).map_err(anyhow::Error::from)?),
        summary_md: Set(form.summary_md.clone()),
        media_links: Set("[]".into()),
        published: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await?
    .last_insert_id;
    crate::search::outbox::enqueue(&txn, crate::search::documents::SESSION, id).await?;
    crate::audit::record(
        &txn,
        Some(&session.actor),
        "session_create",
        Some(format!("第{number}期")),
        None,
        Some(&ip),
    )
    .await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    Ok(Redirect::to(&crate::web::notice::after(
        &format!("/admin/sessions/{number}"),
        "created",
    ))
    .into_response())
}

async fn find(state: &AppState, number: &str) -> AppResult<sessions::Model> {
    let number = parse_id(number)?;
    sessions::Entity::find()
        .filter(sessions::Column::Number.eq(number))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

async fn edit_page(
    state: &AppState,
    csrf: &str,
    number: &str,
    error: Option<String>,
    notice: Option<&str>,
) -> AppResult<Response> {
    let session = find(state, number).await?;
    let participants = session_participants::Entity::find()
        .filter(session_participants::Column::SessionId.eq(session.id))
        .find_also_related(people::Entity)
        .order_by_asc(session_participants::Column::SortOrder)
        .all(&state.db)
        .await?
        .into_iter()
        .filter_map(|(p, person)| person.map(|person| context! { name => person.name, role => crate::directory::PersonKind::parse(&p.role).map(|k| k.label()), post => p.post_as_printed }))
        .collect::<Vec<_>>();
    let everyone = people::Entity::find()
        .order_by_asc(people::Column::Name)
        .all(&state.db)
        .await?;
    let kinds: Vec<_> = PersonKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect();
    let error = error.as_deref();
    let key = (crate::files::OwnerKind::Session, session.id);
    let files = crate::attachments::service::listed(&state.db, &[key])
        .await?
        .remove(&format!("session:{}", session.id))
        .unwrap_or_default();
    let file_limits = (
        state.config.max_file_bytes / (1024 * 1024),
        state.config.max_files_per_item,
    );
    state.render_form(
        "admin/session.html",
        context! { session, participants, people => everyone, kinds, error, csrf, files, file_limits, notice },
        error,
    )
}

async fn edit(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(number): Path<String>,
    crate::web::notice::Notice(notice): crate::web::notice::Notice,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::RunSessions)?;
    edit_page(&state, &session.csrf_token, &number, None, notice).await
}

#[derive(Deserialize)]
struct ParticipantForm {
    person_id: Option<String>,
    new_name: Option<String>,
    role: String,
    post: String,
}

async fn add_participant(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(number): Path<String>,
    SignedForm {
        session,
        fields: form,
    }: SignedForm<ParticipantForm>,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::RunSessions)?;
    let target = find(&state, &number).await?;
    let role =
        PersonKind::parse(&form.role).ok_or_else(|| AppError::bad_request("请选择参加身份。"))?;
    let new_name = form.new_name.as_deref().map(str::trim).unwrap_or_default();
    let existing = form
        .person_id
        .as_deref()
        .and_then(|p| p.parse::<i32>().ok());
    let checks =
        check_text("职务", &form.post, 400, true).and(check_text("姓名", new_name, 100, false));
    if let Err(message) = checks {
        return edit_page(&state, &session.csrf_token, &number, Some(message), None).await;
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let now = Utc::now().fixed_offset();
    let person_id = match (existing, new_name.is_empty()) {
        (Some(id), true) => {
            people::Entity::find_by_id(id)
                .one(&txn)
                .await?
                .ok_or(AppError::NotFound)?
                .id
        }
        (None, false) => {
            people::Entity::insert(people::ActiveModel {
                name: Set(new_name.to_owned()),
                kind: Set(role.as_str().into()),
                post: Set(form.post.trim().to_owned()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec(&txn)
            .await?
            .last_insert_id
        }
        _ => {
            drop(txn);
            return edit_page(
                &state,
                &session.csrf_token,
                &number,
                Some("请选择已有人员,或填写新人员姓名(二选一)。".into()),
                None,
            )
            .await;
        }
    };
    let order = session_participants::Entity::find()
        .filter(session_participants::Column::SessionId.eq(target.id))
        .all(&txn)
        .await?
        .len();
    session_participants::Entity::insert(session_participants::ActiveModel {
        session_id: Set(target.id),
        person_id: Set(person_id),
        role: Set(role.as_str().into()),
        post_as_printed: Set(form.post.trim().to_owned()),
        sort_order: Set(order as i32),
        ..Default::default()
    })
    .exec(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Conflict("此人已以该身份参加本期活动。".into())
        }
        _ => AppError::Database(e),
    })?;
    crate::search::outbox::enqueue(&txn, crate::search::documents::SESSION, target.id).await?;
    crate::audit::record(
        &txn,
        Some(&session.actor),
        "participant_add",
        Some(format!("第{}期", target.number)),
        None,
        Some(&ip),
    )
    .await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    Ok(Redirect::to(&crate::web::notice::after(
        &format!("/admin/sessions/{}", target.number),
        "added",
    ))
    .into_response())
}

#[derive(Deserialize)]
struct PublishForm {
    published: String,
}

async fn publish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(number): Path<String>,
    SignedForm {
        session,
        fields: form,
    }: SignedForm<PublishForm>,
) -> AppResult<Redirect> {
    policy::require(&session.actor, Action::RunSessions)?;
    let target = find(&state, &number).await?;
    let published = form.published == "true";
    let txn = crate::db::begin_write(&state.db).await?;
    sessions::Entity::update_many()
        .col_expr(sessions::Column::Published, published.into())
        .col_expr(
            sessions::Column::UpdatedAt,
            Utc::now().fixed_offset().into(),
        )
        .filter(sessions::Column::Id.eq(target.id))
        .exec(&txn)
        .await?;
    crate::search::outbox::enqueue(&txn, crate::search::documents::SESSION, target.id).await?;
    // Its proposals' documents name the session only while it is published.
    let linked: Vec<i32> = proposals::Entity::find()
        .filter(proposals::Column::SessionId.eq(target.id))
        .select_only()
        .column(proposals::Column::Id)
        .into_tuple()
        .all(&txn)
        .await?;
    for id in linked {
        crate::search::outbox::enqueue(&txn, crate::search::documents::PROPOSAL, id).await?;
    }
    let action = if published {
        "session_publish"
    } else {
        "session_unpublish"
    };
    crate::audit::record(
        &txn,
        Some(&session.actor),
        action,
        Some(format!("第{}期", target.number)),
        None,
        Some(&ip),
    )
    .await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    state.indexer.wake();
    Ok(Redirect::to(&crate::web::notice::after(
        &format!("/admin/sessions/{}", target.number),
        if action == "session_publish" {
            "published"
        } else {
            "unpublished"
        },
    )))
}
