//! Bearer-token authentication for the write endpoints. A token acts as its account, so the
//! workflow's permission table judges an API call exactly as it judges the same person's form.
//! The write-API limiter (`api::rate_limit::limit_writes`) authenticates first, to count requests
//! by token, and leaves its verdict in the request for [`ApiActor`].
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::accounts::tokens::{self, TokenActor};
use crate::accounts::Actor;
use crate::app::AppState;
use crate::error::{AppError, AppResult};

/// The account a valid `Authorization: Bearer …` header acts as; 401 otherwise.
pub struct ApiActor(pub Actor);

/// A request's authentication, done once: `None` when it carries no valid token.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Option<TokenActor>);

/// The token of an `Authorization: Bearer …` header, without the spaces around it.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let header = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))?;
    Some(token.trim())
}

/// Checks the request's bearer token.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> AppResult<Authenticated> {
    Ok(Authenticated(match bearer_token(headers) {
        Some(token) => tokens::authenticate(&state.db, token).await?,
        None => None,
    }))
}

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let authenticated = match parts.extensions.get::<Authenticated>() {
            Some(done) => done.clone(),
            None => authenticate(state, &parts.headers).await?,
        };
        authenticated
            .0
            .map(|t| ApiActor(t.actor))
            .ok_or(AppError::Unauthorized)
    }
}
