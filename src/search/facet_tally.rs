//! Facet counts for the embedded index. tantivy's `FacetCollector` turns every counted ordinal back
//! into its facet text through the segment's term dictionary on every search; at 100k proposals
//! that lookup was 70% of a query's time (perf, `ord_to_term`). Here each segment's ordinals are
//! mapped once — segments are immutable — to ids shared by all segments, so a search only
//! increments counters and adds them up by id; text is looked up for the values shown.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::schema::Facet;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::{FacetCount, FACETS};

/// Segment ordinal → shared value id (`u32::MAX` for a facet this version does not show).
type OrdinalTable = Arc<Vec<u32>>;

/// Per segment its ordinal table, and the shared list of (index into [`FACETS`], value).
#[derive(Default)]
pub struct FacetTables {
    inner: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    by_segment: HashMap<SegmentId, OrdinalTable>,
    values: Vec<(usize, Arc<str>)>,
    ids: HashMap<(usize, Arc<str>), u32>,
}

const UNSHOWN: u32 = u32::MAX;

impl FacetTables {
    fn table(&self, segment: &SegmentReader, field: &str) -> tantivy::Result<OrdinalTable> {
        let id = segment.segment_id();
        let mut tables = self
            .inner
            .lock()
            .map_err(|_| tantivy::TantivyError::InternalError("facet tables poisoned".into()))?;
        if let Some(table) = tables.by_segment.get(&id) {
            return Ok(table.clone());
        }
        let reader = segment.facet_reader(field)?;
        let mut table = vec![UNSHOWN; reader.num_facets()];
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
            if let Some(slot) = table.get_mut(terms.term_ord() as usize) {
                *slot = shared;
            }
        }
        let table = Arc::new(table);
        tables.by_segment.insert(id, table.clone());
        Ok(table)
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
    reader: tantivy::fastfield::FacetReader,
    table: OrdinalTable,
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
        let table = self.tables.table(segment, self.field)?;
        Ok(SegmentTally {
            reader: segment.facet_reader(self.field)?,
            counts: vec![0; table.len()],
            table,
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
        for ord in self.reader.facet_ords(doc) {
            if let Some(count) = self.counts.get_mut(ord as usize) {
                *count += 1;
            }
        }
    }

    fn harvest(self) -> Tallied {
        let size = self
            .table
            .iter()
            .filter(|id| **id != UNSHOWN)
            .max()
            .map_or(0, |m| *m as usize + 1);
        let mut counts = vec![0u64; size];
        for (ord, count) in self.counts.iter().enumerate() {
            match self.table.get(ord) {
                Some(&id) if *count > 0 && id != UNSHOWN => {
                    counts[id as usize] += u64::from(*count)
                }
                _ => {}
            }
        }
        Tallied {
            docs: self.docs,
            counts,
        }
    }
}
