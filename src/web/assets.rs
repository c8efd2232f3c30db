//! Static assets, embedded in the binary and served by the app itself (no CDN) with long-lived
//! cache headers. Each URL carries a content hash (`Asset::path`), so a changed file gets a new URL.
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// One embedded file: served as `/static/{stem}.{hash}.{extension}`.
pub struct Asset {
    stem: &'static str,
    extension: &'static str,
    content_type: &'static str,
    content: &'static str,
}

pub const STYLESHEET: Asset = Asset {
    stem: "app",
    extension: "css",
    content_type: "text/css; charset=utf-8",
    content: include_str!("../../static/app.css"),
};

/// Progressive enhancement only (live Markdown preview, search suggestions): every page works
/// without it.
pub const SCRIPT: Asset = Asset {
    stem: "app",
    extension: "js",
    content_type: "text/javascript; charset=utf-8",
    content: include_str!("../../static/app.js"),
};

pub const ICON: Asset = Asset {
    stem: "icon",
    extension: "svg",
    content_type: "image/svg+xml",
    content: include_str!("../../static/icon.svg"),
};

const ALL: [&Asset; 3] = [&STYLESHEET, &SCRIPT, &ICON];

/// FNV-1a: a stable, dependency-free content hash for cache busting.
fn short_hash(content: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in content.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", hash as u32)
}

impl Asset {
    /// The hashed URL, e.g. `/static/app.1a2b3c4d.css`.
    pub fn path(&self) -> String {
        format!(
            "/static/{}.{}.{}",
            self.stem,
            short_hash(self.content),
            self.extension
        )
    }

    /// Served under its hashed name, and under its plain name (`app.css`) for hand-written links.
    fn answers_to(&self, name: &str) -> bool {
        self.path().strip_prefix("/static/") == Some(name)
            || name == format!("{}.{}", self.stem, self.extension)
    }

    fn response(&self) -> Response {
        (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(self.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            self.content,
        )
            .into_response()
    }
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match ALL.iter().find(|asset| asset.answers_to(&name)) {
        Some(asset) => asset.response(),
        None => AppError::NotFound.into_response(),
    }
}

/// Browsers ask for `/favicon.ico` on their own; answer with the icon rather than a 404.
pub async fn favicon() -> Response {
    ICON.response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_paths_differ_by_content_and_are_served() {
        assert_ne!(STYLESHEET.path(), SCRIPT.path());
        for asset in ALL {
            let name = asset.path().trim_start_matches("/static/").to_owned();
            assert!(asset.answers_to(&name));
            assert!(!asset.answers_to("app.00000000.css"));
        }
    }
}
