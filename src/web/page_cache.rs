//! Rendered public pages, kept until public content changes or the day turns.
//!
//! A public page (proposal, session, home) is a function of the database and of today's date
//! (overdue flags, days left) and of nothing about the visitor: the layout carries no user state.
//! So its HTML is cached under the content revision (`crate::revision`), read with one primary-key
//! lookup per request; any write that changes public content bumps the revision and the next
//! request renders afresh. At 100k proposals this turns a session page's ~20 queries and Markdown
//! rendering of ~40 proposals into one query.
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::response::Html;
use chrono::NaiveDate;
use sea_orm::ConnectionTrait;

use crate::error::AppResult;

/// Total size of the cached HTML. A session page of the 100k benchmark corpus is ~85 KB, so this
/// holds ~200 of them; when a page would take the total over, the cache starts again empty
/// (simpler than tracking recency, and any write empties it anyway).
const MAX_BYTES: usize = 16 << 20;

#[derive(Default)]
pub struct PageCache {
    disabled: bool,
    inner: Mutex<Generation>,
}

/// The pages rendered for one (revision, day).
#[derive(Default)]
struct Generation {
    revision: i64,
    day: Option<NaiveDate>,
    pages: HashMap<String, Bytes>,
    bytes: usize,
}

impl PageCache {
    pub fn new(enabled: bool) -> Self {
        Self {
            disabled: !enabled,
            ..Default::default()
        }
    }

    /// The page at `key` (its path), from the cache when nothing public changed since it was
    /// rendered, otherwise from `render`. Errors (a missing page, a failed query) are not cached.
    pub async fn page<C, F, Fut>(&self, db: &C, key: &str, render: F) -> AppResult<Html<Bytes>>
    where
        C: ConnectionTrait,
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<String>>,
    {
        if self.disabled {
            return Ok(Html(Bytes::from(render().await?)));
        }
        // The revision is read before the page's data: content rendered after a later write is
        // then at least as new as its key, never older.
        let revision = crate::revision::current(db).await?;
        let day = crate::time::today();
        if let Some(html) = self.lookup(revision, day, key) {
            return Ok(Html(html));
        }
        let html = Bytes::from(render().await?);
        self.store(revision, day, key, html.clone());
        Ok(Html(html))
    }

    fn lookup(&self, revision: i64, day: NaiveDate, key: &str) -> Option<Bytes> {
        let generation = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if generation.revision != revision || generation.day != Some(day) {
            return None;
        }
        generation.pages.get(key).cloned()
    }

    fn store(&self, revision: i64, day: NaiveDate, key: &str, html: Bytes) {
        let mut generation = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // A render that started before a newer revision was seen must not replace its pages.
        if generation.revision > revision {
            return;
        }
        let stale = generation.revision != revision || generation.day != Some(day);
        if stale || generation.bytes + html.len() > MAX_BYTES {
            *generation = Generation {
                revision,
                day: Some(day),
                ..Default::default()
            };
        }
        if html.len() <= MAX_BYTES {
            generation.bytes += html.len();
            if let Some(old) = generation.pages.insert(key.to_owned(), html) {
                generation.bytes -= old.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn pages_live_for_one_revision_and_one_day() {
        let cache = PageCache::default();
        cache.store(3, day(29), "/a", Bytes::from_static(b"a3"));
        assert_eq!(cache.lookup(3, day(29), "/a").as_deref(), Some(&b"a3"[..]));
        assert_eq!(cache.lookup(3, day(29), "/b"), None);
        assert_eq!(cache.lookup(4, day(29), "/a"), None, "a write happened");
        assert_eq!(cache.lookup(3, day(30), "/a"), None, "the day turned");

        cache.store(4, day(29), "/a", Bytes::from_static(b"a4"));
        assert_eq!(cache.lookup(4, day(29), "/a").as_deref(), Some(&b"a4"[..]));
        // A slow render that read revision 3 does not bring back the old generation.
        cache.store(3, day(29), "/b", Bytes::from_static(b"b3"));
        assert_eq!(cache.lookup(4, day(29), "/a").as_deref(), Some(&b"a4"[..]));
        assert_eq!(cache.lookup(3, day(29), "/b"), None);
    }

    #[test]
    fn the_total_size_stays_bounded() {
        let cache = PageCache::default();
        let big = Bytes::from(vec![b'x'; MAX_BYTES / 2 + 1]);
        cache.store(1, day(29), "/one", big.clone());
        cache.store(1, day(29), "/two", big.clone());
        let generation = cache.inner.lock().unwrap();
        assert!(generation.bytes <= MAX_BYTES);
        assert_eq!(generation.pages.len(), 1);
        assert!(generation.pages.contains_key("/two"));
    }
}
