//! `/admin/synonyms`: the secretariat curates words that mean the same (高企 = 高新技术企业).
//! A change applies to both backends from the next query, without a reindex: queries expand a
//! group's word into all of its members (see `query.rs`).
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use entity::search_synonyms;
use minijinja::context;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};

use super::documents::synonym_words;
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
        .route("/admin/synonyms", get(index).post(add))
        .route("/admin/synonyms/{id}/delete", post(remove))
}

async fn page(
    state: &AppState,
    csrf: &str,
    error: Option<&str>,
    notice: Option<&str>,
) -> AppResult<Response> {
    let rows: Vec<_> = search_synonyms::Entity::find()
        .order_by_asc(search_synonyms::Column::Id)
        .all(&state.db)
        .await?
        .iter()
        .map(|row| context! { id => row.id, words => synonym_words(&row.words), note => &row.note, created_at => row.created_at })
        .collect();
    state.render_form(
        "admin/synonyms.html",
        context! { groups => rows, csrf, error, notice },
        error,
    )
}

async fn index(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Notice(notice): Notice,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::CurateSynonyms)?;
    page(&state, &session.csrf_token, None, notice).await
}

/// Words of a new group: two to twenty, each 1–30 characters with a letter, digit or CJK
/// character in it, no word twice.
fn checked_words(raw: &str) -> Result<Vec<String>, String> {
    let words = synonym_words(raw);
    let mut seen: Vec<String> = Vec::new();
    for word in &words {
        check_text("同义词", word, 30 * 4, true)?;
        if word.chars().count() > 30 {
            return Err(format!("“{word}”超过 30 个字。"));
        }
        if !word.chars().any(char::is_alphanumeric) {
            return Err(format!("“{word}”中没有文字。"));
        }
        let folded = super::text::fold(word);
        if seen.contains(&folded) {
            return Err(format!("“{word}”重复。"));
        }
        seen.push(folded);
    }
    if !(2..=20).contains(&words.len()) {
        return Err("一组同义词须有 2 至 20 个词,用“=”分隔。".into());
    }
    Ok(words)
}

async fn add(
    State(state): State<AppState>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::CurateSynonyms)?;
    let parsed = checked_words(fields.get("words"))
        .and_then(|words| check_text("说明", fields.get("note"), 200 * 4, false).map(|_| words));
    let words = match parsed {
        Ok(words) => words.join(" = "),
        Err(message) => return page(&state, &session.csrf_token, Some(&message), None).await,
    };
    let txn = crate::db::begin_write(&state.db).await?;
    search_synonyms::Entity::insert(search_synonyms::ActiveModel {
        words: Set(words.clone()),
        note: Set(fields.get("note").trim().to_owned()),
        created_at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    crate::audit::record(
        &txn,
        Some(&session.actor),
        "synonyms_add",
        Some(words),
        Some(fields.get("note").to_owned()),
        None,
    )
    .await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    apply(&state).await;
    Ok(Redirect::to(&crate::web::notice::after("/admin/synonyms", "added")).into_response())
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { session, .. }: SignedForm,
) -> AppResult<Redirect> {
    policy::require(&session.actor, Action::CurateSynonyms)?;
    let id = parse_id(&id)?;
    let txn = crate::db::begin_write(&state.db).await?;
    let row = search_synonyms::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    search_synonyms::Entity::delete_by_id(id).exec(&txn).await?;
    crate::audit::record(
        &txn,
        Some(&session.actor),
        "synonyms_remove",
        Some(row.words),
        None,
        None,
    )
    .await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    apply(&state).await;
    Ok(Redirect::to(&crate::web::notice::after(
        "/admin/synonyms",
        "removed",
    )))
}

/// Hands the new list to this instance's backend now; other instances load it within
/// `outbox::SYNONYMS_REFRESH`, and a failure here is retried by that same refresh.
async fn apply(state: &AppState) {
    if let Err(err) = state.indexer.refresh_synonyms().await {
        tracing::warn!(error = %format!("{err:#}"), "applying synonyms failed; the next refresh retries");
    }
}
