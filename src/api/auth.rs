//! Bearer-token authentication for the write endpoints. A token acts as its account, so the
//! workflow's permission table judges an API call exactly as it judges the same person's form.
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::accounts::{tokens, Actor};
use crate::app::AppState;
use crate::error::AppError;

/// The account a valid `Authorization: Bearer …` header acts as; 401 otherwise.
pub struct ApiActor(pub Actor);

impl FromRequestParts<AppState> for ApiActor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AppError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AppError::Unauthorized)?;
        tokens::authenticate(&state.db, token.trim())
            .await?
            .map(ApiActor)
            .ok_or(AppError::Unauthorized)
    }
}
