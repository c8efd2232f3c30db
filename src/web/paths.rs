//! The public pages' paths, which are also their keys in the page cache. Every capability that
//! links to a page, feeds it or drops it from the cache builds its path here.

/// A proposal's public page.
pub fn proposal(code: &str) -> String {
    format!("/proposals/{code}")
}

/// A session's public page.
pub fn session(number: i32) -> String {
    format!("/sessions/{number}")
}
