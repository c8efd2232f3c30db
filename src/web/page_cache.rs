//! Rendered public pages, kept until public content changes or the day turns.
//!
//! A public page (proposal, session, home) is a function of the database and of today's date
//! (overdue flags, days left) and of nothing about the visitor: the layout carries no user state.
//! So its HTML is cached under the content revision (`crate::revision`), read with one primary-key
//! lookup per request. At 100k proposals this turns a session page's ~20 queries and Markdown
//! rendering of ~40 proposals into one query. When the revision moves, the cache reads which pages
//! the new changes touched (`crate::revision::pages_changed`): a workflow step on one proposal
//! drops that proposal's page, its session's page and the pages that show anything ([`Shows`]),
//! and the rest stay; a change of unknown reach drops every page. Within a revision the least
//! recently served pages make room for new ones; large pages are kept gzip-compressed (see
//! [`COMPRESS_FROM`]).
use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::sync::Mutex;

use axum::body::{Body, Bytes};
use axum::http::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY,
};
use axum::response::Response;
use chrono::NaiveDate;
use flate2::Compression;
use sea_orm::ConnectionTrait;

use crate::error::AppResult;

/// Total size of the cached HTML. When a new page would take the total over, the least recently
/// served pages make room (down to three quarters, so that eviction's sort is rare). Emptying the
/// whole cache instead made it useless once the pages in demand outgrew it: at 100k proposals
/// 2,000 popular proposal pages (~11 KB each) wiped it every few seconds. 20 MB holds all 1,500
/// session pages of the 100k corpus compressed (~12 KB each) within the 200 MB memory target.
const MAX_BYTES: usize = 20 << 20;

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
    pages: HashMap<String, Cached>,
    bytes: usize,
    /// Counts lookups and stores: a page's `used` is the tick of its last use.
    tick: u64,
}

struct Cached {
    html: Stored,
    used: u64,
    shows: Shows,
}

/// What a cached page shows, which decides the changes that make it stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shows {
    /// Only what the changes that touch it name by its path: a proposal's page, a session's page.
    Itself,
    /// Anything (the home page's latest items and counts): every change makes it stale.
    Anything,
}

/// What the cache holds for a request.
enum Found {
    Page(Stored),
    /// Not cached under this revision and day.
    Missing,
    /// The cache holds an older revision of the same day: the changes since then decide.
    Behind(i64),
}

/// Pages from this size on are kept gzip-compressed: a session page of the 100k corpus (~50 KB)
/// takes a quarter of the room, and browsers, which all accept gzip, get it without any work.
/// Smaller pages stay as they are: inflating them for a client without gzip would cost more than
/// the room saved.
const COMPRESS_FROM: usize = 16 << 10;

#[derive(Clone)]
enum Stored {
    Plain(Bytes),
    Gzip(Bytes),
}

impl Stored {
    fn new(html: Bytes) -> Self {
        if html.len() < COMPRESS_FROM {
            return Stored::Plain(html);
        }
        // The fastest level: the default one saves a little more memory but makes every first
        // rendering pay for it, and pages fit the cache's budget either way (BENCHMARKS.md,
        // "Large pages kept gzip-compressed").
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::with_capacity(html.len() / 3), Compression::fast());
        match encoder.write_all(&html).and_then(|_| encoder.finish()) {
            Ok(gzip) => Stored::Gzip(Bytes::from(gzip)),
            Err(_) => Stored::Plain(html),
        }
    }

    fn len(&self) -> usize {
        match self {
            Stored::Plain(b) | Stored::Gzip(b) => b.len(),
        }
    }

    /// The page as a response: gzip-encoded when it is stored so and the client accepts it,
    /// otherwise plain.
    fn into_response(self, client_accepts_gzip: bool) -> AppResult<Response> {
        let (body, gzip) = match self {
            Stored::Plain(html) => (html, false),
            Stored::Gzip(gzip) if client_accepts_gzip => (gzip, true),
            Stored::Gzip(gzip) => {
                let mut html = Vec::with_capacity(gzip.len() * 4);
                flate2::read::GzDecoder::new(&gzip[..])
                    .read_to_end(&mut html)
                    .map_err(|e| anyhow::anyhow!("cached page does not inflate: {e}"))?;
                (Bytes::from(html), false)
            }
        };
        let mut response = Response::new(Body::from(body));
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
        if gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        Ok(response)
    }
}

/// True when the request's `Accept-Encoding` lists gzip (or `*`) with a non-zero weight.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let zero_weight = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero_weight
        })
}

impl Generation {
    /// Drops the least recently used pages until `incoming` more bytes fit under three quarters
    /// of the budget.
    fn make_room(&mut self, incoming: usize) {
        if self.bytes + incoming <= MAX_BYTES {
            return;
        }
        let mut by_use: Vec<(u64, String)> = self
            .pages
            .iter()
            .map(|(k, c)| (c.used, k.clone()))
            .collect();
        by_use.sort_unstable();
        for (_, key) in by_use {
            if self.bytes + incoming <= MAX_BYTES / 4 * 3 {
                break;
            }
            if let Some(old) = self.pages.remove(&key) {
                self.bytes -= old.html.len();
            }
        }
    }
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
    /// `request` is the request's headers (for `Accept-Encoding`).
    pub async fn page<C, F, Fut>(
        &self,
        db: &C,
        key: &str,
        shows: Shows,
        request: &HeaderMap,
        render: F,
    ) -> AppResult<Response>
    where
        C: ConnectionTrait,
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<String>>,
    {
        let gzip = accepts_gzip(request);
        if self.disabled {
            return Stored::Plain(Bytes::from(render().await?)).into_response(gzip);
        }
        // The revision is read before the page's data: content rendered after a later write is
        // then at least as new as its key, never older.
        let revision = crate::revision::current(db).await?;
        let day = crate::time::today();
        let mut found = self.lookup(revision, day, key);
        // Concurrent requests may catch the cache up to revisions between its own and this one's;
        // a few rounds follow them (each a cheap read), then the page is rendered uncached.
        for _ in 0..4 {
            let Found::Behind(since) = found else { break };
            let changed = crate::revision::pages_changed(db, since, revision).await?;
            self.catch_up(since, revision, day, changed.as_deref());
            found = self.lookup(revision, day, key);
        }
        if let Found::Page(page) = found {
            return page.into_response(gzip);
        }
        let html = Bytes::from(render().await?);
        let stored = Stored::new(html.clone());
        self.store(revision, day, key, shows, stored.clone());
        match stored {
            Stored::Gzip(_) if !gzip => Stored::Plain(html),
            stored => stored,
        }
        .into_response(gzip)
    }

    /// True when the page at `key` is cached for the revision last seen (for tests and
    /// diagnostics: whether a change left the page in place).
    pub fn holds(&self, key: &str) -> bool {
        let generation = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        generation.pages.contains_key(key)
    }

    fn lookup(&self, revision: i64, day: NaiveDate, key: &str) -> Found {
        let mut generation = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if generation.day != Some(day) || generation.revision > revision {
            return Found::Missing;
        }
        if generation.revision < revision {
            return Found::Behind(generation.revision);
        }
        generation.tick += 1;
        let tick = generation.tick;
        match generation.pages.get_mut(key) {
            Some(cached) => {
                cached.used = tick;
                Found::Page(cached.html.clone())
            }
            None => Found::Missing,
        }
    }

    /// Moves the cache from revision `since` to `revision`, dropping the pages that `changed`
    /// (the paths the changes in between touched) makes stale, or every page when it is `None`.
    /// Does nothing when another request moved the cache meanwhile.
    fn catch_up(&self, since: i64, revision: i64, day: NaiveDate, changed: Option<&[String]>) {
        let mut generation = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if generation.revision != since || generation.day != Some(day) {
            return;
        }
        let Some(changed) = changed else {
            *generation = Generation {
                revision,
                day: Some(day),
                ..Default::default()
            };
            return;
        };
        let Generation { pages, bytes, .. } = &mut *generation;
        pages.retain(|key, cached| {
            let keep = cached.shows == Shows::Itself && !changed.iter().any(|c| c == key);
            if !keep {
                *bytes -= cached.html.len();
            }
            keep
        });
        generation.revision = revision;
    }

    fn store(&self, revision: i64, day: NaiveDate, key: &str, shows: Shows, html: Stored) {
        let mut generation = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if generation.day != Some(day) {
            // The first page of the day (or ever): the pages of other days count other days.
            *generation = Generation {
                revision,
                day: Some(day),
                ..Default::default()
            };
        } else if generation.revision != revision {
            // Rendered under another revision than the cache's: an older one must not replace
            // newer pages, and a newer one is for the next request's catch-up to reach (starting
            // the cache afresh here would drop every page that change left valid).
            return;
        }
        if html.len() > MAX_BYTES / 2 {
            return;
        }
        if let Some(old) = generation.pages.remove(key) {
            generation.bytes -= old.html.len();
        }
        generation.make_room(html.len());
        generation.tick += 1;
        generation.bytes += html.len();
        let used = generation.tick;
        generation
            .pages
            .insert(key.to_owned(), Cached { html, used, shows });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn plain(bytes: &'static [u8]) -> Stored {
        Stored::Plain(Bytes::from_static(bytes))
    }

    /// The cached page, when the cache holds it under this revision and day.
    fn hit(cache: &PageCache, revision: i64, day: NaiveDate, key: &str) -> Option<Stored> {
        match cache.lookup(revision, day, key) {
            Found::Page(page) => Some(page),
            Found::Missing | Found::Behind(_) => None,
        }
    }

    fn text(stored: Option<Stored>) -> Option<Bytes> {
        match stored? {
            Stored::Plain(b) | Stored::Gzip(b) => Some(b),
        }
    }

    #[test]
    fn pages_live_for_one_revision_and_one_day() {
        let cache = PageCache::default();
        cache.store(3, day(29), "/a", Shows::Itself, plain(b"a3"));
        assert_eq!(
            text(hit(&cache, 3, day(29), "/a")).as_deref(),
            Some(&b"a3"[..])
        );
        assert!(hit(&cache, 3, day(29), "/b").is_none());
        assert!(hit(&cache, 4, day(29), "/a").is_none(), "a write happened");
        assert!(hit(&cache, 3, day(30), "/a").is_none(), "the day turned");

        // A page rendered under a revision the cache has not caught up to is not kept: storing
        // it would have to drop the pages the change left valid.
        cache.store(4, day(29), "/b", Shows::Itself, plain(b"b4"));
        assert!(hit(&cache, 3, day(29), "/a").is_some() && hit(&cache, 4, day(29), "/b").is_none());
        cache.catch_up(3, 4, day(29), None);
        cache.store(4, day(29), "/a", Shows::Itself, plain(b"a4"));
        assert_eq!(
            text(hit(&cache, 4, day(29), "/a")).as_deref(),
            Some(&b"a4"[..])
        );
        // A slow render that read revision 3 does not bring back the old generation.
        cache.store(3, day(29), "/b", Shows::Itself, plain(b"b3"));
        assert_eq!(
            text(hit(&cache, 4, day(29), "/a")).as_deref(),
            Some(&b"a4"[..])
        );
        assert!(hit(&cache, 3, day(29), "/b").is_none());
    }

    #[test]
    fn a_change_drops_the_pages_it_names_and_those_that_show_anything() {
        let cache = PageCache::default();
        cache.store(5, day(29), "/", Shows::Anything, plain(b"home"));
        cache.store(5, day(29), "/sessions/27", Shows::Itself, plain(b"s27"));
        cache.store(5, day(29), "/sessions/28", Shows::Itself, plain(b"s28"));
        cache.store(5, day(29), "/proposals/A", Shows::Itself, plain(b"a"));
        assert!(matches!(
            cache.lookup(7, day(29), "/sessions/28"),
            Found::Behind(5)
        ));

        let changed = ["/proposals/A".to_owned(), "/sessions/27".to_owned()];
        cache.catch_up(5, 7, day(29), Some(&changed));
        assert!(
            hit(&cache, 7, day(29), "/sessions/28").is_some(),
            "untouched"
        );
        for stale in ["/", "/sessions/27", "/proposals/A"] {
            assert!(hit(&cache, 7, day(29), stale).is_none(), "{stale} is stale");
        }
        assert_eq!(
            cache.inner.lock().unwrap().bytes,
            3,
            "bytes follow the drops"
        );

        // Another request moved the cache meanwhile: a catch-up from the old revision is ignored.
        cache.catch_up(5, 9, day(29), None);
        assert!(hit(&cache, 7, day(29), "/sessions/28").is_some());
        // A change of unknown reach drops everything.
        cache.catch_up(7, 8, day(29), None);
        assert!(hit(&cache, 8, day(29), "/sessions/28").is_none());
        assert!(matches!(
            cache.lookup(8, day(29), "/sessions/28"),
            Found::Missing
        ));
        // The day turning is not caught up on: pages count the days left.
        cache.store(8, day(29), "/sessions/28", Shows::Itself, plain(b"s28"));
        assert!(matches!(
            cache.lookup(9, day(30), "/sessions/28"),
            Found::Missing
        ));
    }

    #[test]
    fn the_least_recently_used_pages_make_room() {
        let cache = PageCache::default();
        let page = Stored::Plain(Bytes::from(vec![b'x'; MAX_BYTES / 8]));
        for i in 0..8 {
            cache.store(1, day(29), &format!("/{i}"), Shows::Itself, page.clone());
        }
        // /0 is served again, so /1 is now the least recently used.
        assert!(hit(&cache, 1, day(29), "/0").is_some());
        cache.store(1, day(29), "/8", Shows::Itself, page.clone());
        let kept = |key: &str| hit(&cache, 1, day(29), key).is_some();
        assert!(kept("/0") && kept("/8"), "recent pages stay");
        assert!(!kept("/1") && !kept("/2"), "the oldest make room");
        let total = |cache: &PageCache| {
            let generation = cache.inner.lock().unwrap();
            let sum: usize = generation.pages.values().map(|c| c.html.len()).sum();
            assert_eq!(generation.bytes, sum);
            sum
        };
        assert!(total(&cache) <= MAX_BYTES);
        // Replacing a page counts its size once; a page over half the budget is not kept.
        cache.store(1, day(29), "/8", Shows::Itself, plain(b"small"));
        let huge = Stored::Plain(Bytes::from(vec![b'x'; MAX_BYTES / 2 + 1]));
        cache.store(1, day(29), "/huge", Shows::Itself, huge);
        assert!(!kept("/huge"));
        total(&cache);
    }

    async fn body_of(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    #[tokio::test]
    async fn large_pages_are_kept_gzipped_and_inflated_for_clients_without_gzip() {
        let html: String = "<p>科技型中小企业</p>".repeat(2000);
        let stored = Stored::new(Bytes::from(html.clone()));
        assert!(matches!(stored, Stored::Gzip(_)));
        assert!(
            stored.len() * 4 < html.len(),
            "compressed: {}",
            stored.len()
        );

        let inflated = stored.clone().into_response(false).unwrap();
        assert!(inflated.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(inflated.headers()[VARY], "accept-encoding");
        assert_eq!(body_of(inflated).await, html.as_bytes());

        let sent = stored.into_response(true).unwrap();
        assert_eq!(sent.headers()[CONTENT_ENCODING], "gzip");
        let mut unpacked = String::new();
        flate2::read::GzDecoder::new(&body_of(sent).await[..])
            .read_to_string(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, html);

        assert!(matches!(
            Stored::new(Bytes::from_static(b"<p>short</p>")),
            Stored::Plain(_)
        ));
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        let accepts = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
            accepts_gzip(&headers)
        };
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
