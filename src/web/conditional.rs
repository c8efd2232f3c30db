//! Public reads for other systems (the JSON API's reads, the feeds, the exports): an `ETag` with
//! `304 Not Modified`, `Cache-Control`, and CORS so that a page elsewhere can read them.
//!
//! What these documents show is a function of the public content and of today's date (overdue
//! flags, figures as of today), exactly like the cached pages (`web::page_cache`). So the
//! validator is the content revision and the day: it changes whenever a document can, and a
//! harvester that polls an unchanged list gets an empty 304. The revision is read before the
//! document is built, so a write that lands in between makes the next request see a newer
//! revision and fetch again: a stale validator never outlives its content.
//!
//! Writes are not under this layer: they send no CORS headers, so a browser page elsewhere cannot
//! use a logged-in user's token.
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// Clients may reuse a read for a minute without asking; after that they revalidate.
const CACHE_CONTROL: &str = "public, max-age=60";

pub async fn public_read(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        return preflight();
    }
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    // Without the revision (the database is failing) the document is sent without a validator;
    // the handler reports the failure itself.
    let etag = match crate::revision::current(&state.db).await {
        Ok(revision) if readable => Some(validator(revision, crate::time::today())),
        _ => None,
    };
    if let Some(etag) = &etag {
        if matches(request.headers(), etag) {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            describe(response.headers_mut(), Some(etag));
            return response;
        }
    }
    let mut response = next.run(request).await;
    let ok = response.status() == StatusCode::OK;
    describe(response.headers_mut(), etag.as_deref().filter(|_| ok));
    response
}

/// CORS alone, for public reads whose content is not a function of the revision (search results
/// follow the index, which trails the database by a moment).
pub async fn cors(request: Request, next: Next) -> Response {
    if request.method() == Method::OPTIONS {
        return preflight();
    }
    let mut response = next.run(request).await;
    describe(response.headers_mut(), None);
    response
}

fn validator(revision: i64, day: chrono::NaiveDate) -> String {
    format!("W/\"{revision}-{}\"", day.format("%Y%m%d"))
}

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(etag))
}

fn describe(headers: &mut HeaderMap, etag: Option<&str>) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag, Link, Retry-After"),
    );
    if let Some(value) = etag.and_then(|etag| HeaderValue::from_str(etag).ok()) {
        headers.insert(header::ETAG, value);
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
    }
}

/// The answer to a CORS preflight: reads only, with the conditional headers.
fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    for (name, value) in [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD, OPTIONS"),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "If-None-Match, Accept",
        ),
        (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        (header::ALLOW, "GET, HEAD, OPTIONS"),
    ] {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        let etag = validator(42, chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap());
        assert_eq!(etag, "W/\"42-20261202\"");
        let mut headers = HeaderMap::new();
        assert!(!matches(&headers, &etag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", \"42-20261202\""),
        );
        assert!(matches(&headers, &etag));
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("W/\"41-20261202\""),
        );
        assert!(!matches(&headers, &etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches(&headers, &etag));
    }
}
