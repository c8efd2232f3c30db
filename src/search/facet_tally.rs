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

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::schema::Facet;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::{FacetCount, FACETS};

/// One segment's facet values, per document, as shared value ids: document `d` has
/// `ids[starts[d]..starts[d + 1]]`. Segments are immutable, so this is built once per segment.
struct SegmentFacets {
    starts: Vec<u32>,
    ids: Vec<u32>,
    /// One more than the largest id used: the size of a counter array for this segment.
    width: usize,
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
    fn segment(&self, segment: &SegmentReader, field: &str) -> tantivy::Result<Arc<SegmentFacets>> {
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
        let width = ids.iter().max().map_or(0, |m| *m as usize + 1);
        let facets = Arc::new(SegmentFacets { starts, ids, width });
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
                if let (true, Some((facet, value))) = (*count > 0, tables.values.get(id)) {
                    per_facet[*facet].push(FacetCount {
                        value: value.to_string(),
                        count: *count,
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

/// Counts matching documents and their facet values.
pub struct FacetTally<'a> {
    pub tables: &'a FacetTables,
    pub field: &'static str,
}

pub struct SegmentTally {
    facets: Arc<SegmentFacets>,
    counts: Vec<u32>,
    docs: usize,
}

/// Matching documents, and counts by shared value id.
pub struct Tallied {
    pub docs: usize,
    counts: Vec<u64>,
}

impl Collector for FacetTally<'_> {
    type Fruit = Tallied;
    type Child = SegmentTally;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentTally> {
        let facets = self.tables.segment(segment, self.field)?;
        Ok(SegmentTally {
            counts: vec![0; facets.width],
            facets,
            docs: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Tallied>) -> tantivy::Result<Tallied> {
        let mut merged = Tallied {
            docs: 0,
            counts: Vec::new(),
        };
        for fruit in fruits {
            merged.docs += fruit.docs;
            if merged.counts.len() < fruit.counts.len() {
                merged.counts.resize(fruit.counts.len(), 0);
            }
            for (into, from) in merged.counts.iter_mut().zip(fruit.counts) {
                *into += from;
            }
        }
        Ok(merged)
    }
}

impl SegmentCollector for SegmentTally {
    type Fruit = Tallied;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.docs += 1;
        let (starts, ids) = (&self.facets.starts, &self.facets.ids);
        let (Some(&from), Some(&to)) = (starts.get(doc as usize), starts.get(doc as usize + 1))
        else {
            return;
        };
        for &id in &ids[from as usize..to as usize] {
            self.counts[id as usize] += 1;
        }
    }

    fn harvest(self) -> Tallied {
        Tallied {
            docs: self.docs,
            counts: self.counts.into_iter().map(u64::from).collect(),
        }
    }
}
