//! Request extractors: who is signed in, and the CSRF check every state-changing form passes.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::cookies;
use super::sessions::{self, Session};
use crate::app::AppState;
use crate::error::AppError;

/// The signed-in user's session, if any. Never rejects.
pub struct CurrentUser(pub Option<Session>);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = cookies::get(&parts.headers, cookies::SESSION) else {
            return Ok(Self(None));
        };
        Ok(Self(sessions::lookup(&state.db, token).await?))
    }
}

/// A signed-in user; anonymous requests get the "需要登录" page (401).
pub struct SignedIn(pub Session);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match CurrentUser::from_request_parts(parts, state).await?.0 {
            Some(session) => Ok(Self(session)),
            None => Err(AppError::Unauthorized),
        }
    }
}

/// Compares the form's token with the session's in constant time.
pub fn check_csrf(expected: &str, given: &str) -> Result<(), AppError> {
    if crate::web::constant_time_eq(expected.as_bytes(), given.as_bytes()) && !expected.is_empty() {
        Ok(())
    } else {
        Err(AppError::Csrf)
    }
}

/// The client's address (`web::client_addr`: the peer, or what a trusted proxy says it forwarded
/// for; "unknown" when the server runs without connection info).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(crate::web::client_addr::of_request(
            &parts.headers,
            &parts.extensions,
            &state.config.trusted_proxies,
        )))
    }
}

/// A form posted by a signed-in user, with its CSRF token already checked: the one way handlers
/// receive state-changing forms. `T` is the form's fields: [`Fields`](crate::web::form::Fields)
/// (name → values) by default, or any deserializable struct (a `csrf` field it need not have).
pub struct SignedForm<T = crate::web::form::Fields> {
    pub session: Session,
    pub fields: T,
}

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for SignedForm<T> {
    type Rejection = AppError;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unreadable = || AppError::bad_request("表单内容无法读取(编码不正确或格式有误)。");
        let (mut parts, body) = request.into_parts();
        let SignedIn(session) = SignedIn::from_request_parts(&mut parts, state).await?;
        let is_form = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(unreadable());
        }
        let request = axum::extract::Request::from_parts(parts, body);
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    unreadable()
                }
            })?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| unreadable())?;
        let csrf = pairs
            .iter()
            .find(|(name, _)| name == "csrf")
            .map_or("", |(_, value)| value.as_str());
        check_csrf(&session.csrf_token, csrf)?;
        let fields = serde_urlencoded::from_bytes(&bytes).map_err(|_| unreadable())?;
        Ok(Self { session, fields })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn csrf_tokens_must_match_exactly() {
        assert!(super::check_csrf("abc", "abc").is_ok());
        assert!(super::check_csrf("abc", "abd").is_err());
        assert!(super::check_csrf("abc", "ab").is_err());
        assert!(super::check_csrf("", "").is_err());
    }
}
