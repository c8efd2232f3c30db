//! How the embedded index finds, ranks and counts a query's matches without visiting all of them.
//!
//! tantivy's collectors score every match of a query made of phrase queries (block-max pruning
//! only applies to unions of single terms), and counting facets visits every match again. At 1M
//! proposals a broad word (科技创新: 100,000+ matches in three fields) cost 200–270 ms that way
//! (BENCHMARKS.md, 2026-12-03). Here:
//!
//! - **Relevance**: MaxScore, then a bound per document. A clause's score never exceeds its
//!   BM25 weight (idf × (1 + k1) × boost), so once the `k`-th best score so far is above what
//!   the weakest clauses can add up to, documents matching only those cannot enter the top `k`:
//!   candidates come from the other clauses, and the weak ones are only asked about the
//!   candidates. Where every match is in the body (高新技术企业 at 100k: 39,500 matches, the
//!   20th best score within 10% of the body's weight) that prunes nothing, so a phrase's
//!   candidates come from its rarest term, whose score there bounds the phrase's (a phrase
//!   occurs no more often than each of its terms); positions — most of a phrase's cost — are
//!   read only for candidates whose bound beats the threshold (15.3 → 3.6 ms for that query).
//!   The result is the exact top `k`.
//! - **Date order**: the index is sorted by date, newest first, so the newest `k` matches of a
//!   segment are its first `k`, and the oldest are found scanning back from its end.
//! - **Counts**: exact while a query has at most [`EXACT_COUNT_LIMIT`] matches; above, the total
//!   and the facet counts are estimated from a sample spread evenly over each segment (every
//!   stretch of dates is represented), and the results say so (`total_is_estimate`, shown 约).
//!
//! The scores are tantivy's own: each clause is scored by its tantivy scorer and a document's
//! score is the sum over its matching clauses, as tantivy's boolean query sums them. Filters add
//! the same constant to every match, so they are tested, not scored.
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use tantivy::fastfield::AliveBitSet;
use tantivy::query::{Scorer, Weight};
use tantivy::{
    DocAddress, DocId, DocSet, Score, Searcher, SeekDangerResult, SegmentReader, TERMINATED,
};

use super::facet_tally::{FacetTables, Tallied};
use super::EXACT_COUNT_LIMIT;

/// A scored part of a query word: the word in one field (one of its alternatives), with the
/// most it can add to a document's score.
pub struct ClausePlan {
    pub weight: Box<dyn Weight>,
    /// Never less than any score the clause gives; `f32::INFINITY` when unknown.
    pub bound: Score,
    /// For a phrase: its rarest term (scored, unboosted), and the ratio of the phrase's BM25
    /// weight (boost included) to the term's. A phrase occurs in a document no more often than
    /// each of its terms, and BM25 grows with frequency, so the term's score times the ratio
    /// bounds the document's phrase score — read from postings without positions, which are
    /// most of a phrase's cost (perf: 60% of a broad query in `append_positions_with_offset`
    /// and `phrase_match`).
    pub rarest_term: Option<(Box<dyn Weight>, Score)>,
}

/// A query as the matcher runs it: every include word must match (in one of its clauses); no
/// exclude may match; every filter must match.
pub struct QueryPlan {
    /// Per include word, its clauses. Empty: every document (filtered).
    pub words: Vec<Vec<ClausePlan>>,
    pub excludes: Vec<Box<dyn Weight>>,
    pub filters: Vec<Box<dyn Weight>>,
    /// Matches every document: drives the scan when there are no words and no filters.
    pub all: Box<dyn Weight>,
}

/// Which end of the date order a ranking starts from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DateOrder {
    Newest,
    Oldest,
}

/// Counts of a query's matches: exact, or estimated from a sample.
pub struct Counts {
    pub tallied: Tallied,
    pub estimated: bool,
}

/// Bounds are widened by this fraction: scores are sums of floats in another order than the
/// bound's, and pruning must never drop a document that ties or beats the threshold.
const BOUND_SLACK: Score = 1e-4;

/// The sample behind an estimate is spread over this many equal stretches of each segment.
const STRATA: u32 = 32;

/// Matches sampled for an estimate (about, over all segments): a share of the matches is then
/// known to within about 2% (one standard error), twice the exact limit's work. (4,000 cost
/// 0.7–1.7 ms more per broad query at 100k.)
const SAMPLED_MATCHES: u64 = 2 * EXACT_COUNT_LIMIT as u64;

struct Clause {
    scorer: Box<dyn Scorer>,
    bound: Score,
    /// See [`ClausePlan::rarest_term`]; it proposes this clause's candidates once a threshold
    /// exists, and the phrase is then only checked on the candidates that can beat it.
    rarest_term: Option<(Box<dyn Scorer>, Score)>,
    /// Set once the scorer has been asked with `seek_danger` (which may leave it mid-way):
    /// no document before this one matches, and only `seek_danger` may be called again.
    checked_up_to: Option<DocId>,
}

impl Clause {
    fn open(plan: &ClausePlan, reader: &SegmentReader) -> tantivy::Result<Option<Self>> {
        let scorer = plan.weight.scorer(reader, 1.0)?;
        if scorer.doc() == TERMINATED {
            return Ok(None);
        }
        let rarest_term = match &plan.rarest_term {
            Some((weight, ratio)) => Some((weight.scorer(reader, 1.0)?, *ratio)),
            None => None,
        };
        Ok(Some(Clause {
            scorer,
            bound: plan.bound * (1.0 + BOUND_SLACK),
            rarest_term,
            checked_up_to: None,
        }))
    }

    /// Where this clause's next candidate is, once a threshold exists.
    fn proposal(&self) -> DocId {
        match &self.rarest_term {
            Some((term, _)) => term.doc(),
            None => self.scorer.doc(),
        }
    }

    fn seek_proposal(&mut self, target: DocId) {
        match &mut self.rarest_term {
            Some((term, _)) => {
                seek(term.as_mut(), target);
            }
            None => {
                seek(self.scorer.as_mut(), target);
            }
        }
    }

    /// At most this clause's score at `doc`, its proposal.
    fn bound_at(&mut self) -> Score {
        match &mut self.rarest_term {
            Some((term, ratio)) => term.score() * *ratio * (1.0 + BOUND_SLACK),
            None => self.scorer.score(),
        }
    }

    /// The clause's score at `doc` if it matches there. Targets only grow.
    fn score_at(&mut self, doc: DocId) -> Option<Score> {
        if let Some(checked) = self.checked_up_to {
            if doc < checked {
                return None;
            }
        } else if self.scorer.doc() >= doc {
            return (self.scorer.doc() == doc).then(|| self.scorer.score());
        }
        if self.rarest_term.is_none() {
            // A single term: seeking it is cheap and leaves it whole.
            return (self.scorer.seek(doc) == doc).then(|| self.scorer.score());
        }
        match self.scorer.seek_danger(doc) {
            SeekDangerResult::Found => {
                self.checked_up_to = Some(doc + 1);
                Some(self.scorer.score())
            }
            SeekDangerResult::SeekLowerBound(next) => {
                self.checked_up_to = Some(next);
                None
            }
        }
    }
}

/// One segment's scorers for a plan, positioned on their first documents.
struct SegmentMatcher<'a> {
    /// The word whose clauses propose candidates, weakest bound first.
    driver: Vec<Clause>,
    /// Running sums of the driver's bounds: `prefix[i]` = bounds of `driver[..=i]`.
    prefix: Vec<Score>,
    /// The other words (each must match).
    others: Vec<Vec<Clause>>,
    /// The most the other words can add together.
    others_bound: Score,
    filters: Vec<Box<dyn Scorer>>,
    excludes: Vec<Box<dyn Scorer>>,
    alive: Option<&'a AliveBitSet>,
    /// The first document not yet considered (once a threshold exists).
    position: DocId,
}

fn seek(scorer: &mut dyn Scorer, target: DocId) -> DocId {
    let doc = scorer.doc();
    if doc < target {
        scorer.seek(target)
    } else {
        doc
    }
}

impl<'a> SegmentMatcher<'a> {
    /// `None` when the segment cannot hold a match (a word or filter with none in it).
    fn new(plan: &QueryPlan, reader: &'a SegmentReader) -> tantivy::Result<Option<Self>> {
        let mut words = Vec::with_capacity(plan.words.len());
        for word in &plan.words {
            let mut clauses = Vec::with_capacity(word.len());
            for clause in word {
                clauses.extend(Clause::open(clause, reader)?);
            }
            if clauses.is_empty() {
                return Ok(None);
            }
            words.push(clauses);
        }
        let mut filters = Vec::with_capacity(plan.filters.len());
        for filter in &plan.filters {
            let scorer = filter.scorer(reader, 1.0)?;
            if scorer.doc() == TERMINATED {
                return Ok(None);
            }
            filters.push(scorer);
        }
        let mut excludes = Vec::with_capacity(plan.excludes.len());
        for exclude in &plan.excludes {
            let scorer = exclude.scorer(reader, 1.0)?;
            if scorer.doc() != TERMINATED {
                excludes.push(scorer);
            }
        }
        let cost = |clauses: &[Clause]| -> u64 {
            clauses
                .iter()
                .map(|c| u64::from(c.scorer.size_hint()))
                .sum()
        };
        let mut driver = match (0..words.len()).min_by_key(|&i| cost(&words[i])) {
            Some(i) => words.swap_remove(i),
            None => {
                // No words: the rarest filter proposes, or every document does.
                let scorer = match (0..filters.len()).min_by_key(|&i| filters[i].size_hint()) {
                    Some(i) => filters.swap_remove(i),
                    None => plan.all.scorer(reader, 1.0)?,
                };
                vec![Clause {
                    scorer,
                    bound: 0.0,
                    rarest_term: None,
                    checked_up_to: None,
                }]
            }
        };
        driver.sort_by(|a, b| a.bound.total_cmp(&b.bound));
        let prefix = driver
            .iter()
            .scan(0.0, |sum, c| {
                *sum += c.bound;
                Some(*sum)
            })
            .collect();
        let others_bound = words
            .iter()
            .map(|w| w.iter().map(|c| c.bound).sum::<Score>())
            .sum();
        Ok(Some(Self {
            driver,
            prefix,
            others: words,
            others_bound,
            filters,
            excludes,
            alive: reader.alive_bitset(),
            position: 0,
        }))
    }

    /// The first driver clause that must match for a document to beat `threshold`: a document
    /// matching only clauses before it scores at most their bounds plus the other words'.
    fn first_essential(&self, threshold: Score) -> usize {
        self.prefix
            .iter()
            .position(|&sum| sum + self.others_bound > threshold)
            .unwrap_or(self.driver.len())
    }

    /// Moves the driver to `target` (counting and date order only: no thresholds).
    fn seek_all(&mut self, target: DocId) {
        self.position = target;
        for clause in &mut self.driver {
            seek(clause.scorer.as_mut(), target);
        }
    }

    /// The next document that matches the whole query and, when `threshold` is given, may beat
    /// it; with its score when `scored`. Stops before `end`. Once called with a threshold, a
    /// matcher is only called with (growing) thresholds.
    fn next(
        &mut self,
        threshold: Option<Score>,
        scored: bool,
        end: DocId,
    ) -> Option<(DocId, Score)> {
        match threshold {
            None => self.next_match(scored, end),
            Some(threshold) => self.next_competitive(threshold, end),
        }
    }

    /// Every match in order: the driver's clauses step through their matches.
    fn next_match(&mut self, scored: bool, end: DocId) -> Option<(DocId, Score)> {
        loop {
            let doc = self
                .driver
                .iter()
                .map(|c| c.scorer.doc())
                .min()
                .unwrap_or(TERMINATED);
            if doc == TERMINATED || doc >= end {
                return None;
            }
            let mut score: Score = 0.0;
            for clause in &mut self.driver {
                if clause.scorer.doc() == doc {
                    if scored {
                        score += clause.scorer.score();
                    }
                    clause.scorer.advance();
                }
            }
            self.position = doc + 1;
            match self.accept(doc, score, 0, None, scored) {
                Ok(score) => return Some((doc, score)),
                // Leapfrog: nothing before `next` can match (a filter or another word has no
                // document before it), so the candidates jump there instead of stepping.
                Err(next) => {
                    if next > doc + 1 {
                        self.position = next;
                        for clause in &mut self.driver {
                            seek(clause.scorer.as_mut(), next);
                        }
                    }
                }
            }
        }
    }

    /// The next match that can beat `threshold`: only clauses from the first essential one
    /// propose candidates, a phrase through its rarest term; a candidate whose bound cannot
    /// beat the threshold is passed over before any phrase is checked.
    fn next_competitive(&mut self, threshold: Score, end: DocId) -> Option<(DocId, Score)> {
        let essential = self.first_essential(threshold);
        let weaker = essential.checked_sub(1).map_or(0.0, |i| self.prefix[i]) + self.others_bound;
        loop {
            let position = self.position;
            let mut doc = TERMINATED;
            for clause in &mut self.driver[essential..] {
                clause.seek_proposal(position);
                doc = doc.min(clause.proposal());
            }
            if doc == TERMINATED || doc >= end {
                return None;
            }
            self.position = doc + 1;
            let mut bound = weaker;
            for clause in &mut self.driver[essential..] {
                if clause.proposal() == doc {
                    bound += clause.bound_at();
                }
            }
            if bound <= threshold {
                continue;
            }
            let mut score: Score = 0.0;
            let mut matched = false;
            for clause in &mut self.driver[essential..] {
                if clause.proposal() == doc {
                    if let Some(s) = clause.score_at(doc) {
                        score += s;
                        matched = true;
                    }
                }
            }
            if !matched {
                continue;
            }
            match self.accept(doc, score, essential, Some(threshold), true) {
                Ok(score) => return Some((doc, score)),
                Err(next) => self.position = self.position.max(next),
            }
        }
    }

    /// Completes the candidate `doc` (its essential clauses gave `score`): the rest of the query
    /// must match, and with a threshold the score must still be able to beat it. A rejected
    /// candidate gives the first document that could match next.
    fn accept(
        &mut self,
        doc: DocId,
        mut score: Score,
        essential: usize,
        threshold: Option<Score>,
        scored: bool,
    ) -> Result<Score, DocId> {
        let rejected = Err(doc + 1);
        if self.alive.is_some_and(|alive| alive.is_deleted(doc)) {
            return rejected;
        }
        for filter in &mut self.filters {
            let next = seek(filter.as_mut(), doc);
            if next != doc {
                return Err(next);
            }
        }
        for exclude in &mut self.excludes {
            if seek(exclude.as_mut(), doc) == doc {
                return rejected;
            }
        }
        let mut others_left = self.others_bound;
        for word in &mut self.others {
            let mut matched = false;
            let mut next = TERMINATED;
            for clause in word.iter_mut() {
                let at = seek(clause.scorer.as_mut(), doc);
                if at == doc {
                    matched = true;
                    if !scored {
                        break;
                    }
                    score += clause.scorer.score();
                }
                next = next.min(at);
                others_left -= clause.bound;
            }
            if !matched {
                return Err(next);
            }
        }
        // The weakest clauses last, each only while the document can still beat the threshold.
        for i in (0..essential).rev() {
            if let Some(threshold) = threshold {
                if score + self.prefix[i] + others_left.max(0.0) <= threshold {
                    return rejected;
                }
            }
            if let Some(s) = self.driver[i].score_at(doc) {
                score += s;
            }
        }
        match threshold {
            Some(threshold) if score <= threshold => rejected,
            _ => Ok(score),
        }
    }
}

/// A document in a ranking. Ordered best first: higher key, then earlier segment and document
/// (so ties keep the index's order, newest first).
#[derive(Clone, Copy)]
struct Ranked {
    /// A score, or a date (f64 holds every date exactly).
    key: f64,
    address: DocAddress,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    /// `Less` is better, so a `BinaryHeap` keeps the worst kept hit on top.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .key
            .total_cmp(&self.key)
            .then_with(|| self.address.cmp(&other.address))
    }
}

/// The best `k` hits with their scores, best first; pruned unless `exhaustive` (the reference
/// it is tested against: every match scored). The segments are ranked on as many threads as
/// there are cores, in groups of about equal size that share their thresholds.
pub fn top_by_score(
    searcher: &Searcher,
    plan: &QueryPlan,
    k: usize,
    exhaustive: bool,
) -> tantivy::Result<Vec<(Score, DocAddress)>> {
    let readers = searcher.segment_readers();
    let groups = segment_groups(readers, cores());
    let shared = SharedThreshold::default();
    let mut kept = match &groups[..] {
        [] => Vec::new(),
        [only] => rank_segments(plan, readers, only, k, exhaustive, &shared)?,
        [first, rest @ ..] => std::thread::scope(|scope| -> tantivy::Result<Vec<Ranked>> {
            let others: Vec<_> = rest
                .iter()
                .map(|group| {
                    let shared = &shared;
                    scope.spawn(move || rank_segments(plan, readers, group, k, exhaustive, shared))
                })
                .collect();
            let mut kept = rank_segments(plan, readers, first, k, exhaustive, &shared)?;
            for other in others {
                kept.extend(other.join().expect("a ranking thread panicked")?);
            }
            Ok(kept)
        })?,
    };
    kept.sort();
    kept.truncate(k);
    Ok(kept
        .into_iter()
        .map(|hit| (hit.key as Score, hit.address))
        .collect())
}

fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Segment ordinals in up to `count` groups of about equal size (largest first, each to the
/// smallest group so far). One query alone then keeps every core busy: at 1M proposals a broad
/// query's ranking took 18 ms on one.
fn segment_groups(readers: &[SegmentReader], count: usize) -> Vec<Vec<usize>> {
    let mut ordinals: Vec<usize> = (0..readers.len()).collect();
    ordinals.sort_by_key(|&i| std::cmp::Reverse(readers[i].max_doc()));
    let mut groups: Vec<(u64, Vec<usize>)> =
        vec![(0, Vec::new()); count.clamp(1, readers.len().max(1))];
    for ordinal in ordinals {
        let smallest = groups
            .iter_mut()
            .min_by_key(|(docs, _)| *docs)
            .expect("at least one group");
        smallest.0 += u64::from(readers[ordinal].max_doc());
        smallest.1.push(ordinal);
    }
    groups
        .into_iter()
        .map(|(_, group)| group)
        .filter(|group| !group.is_empty())
        .collect()
}

/// The best threshold any group has reached: each group's `k`-th best score is at most the
/// overall `k`-th best, so every group may prune below it. Stored as f32 bits (scores are
/// positive, and positive floats order as their bits); 0 is none yet.
#[derive(Default)]
struct SharedThreshold(std::sync::atomic::AtomicU32);

impl SharedThreshold {
    fn get(&self) -> Option<Score> {
        let bits = self.0.load(std::sync::atomic::Ordering::Relaxed);
        (bits != 0).then(|| Score::from_bits(bits))
    }

    /// Publishes `kth`, lowered by one step: a group prunes what scores at most the threshold,
    /// and a document tying another group's `k`-th best may still belong in the top `k`.
    fn raise(&self, kth: Score) {
        let below = kth.next_down();
        if below > 0.0 {
            self.0
                .fetch_max(below.to_bits(), std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Adds `hit` to the best `k` so far when it is among them.
fn keep(kept: &mut BinaryHeap<Ranked>, k: usize, hit: Ranked) {
    if kept.len() < k {
        kept.push(hit);
    } else if kept.peek().is_some_and(|worst| hit < *worst) {
        kept.pop();
        kept.push(hit);
    }
}

/// The best `k` hits of the given segments, unordered.
fn rank_segments(
    plan: &QueryPlan,
    readers: &[SegmentReader],
    ordinals: &[usize],
    k: usize,
    exhaustive: bool,
    shared: &SharedThreshold,
) -> tantivy::Result<Vec<Ranked>> {
    let mut kept: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k + 1);
    for &ordinal in ordinals {
        let Some(mut matcher) = SegmentMatcher::new(plan, &readers[ordinal])? else {
            continue;
        };
        loop {
            let own = (kept.len() >= k)
                .then(|| kept.peek().map(|worst| worst.key as Score))
                .flatten();
            let threshold = match (own, shared.get()) {
                _ if exhaustive => None,
                (Some(own), Some(other)) => Some(own.max(other)),
                (own, other) => own.or(other),
            };
            let Some((doc, score)) = matcher.next(threshold, true, TERMINATED) else {
                break;
            };
            let hit = Ranked {
                key: f64::from(score),
                address: DocAddress::new(ordinal as u32, doc),
            };
            keep(&mut kept, k, hit);
            if kept.len() >= k {
                if let Some(worst) = kept.peek() {
                    shared.raise(worst.key as Score);
                }
            }
        }
    }
    Ok(kept.into_vec())
}

/// The first `k` hits by date. Each segment is sorted newest first: its newest matches are its
/// first, its oldest are found from its end, in stretches that grow until `k` are found.
pub fn top_by_date(
    searcher: &Searcher,
    plan: &QueryPlan,
    k: usize,
    order: DateOrder,
    date_field: &str,
) -> tantivy::Result<Vec<DocAddress>> {
    let mut kept: BinaryHeap<Ranked> = BinaryHeap::with_capacity(k + 1);
    for (ordinal, reader) in searcher.segment_readers().iter().enumerate() {
        let dates = reader.fast_fields().i64(date_field)?;
        let date_of = |doc| dates.first(doc).unwrap_or_default();
        let docs = match order {
            DateOrder::Newest => first_matches(plan, reader, 0, TERMINATED, k)?,
            DateOrder::Oldest => last_matches(plan, reader, k, date_of)?,
        };
        for doc in docs {
            let date = date_of(doc) as f64;
            // As a key, newer is larger for Newest; for Oldest the sign turns.
            let key = match order {
                DateOrder::Newest => date,
                DateOrder::Oldest => -date,
            };
            let hit = Ranked {
                key,
                address: DocAddress::new(ordinal as u32, doc),
            };
            keep(&mut kept, k, hit);
        }
    }
    Ok(kept
        .into_sorted_vec()
        .into_iter()
        .map(|h| h.address)
        .collect())
}

/// Up to `k` matching documents of `[from, end)` in document order.
fn first_matches(
    plan: &QueryPlan,
    reader: &SegmentReader,
    from: DocId,
    end: DocId,
    k: usize,
) -> tantivy::Result<Vec<DocId>> {
    let mut found = Vec::new();
    let Some(mut matcher) = SegmentMatcher::new(plan, reader)? else {
        return Ok(found);
    };
    matcher.seek_all(from);
    while found.len() < k {
        match matcher.next(None, false, end) {
            Some((doc, _)) => found.push(doc),
            None => break,
        }
    }
    Ok(found)
}

/// The segment's last `k` matching documents in document order (its oldest), and before them
/// any others of the same date as the `k`-th from the end: among equal dates the earlier
/// document comes first, as everywhere else.
fn last_matches(
    plan: &QueryPlan,
    reader: &SegmentReader,
    k: usize,
    date_of: impl Fn(DocId) -> i64,
) -> tantivy::Result<Vec<DocId>> {
    let mut found: Vec<DocId> = Vec::new();
    let mut end = reader.max_doc();
    let mut stretch = (4 * k as u32).max(64);
    let complete = |found: &[DocId]| {
        found.len() >= k
            && match (found.first(), found.len().checked_sub(k).map(|i| found[i])) {
                (Some(&first), Some(kth)) => date_of(first) != date_of(kth),
                _ => true,
            }
    };
    while end > 0 && !complete(&found) {
        let from = end.saturating_sub(stretch);
        let mut earlier = first_matches(plan, reader, from, end, usize::MAX)?;
        earlier.append(&mut found);
        found = earlier;
        end = from;
        stretch = stretch.saturating_mul(4);
    }
    Ok(found)
}

/// The query's matches and facet counts: exact up to `exact_up_to` matches
/// ([`EXACT_COUNT_LIMIT`] as served), estimated from an even sample of each segment above it.
pub fn count(
    searcher: &Searcher,
    plan: &QueryPlan,
    facets: &FacetTables,
    facet_field: &'static str,
    exact_up_to: usize,
) -> tantivy::Result<Counts> {
    let mut exact = Tallied::default();
    let limit = exact_up_to as u64;
    for reader in searcher.segment_readers() {
        let Some(mut matcher) = SegmentMatcher::new(plan, reader)? else {
            continue;
        };
        let values = facets.segment(reader, facet_field)?;
        while let Some((doc, _)) = matcher.next(None, false, TERMINATED) {
            exact.add(values.of(doc), 1.0);
            if exact.matches() as u64 > limit {
                return estimate(searcher, plan, facets, facet_field);
            }
        }
    }
    Ok(Counts {
        tallied: exact,
        estimated: false,
    })
}

/// Counts from a sample: each segment is cut into [`STRATA`] equal stretches, each scanned from
/// its start until it gives its share of [`SAMPLED_MATCHES`]; a stretch scanned in part counts
/// for its whole length.
fn estimate(
    searcher: &Searcher,
    plan: &QueryPlan,
    facets: &FacetTables,
    facet_field: &'static str,
) -> tantivy::Result<Counts> {
    let all_docs: u64 = searcher
        .segment_readers()
        .iter()
        .map(|r| u64::from(r.max_doc()))
        .sum();
    let mut tallied = Tallied::default();
    for reader in searcher.segment_readers() {
        let max_doc = reader.max_doc();
        let Some(mut matcher) = SegmentMatcher::new(plan, reader)? else {
            continue;
        };
        let values = facets.segment(reader, facet_field)?;
        let share = (SAMPLED_MATCHES * u64::from(max_doc)).div_ceil(all_docs.max(1));
        let per_stratum = share.div_ceil(u64::from(STRATA)).max(1);
        let strata = STRATA.min(max_doc.max(1));
        for stratum in 0..strata {
            let from = (u64::from(max_doc) * u64::from(stratum) / u64::from(strata)) as DocId;
            let end = (u64::from(max_doc) * u64::from(stratum + 1) / u64::from(strata)) as DocId;
            matcher.seek_all(from);
            let mut sampled: Vec<DocId> = Vec::new();
            while (sampled.len() as u64) < per_stratum {
                match matcher.next(None, false, end) {
                    Some((doc, _)) => sampled.push(doc),
                    None => break,
                }
            }
            let scanned_to = match sampled.last() {
                Some(&last) if sampled.len() as u64 == per_stratum => last + 1,
                _ => end,
            };
            let scale = f64::from(end - from) / f64::from((scanned_to - from).max(1));
            for doc in sampled {
                tallied.add(values.of(doc), scale);
            }
        }
    }
    tallied.at_least(EXACT_COUNT_LIMIT + 1);
    Ok(Counts {
        tallied,
        estimated: true,
    })
}
