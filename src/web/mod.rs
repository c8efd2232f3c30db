//! Web plumbing shared by every capability: templates, Markdown, the error page, the client's
//! address.
pub mod assets;
pub mod charts;
pub mod client_addr;
pub mod conditional;
pub mod csv;
pub mod errors;
pub mod escape;
pub mod form;
pub mod hardening;
pub mod limiter;
pub mod markdown;
pub mod memo;
pub mod notice;
pub mod page_cache;
pub mod paging;
pub mod paths;
pub mod query;
pub mod templates;

/// Whether two secrets are equal, in time that depends only on their length (CSRF tokens, the
/// metrics token).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether an `Origin` header names the site at `public_url` (scheme, host and port).
pub fn same_origin(origin: &str, public_url: &str) -> bool {
    match (url::Url::parse(origin), url::Url::parse(public_url)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

pub use templates::Templates;

use crate::error::{AppError, AppResult};

/// Parses an id from a URL segment; anything malformed is simply "not found".
pub fn parse_id(segment: &str) -> AppResult<i32> {
    segment
        .parse::<i32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound)
}

/// `?year=` on pages that count per year.
#[derive(Debug, Default, serde::Deserialize)]
pub struct YearQuery {
    pub year: Option<String>,
}

impl YearQuery {
    /// A plausible year, or `None` (all years) for anything else.
    pub fn year(&self) -> Option<i32> {
        self.year
            .as_deref()
            .and_then(|y| y.trim().parse::<i32>().ok())
            .filter(|y| (1949..=2200).contains(y))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn malformed_ids_are_not_found() {
        assert_eq!(super::parse_id("27").unwrap(), 27);
        for bad in ["", "-1", "0", "abc", "1e3", "99999999999", "../etc"] {
            assert!(super::parse_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins_match_by_scheme_host_and_port() {
        let site = "https://tingshang.example.cn";
        assert!(super::same_origin("https://tingshang.example.cn", site));
        for other in [
            "http://tingshang.example.cn",
            "https://evil.example",
            "https://tingshang.example.cn:8443",
            "null",
            "",
        ] {
            assert!(!super::same_origin(other, site), "{other}");
        }
    }
}
