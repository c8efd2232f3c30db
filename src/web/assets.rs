//! Static assets, embedded in the binary and served with long-lived cache headers. The file name
//! carries a content hash (`asset_path`), so a changed file gets a new URL.
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const STYLESHEET: &str = include_str!("../../static/app.css");

/// FNV-1a: a stable, dependency-free content hash for cache busting.
fn short_hash(content: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in content.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", hash as u32)
}

/// The URL of the stylesheet, e.g. `/static/app.1a2b3c4d.css`.
pub fn stylesheet_path() -> String {
    format!("/static/app.{}.css", short_hash(STYLESHEET))
}

pub async fn serve(Path(name): Path<String>) -> Response {
    let wanted = stylesheet_path();
    if wanted.strip_prefix("/static/") != Some(name.as_str()) && name != "app.css" {
        return AppError::NotFound.into_response();
    }
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        STYLESHEET,
    )
        .into_response()
}
