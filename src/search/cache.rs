//! Recent search results, kept until the index changes. A popular session brings bursts of the
//! same public searches; answering a repeat from memory costs microseconds instead of a pass over
//! every matching document. Entries belong to one index generation (tantivy's searcher
//! generation): the first search after a commit finds a new generation and starts afresh, so a
//! cached answer is never older than the index it came from.
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::{SearchQuery, SearchResults};

/// Values per query and index generation: result pages by default; the embedded backend also
/// keeps counts and ranked document lists this way.
pub struct ResultCache<V = SearchResults> {
    capacity: usize,
    inner: Mutex<Inner<V>>,
}

struct Inner<V> {
    generation: u64,
    entries: HashMap<SearchQuery, V>,
    /// Insertion order, for evicting the oldest entry when full.
    order: VecDeque<SearchQuery>,
}

impl<V> Default for Inner<V> {
    fn default() -> Self {
        Self {
            generation: 0,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V: Clone> ResultCache<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The cached results for `query` in index generation `generation`.
    pub fn get(&self, generation: u64, query: &SearchQuery) -> Option<V> {
        let inner = self.inner.lock().ok()?;
        if inner.generation != generation {
            return None;
        }
        inner.entries.get(query).cloned()
    }

    /// Forgets every entry (what the results depend on changed without a commit: the synonyms).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.entries.clear();
            inner.order.clear();
        }
    }

    pub fn put(&self, generation: u64, query: &SearchQuery, results: &V) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation != generation {
            if generation < inner.generation {
                return; // a search that began before the latest commit
            }
            *inner = Inner {
                generation,
                ..Default::default()
            };
        }
        if inner
            .entries
            .insert(query.clone(), results.clone())
            .is_none()
        {
            inner.order.push_back(query.clone());
        }
        while inner.order.len() > self.capacity {
            if let Some(oldest) = inner.order.pop_front() {
                inner.entries.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(text: &str) -> SearchQuery {
        SearchQuery {
            text: text.into(),
            ..Default::default()
        }
    }

    fn results(total: usize) -> SearchResults {
        SearchResults {
            total,
            total_is_estimate: false,
            hits: Vec::new(),
            facets: Vec::new(),
        }
    }

    #[test]
    fn answers_repeats_within_a_generation_only() {
        let cache = ResultCache::new(2);
        cache.put(1, &query("科技"), &results(5));
        assert_eq!(cache.get(1, &query("科技")).map(|r| r.total), Some(5));
        assert!(cache.get(1, &query("科技局")).is_none());
        assert!(cache.get(2, &query("科技")).is_none(), "a newer index");
        cache.put(2, &query("人才"), &results(3));
        assert!(
            cache.get(2, &query("科技")).is_none(),
            "emptied on a new generation"
        );
        cache.put(1, &query("旧"), &results(1));
        assert!(
            cache.get(1, &query("旧")).is_none(),
            "results from an older index are dropped"
        );
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let cache = ResultCache::new(2);
        for (i, q) in ["一", "二", "三"].iter().enumerate() {
            cache.put(7, &query(q), &results(i));
        }
        assert!(cache.get(7, &query("一")).is_none());
        assert_eq!(cache.get(7, &query("三")).map(|r| r.total), Some(2));
        let page_two = SearchQuery {
            page: 2,
            ..query("三")
        };
        assert!(
            cache.get(7, &page_two).is_none(),
            "the page is part of the key"
        );
    }
}
