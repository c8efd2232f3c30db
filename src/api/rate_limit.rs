//! The write API's rate limit: per valid bearer token, or per client address without one
//! (`web::limiter`).
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::AppError;

/// Limits the write API per valid bearer token, or per client address without one. The key is
/// the token's id, not the header's text: spellings of one token (extra spaces, `bearer`) share a
/// bucket, and made-up tokens share their address's.
pub async fn limit_writes(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.method() == axum::http::Method::GET || request.method() == axum::http::Method::HEAD {
        return next.run(request).await;
    }
    let authenticated = match crate::api::auth::authenticate(&state, request.headers()).await {
        Ok(authenticated) => authenticated,
        Err(err) => return err.into_response(),
    };
    let key = match &authenticated.0 {
        Some(token) => format!("token:{}", token.token_id),
        None => format!(
            "address:{}",
            crate::web::client_addr::of_request(
                request.headers(),
                request.extensions(),
                &state.config.trusted_proxies,
            )
        ),
    };
    request.extensions_mut().insert(authenticated);
    match state.write_limiter.check(&key) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let mut response = AppError::TooManyAttempts(format!(
                "请求过于频繁,请 {} 秒后再试。",
                wait.ceil().max(1.0)
            ))
            .into_response();
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.ceil().max(1.0) as u64),
            );
            response
        }
    }
}
