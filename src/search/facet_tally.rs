//! Facet counts for the embedded index. tantivy's `FacetCollector` turns every counted ordinal back
//! into its facet text through the segment's term dictionary on every search; at 100k proposals
//! that lookup was 70% of a query's time (perf, `ord_to_term`). Here each segment's ordinals are
//! mapped once — segments are immutable — to ids shared by all segments, so a search only
//! increments counters and adds them up by id; text is looked up for the values shown.
//!
//! Reading a document's ordinals from tantivy's facet column (a rank in an optional index, then a
//! bit-unpacked read per value) was then a quarter of a broad query's time (perf, `get_val` and
//! `rank_if_exists`, "科技创新" matching 10,000+ documents). So each segment's values are also
//! unpacked once into a flat per-document list of shared ids, and counting is an array walk.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::schema::Facet;
use tantivy::{DocId, SegmentReader};

use super::{FacetCount, FACETS};

/// One segment's facet values, per document, as shared value ids: document `d` has
/// `ids[starts[d]..starts[d + 1]]`. Segments are immutable, so this is built once per segment.
pub struct SegmentFacets {
    starts: Vec<u32>,
    ids: Vec<u32>,
}

impl SegmentFacets {
    /// The shared value ids of document `doc`.
    pub fn of(&self, doc: DocId) -> &[u32] {
        match (
            self.starts.get(doc as usize),
            self.starts.get(doc as usize + 1),
        ) {
            (Some(&from), Some(&to)) => &self.ids[from as usize..to as usize],
            _ => &[],
        }
    }
}

/// Per segment its values, and the shared list of (index into [`FACETS`], value).
#[derive(Default)]
pub struct FacetTables {
    inner: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    by_segment: HashMap<SegmentId, Arc<SegmentFacets>>,
    values: Vec<(usize, Arc<str>)>,
    ids: HashMap<(usize, Arc<str>), u32>,
}

const UNSHOWN: u32 = u32::MAX;

impl FacetTables {
    /// The segment's values per document, unpacked on its first search.
    pub fn segment(
        &self,
        segment: &SegmentReader,
        field: &str,
    ) -> tantivy::Result<Arc<SegmentFacets>> {
        let id = segment.segment_id();
        let mut tables = self
            .inner
            .lock()
            .map_err(|_| tantivy::TantivyError::InternalError("facet tables poisoned".into()))?;
        if let Some(facets) = tables.by_segment.get(&id) {
            return Ok(facets.clone());
        }
        // Segment ordinal → shared id.
        let reader = segment.facet_reader(field)?;
        let mut shared_ids = vec![UNSHOWN; reader.num_facets()];
        let mut terms = reader.facet_dict().stream()?;
        while terms.advance() {
            let Ok(facet) = Facet::from_encoded(terms.key().to_vec()) else {
                continue;
            };
            let [name, value] = facet.to_path()[..] else {
                continue;
            };
            let Some(facet_index) = FACETS.iter().position(|(n, _)| *n == name) else {
                continue;
            };
            let key = (facet_index, Arc::<str>::from(value));
            let next = tables.values.len() as u32;
            let shared = *tables.ids.entry(key.clone()).or_insert(next);
            if shared == next {
                tables.values.push(key);
            }
            if let Some(slot) = shared_ids.get_mut(terms.term_ord() as usize) {
                *slot = shared;
            }
        }
        let mut starts = Vec::with_capacity(segment.max_doc() as usize + 1);
        let mut ids = Vec::new();
        starts.push(0);
        for doc in 0..segment.max_doc() {
            for ord in reader.facet_ords(doc) {
                match shared_ids.get(ord as usize) {
                    Some(&id) if id != UNSHOWN => ids.push(id),
                    _ => {}
                }
            }
            starts.push(ids.len() as u32);
        }
        let facets = Arc::new(SegmentFacets { starts, ids });
        tables.by_segment.insert(id, facets.clone());
        Ok(facets)
    }

    /// Forgets segments that are no longer in the index (merged away or deleted).
    pub fn retain(&self, live: &[SegmentId]) {
        if let Ok(mut tables) = self.inner.lock() {
            tables.by_segment.retain(|id, _| live.contains(id));
        }
    }

    /// Each facet's `limit` most frequent values (ties by value, so the order is stable).
    pub fn top(&self, tallied: &Tallied, limit: usize) -> Vec<(String, Vec<FacetCount>)> {
        let mut per_facet: Vec<Vec<FacetCount>> = vec![Vec::new(); FACETS.len()];
        if let Ok(tables) = self.inner.lock() {
            for (id, count) in tallied.counts.iter().enumerate() {
                let count = count.round() as u64;
                if let (true, Some((facet, value))) = (count > 0, tables.values.get(id)) {
                    per_facet[*facet].push(FacetCount {
                        value: value.to_string(),
                        count,
                    });
                }
            }
        }
        FACETS
            .iter()
            .zip(per_facet)
            .map(|((name, _), mut values)| {
                values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                values.truncate(limit);
                ((*name).to_owned(), values)
            })
            .collect()
    }
}

/// Matches counted (or estimated: counts from a sample are scaled, hence fractional), and counts
/// by shared value id.
#[derive(Default)]
pub struct Tallied {
    matches: f64,
    counts: Vec<f64>,
}

impl Tallied {
    /// Counts one matching document with its values, as `weight` documents.
    pub fn add(&mut self, values: &[u32], weight: f64) {
        self.matches += weight;
        for &id in values {
            let id = id as usize;
            if self.counts.len() <= id {
                self.counts.resize(id + 1, 0.0);
            }
            self.counts[id] += weight;
        }
    }

    /// The matches counted, rounded.
    pub fn matches(&self) -> usize {
        self.matches.round() as usize
    }

    /// At least `floor` matches (an estimate never says less than what was counted exactly).
    pub fn at_least(&mut self, floor: usize) {
        self.matches = self.matches.max(floor as f64);
    }
}
