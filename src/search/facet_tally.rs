//! Facet counts for the embedded index. tantivy's `FacetCollector` turns every counted ordinal back
//! into its facet text through the segment's term dictionary on every search; at 100k proposals
//! that lookup was 70% of a query's time (perf, `ord_to_term`). Here each segment's ordinals are
//! decoded once — segments are immutable — and a search only increments counters by ordinal.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::schema::Facet;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::{FacetCount, FACETS};

/// Ordinal → (index into [`FACETS`], value); `None` for a facet this version does not show.
type OrdinalTable = Arc<Vec<Option<(usize, Arc<str>)>>>;

/// Decoded ordinal tables, per segment.
#[derive(Default)]
pub struct FacetTables {
    by_segment: Mutex<HashMap<SegmentId, OrdinalTable>>,
}

impl FacetTables {
    fn table(&self, segment: &SegmentReader, field: &str) -> tantivy::Result<OrdinalTable> {
        let id = segment.segment_id();
        if let Some(table) = self
            .by_segment
            .lock()
            .ok()
            .and_then(|m| m.get(&id).cloned())
        {
            return Ok(table);
        }
        let reader = segment.facet_reader(field)?;
        let mut table = vec![None; reader.num_facets()];
        let mut terms = reader.facet_dict().stream()?;
        while terms.advance() {
            let facet = Facet::from_encoded(terms.key().to_vec()).ok();
            let entry = facet.and_then(|f| match f.to_path().as_slice() {
                [name, value] => FACETS
                    .iter()
                    .position(|(n, _)| n == name)
                    .map(|i| (i, Arc::from(*value))),
                _ => None,
            });
            if let Some(slot) = table.get_mut(terms.term_ord() as usize) {
                *slot = entry;
            }
        }
        let table = Arc::new(table);
        if let Ok(mut map) = self.by_segment.lock() {
            map.insert(id, table.clone());
        }
        Ok(table)
    }

    /// Forgets segments that are no longer in the index (merged away or deleted).
    pub fn retain(&self, live: &[SegmentId]) {
        if let Ok(mut map) = self.by_segment.lock() {
            map.retain(|id, _| live.contains(id));
        }
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

/// Matching documents, and per facet its values with counts.
pub struct Tallied {
    pub docs: usize,
    pub facets: Vec<HashMap<Arc<str>, u64>>,
}

impl Tallied {
    /// Each facet's `limit` most frequent values (ties by value, so the order is stable).
    pub fn top(&self, limit: usize) -> Vec<(String, Vec<FacetCount>)> {
        FACETS
            .iter()
            .zip(&self.facets)
            .map(|((name, _), counts)| {
                let mut values: Vec<FacetCount> = counts
                    .iter()
                    .map(|(value, count)| FacetCount {
                        value: value.to_string(),
                        count: *count,
                    })
                    .collect();
                values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
                values.truncate(limit);
                ((*name).to_owned(), values)
            })
            .collect()
    }
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
            facets: vec![HashMap::new(); FACETS.len()],
        };
        for fruit in fruits {
            merged.docs += fruit.docs;
            for (into, from) in merged.facets.iter_mut().zip(fruit.facets) {
                for (value, count) in from {
                    *into.entry(value).or_default() += count;
                }
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
        let mut facets = vec![HashMap::new(); FACETS.len()];
        for (ord, count) in self.counts.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            if let Some(Some((facet, value))) = self.table.get(ord) {
                *facets[*facet].entry(value.clone()).or_default() += u64::from(*count);
            }
        }
        Tallied {
            docs: self.docs,
            facets,
        }
    }
}
