//! `Idempotency-Key` on API writes: a client that did not hear the answer (a timeout, a dropped
//! connection) sends the same request with the same key and gets the first answer, and the write
//! happens once. Keys belong to the token that sent them and are kept for a day.
//!
//! The first request claims the key (a row with no answer yet; the unique index makes a second,
//! concurrent request with the key a 409), runs, and a successful answer is stored; an error
//! frees the key (nothing was written, so the retry may run). The same key with another method,
//! path or body is a 422.
//! The answer is stored after the handler's own commit, so a process killed between the two leaves
//! a claimed key without an answer: its retries get 409 until the key expires, never a second
//! write.
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use entity::idempotency_keys;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::AppError;

pub const HEADER: &str = "idempotency-key";
/// How long an answer is kept for retries.
const KEEP_HOURS: i64 = 24;
/// Answers are small JSON documents; a bigger one is not kept.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// A key is 1–255 visible ASCII characters (a UUID, say).
pub fn is_valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

pub async fn replay_or_run(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match run(&state, request, next).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn run(state: &AppState, request: Request, next: Next) -> Result<Response, AppError> {
    let Some(key) = request.headers().get(HEADER) else {
        return Ok(next.run(request).await);
    };
    let key = key
        .to_str()
        .ok()
        .filter(|k| is_valid_key(k))
        .ok_or_else(|| AppError::bad_request("Idempotency-Key 须为 1–255 个可见 ASCII 字符。"))?
        .to_owned();
    // Without a token the request fails authentication anyway: nothing to keep.
    let Some(token) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return Ok(next.run(request).await);
    };
    let scope = sha256_hex(&[token.as_bytes()]);
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, super::MAX_JSON_BYTES)
        .await
        .map_err(|_| AppError::PayloadTooLarge)?;
    let digest = sha256_hex(&[
        parts.method.as_str().as_bytes(),
        parts.uri.path().as_bytes(),
        &body,
    ]);

    let known = idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::Scope.eq(&scope))
        .filter(idempotency_keys::Column::Key.eq(&key))
        .one(&state.db)
        .await?;
    if let Some(known) = known {
        return replay(known, &digest);
    }
    let claimed = idempotency_keys::Entity::insert(idempotency_keys::ActiveModel {
        scope: Set(scope.clone()),
        key: Set(key.clone()),
        request_digest: Set(digest),
        created_at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    })
    .exec(&state.db)
    .await;
    let claimed = match claimed {
        Ok(done) => done.last_insert_id,
        Err(err)
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Err(in_progress());
        }
        Err(err) => return Err(err.into()),
    };

    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = response.status();
    // Only a success is kept: an error wrote nothing, so its retry may as well run again (and
    // errors get their problem document from `web::errors` outside this layer).
    if !status.is_success() {
        idempotency_keys::Entity::delete_by_id(claimed)
            .exec(&state.db)
            .await?;
        return Ok(response);
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ANSWER_BYTES).await else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "an API answer outgrew the idempotency store"
        )));
    };
    let location = parts
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    idempotency_keys::Entity::update(idempotency_keys::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(claimed),
        status: Set(Some(i32::from(status.as_u16()))),
        location: Set(location),
        body: Set(Some(String::from_utf8_lossy(&bytes).into_owned())),
        ..Default::default()
    })
    .exec(&state.db)
    .await?;
    if claimed % 64 == 0 {
        let cutoff = (Utc::now() - chrono::Duration::hours(KEEP_HOURS)).fixed_offset();
        idempotency_keys::Entity::delete_many()
            .filter(idempotency_keys::Column::CreatedAt.lt(cutoff))
            .exec(&state.db)
            .await?;
    }
    parts.headers.insert(
        HEADER,
        HeaderValue::from_str(&key).unwrap_or(HeaderValue::from_static("")),
    );
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

fn in_progress() -> AppError {
    AppError::Conflict(
        "使用同一 Idempotency-Key 的请求正在处理或未能完成,请稍后再查询结果。".into(),
    )
}

/// The first answer again, if this is the same request.
fn replay(known: idempotency_keys::Model, digest: &str) -> Result<Response, AppError> {
    if known.request_digest != digest {
        return Err(AppError::Unprocessable(
            "此 Idempotency-Key 已用于另一个请求(方法、路径或请求体不同)。".into(),
        ));
    }
    let (Some(status), Some(body)) = (known.status, known.body) else {
        return Err(in_progress());
    };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    if let Some(value) = known.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(is_valid_key("5f1c3a9e-8d2b-4c1a-9e6f-0b7d2c4e8a10"));
        assert!(!is_valid_key(""));
        assert!(!is_valid_key("with space"));
        assert!(!is_valid_key("中文"));
        assert!(!is_valid_key(&"k".repeat(256)));
    }

    #[test]
    fn digests_separate_their_parts() {
        assert_ne!(sha256_hex(&[b"ab", b"c"]), sha256_hex(&[b"a", b"bc"]));
    }
}
