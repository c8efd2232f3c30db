//! `POST /attachments/{kind}/{id}` (upload, multipart), `POST /attachments/{id}/delete`, and
//! `GET /files/{sha256}/{name}` (download, under the visibility of what the file belongs to).
use axum::extract::{Multipart, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use entity::attachments;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use tower::ServiceExt;

use super::service;
use crate::accounts::extract::{CurrentUser, SignedForm};
use crate::accounts::{ClientIp, SignedIn};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::files::store::is_digest;
use crate::files::{file_url, thumbnail_name, FileStore, Kind, OwnerKind};
use crate::web::parse_id;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/attachments/{kind}/{id}",
            // Limits are enforced while the parts stream in (`read_uploads`), not by one cap.
            post(upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/attachments/{id}/delete", post(delete))
        .route("/files/{sha256}/{name}", get(download))
}

async fn upload(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SignedIn(session): SignedIn,
    Path((kind, id)): Path<(String, String)>,
    multipart: Multipart,
) -> AppResult<Response> {
    let kind = OwnerKind::parse(&kind).ok_or(AppError::NotFound)?;
    let id = parse_id(&id)?;
    // Who may attach is known before any byte of a file is read.
    let target = service::may_attach(&state.db, &session.actor, kind, id).await?;
    let uploads =
        service::read_uploads(&state.config, Some(&session.csrf_token), multipart).await?;
    match service::add(
        &state.db,
        &state.config,
        &session.actor,
        &target,
        uploads,
        &ip,
    )
    .await?
    {
        Ok(_) => Ok(
            Redirect::to(&crate::web::notice::after(&target.return_to, "attached")).into_response(),
        ),
        Err(message) => Err(AppError::Unprocessable(message)),
    }
}

async fn delete(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    SignedForm { session, .. }: SignedForm,
) -> AppResult<Redirect> {
    let back = service::remove(&state.db, &session.actor, parse_id(&id)?, &ip).await?;
    Ok(Redirect::to(&crate::web::notice::after(&back, "detached")))
}

async fn download(
    State(state): State<AppState>,
    CurrentUser(session): CurrentUser,
    Path((sha256, name)): Path<(String, String)>,
    request: Request,
) -> AppResult<Response> {
    if !is_digest(&sha256) {
        return Err(AppError::NotFound);
    }
    let rows = attachments::Entity::find()
        .filter(
            Condition::any()
                .add(attachments::Column::Sha256.eq(&sha256))
                .add(attachments::Column::ThumbnailSha256.eq(&sha256)),
        )
        .order_by_asc(attachments::Column::Id)
        .all(&state.db)
        .await?;
    let actor = session.as_ref().map(|s| &s.actor);
    // The same content may be attached to several items under several names: the visible row
    // of the name asked for, else any visible row (whose name the answer then leads to). Rows
    // are looked at in a bounded number.
    let mut seen: Option<attachments::Model> = None;
    for row in rows.into_iter().take(50) {
        let named = row.name == name || thumbnail_name(&row.name) == name;
        if seen.as_ref().is_some_and(|_| !named) {
            continue;
        }
        if service::may_view(&state.db, actor, &row).await? {
            let done = named;
            seen = Some(row);
            if done {
                break;
            }
        }
    }
    // Not visible and not there answer alike: a file's existence is not disclosed.
    let file = seen.ok_or(AppError::NotFound)?;
    let is_thumbnail = file.sha256 != sha256;
    let canonical = if is_thumbnail {
        thumbnail_name(&file.name)
    } else {
        file.name.clone()
    };
    if name != canonical {
        // Temporary: which names a content has changes with its rows.
        return Ok(Redirect::temporary(&file_url(&sha256, &canonical)).into_response());
    }
    let kind = if is_thumbnail {
        Kind::Png
    } else {
        Kind::parse(&file.kind).ok_or(AppError::NotFound)?
    };
    let public = match OwnerKind::parse(&file.owner_kind) {
        Some(owner) => service::owner_is_public(&state.db, owner, file.owner_id).await?,
        None => false,
    };
    let etag = format!("\"{sha256}\"");
    // Public files are revalidated on every use (a cheap 304 by ETag), so that one whose item is
    // unpublished or taken down stops being served at once, caches included.
    let cache = if public {
        "public, no-cache"
    } else {
        "private, no-store"
    };
    if if_none_match(request.headers(), &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        set(&mut response, header::ETAG, &etag);
        set(&mut response, header::CACHE_CONTROL, cache);
        return Ok(response);
    }
    let path = FileStore::new(&state.config.files_dir)
        .path(&sha256)
        .ok_or(AppError::NotFound)?;
    // tower-http's ServeFile answers ranges (206, 416) and streams the file.
    let served = tower_http::services::ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(|e| AppError::Unavailable(format!("附件无法读取:{e}")))?;
    if served.status() == StatusCode::NOT_FOUND {
        tracing::error!(%sha256, "an attachment's row names a file the store does not have");
        return Err(AppError::NotFound);
    }
    let mut response = served.map(axum::body::Body::new);
    set(&mut response, header::CONTENT_TYPE, kind.media_type());
    set(
        &mut response,
        header::CONTENT_DISPOSITION,
        &crate::files::kinds::content_disposition(&canonical, kind.inline()),
    );
    set(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // A file never runs script in the site's origin, even a PDF shown inline.
    set(&mut response, header::CONTENT_SECURITY_POLICY, "sandbox");
    set(&mut response, header::ETAG, &etag);
    set(&mut response, header::CACHE_CONTROL, cache);
    response.headers_mut().remove(header::LAST_MODIFIED);
    Ok(response)
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn set(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
