//! The embedded search backend: a tantivy index on disk (or in memory) of the tokens both
//! backends share (`text::bigrams`: CJK bigrams and words of letters and digits, with positions).
//! No query parser: a parsed [`Query`] becomes phrase and term queries (a word = its tokens in a
//! row), and filters are exact facet terms, so nothing typed can change the query's structure.
use std::path::Path;
use std::sync::{Arc, Mutex};

use std::ops::Bound;
use tantivy::index::{IndexSettings, IndexSortByField};
use tantivy::merge_policy::LogMergePolicy;

use tantivy::query::{
    AllQuery, Bm25Weight, BooleanQuery, BoostQuery, EnableScoring, InvertedIndexRangeQuery, Occur,
    PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value,
    FAST, STORED, STRING,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher, TantivyDocument,
    Term,
};

use super::cache::ResultCache;
use super::facet_tally::FacetTables;
use super::matching::{self, ClausePlan, DateOrder, QueryPlan};
use super::query::{self as query_language, SharedSynonyms, Synonyms};
use super::text;
use super::{
    hit_for, Health, Rebuild, SearchBackend, SearchDoc, SearchQuery, SearchResults, Sort, FACETS,
    MAX_RESULTS,
};

const BIGRAM: &str = "cjk_bigram";
/// Bump when the schema changes: an index of another version is rebuilt from the database.
const SCHEMA_VERSION: &str = "5";

#[derive(Clone)]
struct Fields {
    id: Field,
    doc: Field,
    title: Field,
    /// The code, the people and the agencies with their aliases.
    names: Field,
    body: Field,
    facets: Field,
    date: Field,
}

impl Fields {
    /// The text fields with their boosts: a match in a title ranks first.
    fn weighted(&self) -> [(Field, f32); 3] {
        [(self.title, 3.0), (self.names, 2.0), (self.body, 1.0)]
    }
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                // Positions, so a word is its tokens in a row: matching a conjunction of its
                // bigrams instead also found 创新联合体 where 创新联合 and 合体 stood apart.
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        doc: builder.add_text_field("doc", STORED),
        title: builder.add_text_field("title", text(BIGRAM)),
        names: builder.add_text_field("names", text(BIGRAM)),
        body: builder.add_text_field("body", text(BIGRAM)),
        facets: builder.add_facet_field("facets", FacetOptions::default()),
        date: builder.add_i64_field("date", FAST),
    };
    (builder.build(), fields)
}

#[derive(Clone)]
struct BigramTokenizer;

impl Tokenizer for BigramTokenizer {
    type TokenStream<'a> = BigramStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> BigramStream<'a> {
        BigramStream {
            cursor: text::BigramCursor::new(text),
            token: Token::default(),
            position: 0,
        }
    }
}

/// Bigrams streamed into one reused token (see [`text::BigramCursor`]).
struct BigramStream<'a> {
    cursor: text::BigramCursor<'a>,
    token: Token,
    position: usize,
}

impl TokenStream for BigramStream<'_> {
    fn advance(&mut self) -> bool {
        match self.cursor.next_into(&mut self.token.text) {
            Some((from, to)) => {
                self.token.offset_from = from;
                self.token.offset_to = to;
                self.token.position = self.position;
                self.token.position_length = 1;
                self.position += 1;
                true
            }
            None => false,
        }
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

pub struct EmbeddedBackend {
    reader: IndexReader,
    /// The writer for changes as they happen ([`Writer::Small`]); a rebuild swaps in a large one
    /// for its duration. `None` only while they are swapped, under the lock.
    writer: Arc<Mutex<Option<IndexWriter>>>,
    fields: Fields,
    cache: ResultCache,
    /// Total and facet counts per query (text and filters), shared by all its pages and orders.
    counted: ResultCache,
    /// Rankings per query and order, shared by its pages.
    ranked: ResultCache<Ranked>,
    facet_tables: FacetTables,
    synonyms: std::sync::RwLock<SharedSynonyms>,
    /// False: every match is scored and counted (the benchmark's measure of what pruning saves).
    pruning: bool,
}

/// What a query's total and facet counts depend on: its words and filters, not the page, the page
/// size or the order.
fn counted_key(q: &SearchQuery) -> SearchQuery {
    SearchQuery {
        text: q.text.clone(),
        filters: q.filters.clone(),
        sort: Sort::Relevance,
        page: 0,
        per_page: 0,
    }
}

/// Result sets kept per index generation (each holds up to 100 hits with their snippets).
const CACHED_QUERIES: usize = 256;

/// Rankings are kept in windows of this many hits: a page inside a cached ranking is cut from
/// it (Solr's query result window, whose default this is). It was 200 while every match was
/// scored anyway; with pruning a smaller top k prunes sooner (the slow queries of the 100k mix
/// took 15–20% less at 20 than at 200), and a later page ranks afresh, pruned too.
const RANKED_WINDOW: usize = 20;

/// The first hits of a query in one order: the top `window`, or all of them when fewer match.
#[derive(Clone)]
struct Ranked {
    hits: Arc<Vec<DocAddress>>,
    window: usize,
}

impl Ranked {
    /// True when the hits up to `end` are all here (or the query has no more).
    fn covers(&self, end: usize) -> bool {
        end <= self.window || self.hits.len() < self.window
    }
}

/// Facet counts as `SearchResults` carries them: per facet, its values with counts.
type Facets = Vec<(String, Vec<super::FacetCount>)>;

/// What a query's ranking depends on: its words, filters and order, not the page.
fn ranked_key(q: &SearchQuery) -> SearchQuery {
    SearchQuery {
        sort: q.sort,
        ..counted_key(q)
    }
}

/// Every segment keeps its documents newest first: the newest matches of a query are a
/// segment's first, so date order stops after a page's worth ([`matching::top_by_date`]).
fn settings() -> IndexSettings {
    IndexSettings {
        sort_by_field: Some(IndexSortByField {
            field: "date".into(),
            order: tantivy::index::Order::Desc,
        }),
        ..IndexSettings::default()
    }
}

fn open_index(dir: Option<&Path>, schema: Schema) -> anyhow::Result<Index> {
    let builder = Index::builder().schema(schema).settings(settings());
    let Some(dir) = dir else {
        return Ok(builder.create_in_ram()?);
    };
    let version_file = dir.join("tingshang-schema-version");
    let current = std::fs::read_to_string(&version_file).unwrap_or_default();
    if current.trim() != SCHEMA_VERSION && dir.exists() {
        // The index is derived data: an old layout is dropped and rebuilt from the database.
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let index = builder.open_or_create(super::store_files::IndexDirectory::open(dir)?)?;
    std::fs::write(version_file, SCHEMA_VERSION)?;
    Ok(index)
}

fn to_document(f: &Fields, doc: &SearchDoc) -> anyhow::Result<TantivyDocument> {
    let mut out = TantivyDocument::default();
    out.add_text(f.id, &doc.id);
    out.add_text(f.doc, serde_json::to_string(doc)?);
    out.add_text(f.title, &doc.title);
    out.add_text(
        f.names,
        format!(
            "{}\n{}",
            doc.code.as_deref().unwrap_or(""),
            doc.names.join("\n")
        ),
    );
    out.add_text(f.body, &doc.body);
    out.add_i64(f.date, doc.date);
    for (facet, _) in FACETS {
        for value in doc.facet_values(facet) {
            out.add_facet(f.facets, Facet::from_path([*facet, value.as_str()]));
        }
    }
    Ok(out)
}

/// The two index writers: their buffers are what indexing keeps resident.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// For the few documents of each change: one thread, tantivy's smallest budget (the 50 MB,
    /// two-thread writer used for everything before: peak RSS 214 against 187 MB, kept 100k
    /// corpus, the search mix and then 20 accepted tickets).
    Small,
    /// For a rebuild: a thread per core and room for large segments.
    Large,
}

impl Writer {
    fn open(self, index: &Index) -> tantivy::Result<IndexWriter> {
        match self {
            Writer::Small => {
                let writer = index.writer_with_num_threads(1, 15_000_000)?;
                // The small segments of single changes merge among themselves, never with a
                // rebuild's: merging reads whole document stores into memory (three 3,000-document
                // segments of the 100k corpus took 32 MB at once, heaptrack), and the next
                // rebuild compacts everything anyway.
                let mut policy = LogMergePolicy::default();
                policy.set_max_docs_before_merge(1_000);
                writer.set_merge_policy(Box::new(policy));
                Ok(writer)
            }
            Writer::Large => index.writer(50_000_000),
        }
    }
}

/// Runs `change` on a writer of the given size and commits (on a blocking thread).
fn commit_with(
    writer: &Mutex<Option<IndexWriter>>,
    size: Writer,
    fields: &Fields,
    change: impl FnOnce(&mut IndexWriter, &Fields) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut slot = writer
        .lock()
        .map_err(|_| anyhow::anyhow!("index writer poisoned"))?;
    let small = slot
        .as_mut()
        .ok_or_else(|| anyhow::anyhow!("no index writer"))?;
    if size == Writer::Small {
        change(small, fields)?;
        small.commit()?;
        return Ok(());
    }
    // One writer per index (tantivy holds a lock file): the small one goes first, and
    // comes back whatever happens to the large one.
    let index = small.index().clone();
    drop(slot.take());
    let written = (|| -> anyhow::Result<()> {
        let mut large = Writer::Large.open(&index)?;
        change(&mut large, fields)?;
        large.commit()?;
        // The merges the commit started, finished here rather than abandoned when the
        // writer goes: the server then searches a few large segments.
        large.wait_merging_threads()?;
        Ok(())
    })();
    *slot = Some(Writer::Small.open(&index)?);
    written
}

impl EmbeddedBackend {
    /// Opens (or creates) the index in `dir`, or in memory when `dir` is `None`.
    pub fn open(dir: Option<&Path>) -> anyhow::Result<Self> {
        let (schema, fields) = schema();
        let index = open_index(dir, schema)?;
        index.tokenizers().register(BIGRAM, BigramTokenizer);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer = Writer::Small.open(&index)?;
        Ok(Self {
            reader,
            writer: Arc::new(Mutex::new(Some(writer))),
            fields,
            cache: ResultCache::new(CACHED_QUERIES),
            counted: ResultCache::new(CACHED_QUERIES),
            ranked: ResultCache::new(CACHED_QUERIES),
            synonyms: Default::default(),
            facet_tables: FacetTables::default(),
            pruning: true,
        })
    }

    /// The same index with nothing kept between searches: every search is evaluated in full.
    pub fn without_caches(self) -> Self {
        Self {
            cache: ResultCache::new(0),
            counted: ResultCache::new(0),
            ranked: ResultCache::new(0),
            ..self
        }
    }

    /// The same index scoring and counting every match, as before pruning (the benchmark runs
    /// both in one run; results are the same but for counts above the exact limit).
    pub fn without_pruning(self) -> Self {
        Self {
            pruning: false,
            ..self
        }
    }

    /// Runs `change` on a writer of the given size, commits and makes the result visible.
    async fn write(
        &self,
        size: Writer,
        change: impl FnOnce(&mut IndexWriter, &Fields) -> anyhow::Result<()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let writer = self.writer.clone();
        let fields = self.fields.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let written = commit_with(&writer, size, &fields, change);
            // Each commit's indexing buffers are freed by now; hand them back rather than keep
            // them resident until the next one (here, off the runtime's threads: it walks the heap).
            crate::memory::release_free_memory();
            written
        })
        .await??;
        self.reloaded()
    }

    /// Makes the last commit visible and forgets segments it merged away.
    fn reloaded(&self) -> anyhow::Result<()> {
        self.reader.reload()?;
        let live: Vec<_> = self
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        self.facet_tables.retain(&live);
        Ok(())
    }

    /// The query as the matcher runs it ([`matching`]): per include word its scored clauses,
    /// the words to exclude, the facet filters.
    fn plan(
        &self,
        searcher: &Searcher,
        parsed: &query_language::Query,
        q: &SearchQuery,
    ) -> tantivy::Result<QueryPlan> {
        let scored = EnableScoring::enabled_from_searcher(searcher);
        let unscored = EnableScoring::disabled_from_searcher(searcher);
        let mut words = Vec::with_capacity(parsed.include.len());
        for term in &parsed.include {
            let mut clauses = Vec::new();
            for clause in self.clauses(searcher, term)? {
                let rarest_term = match clause.rarest_term {
                    Some((term, ratio)) => Some((
                        TermQuery::new(term, IndexRecordOption::WithFreqs).weight(scored)?,
                        ratio,
                    )),
                    None => None,
                };
                clauses.push(ClausePlan {
                    weight: clause.matching.weight(scored)?,
                    bound: clause.bound,
                    rarest_term,
                });
            }
            words.push(clauses);
        }
        let mut excludes = Vec::with_capacity(parsed.exclude.len());
        for term in &parsed.exclude {
            let either: Vec<(Occur, Box<dyn Query>)> = self
                .clauses(searcher, term)?
                .into_iter()
                .map(|clause| (Occur::Should, clause.matching))
                .collect();
            excludes.push(BooleanQuery::new(either).weight(unscored)?);
        }
        let mut filters = Vec::new();
        for (name, value) in q.filters.pairs() {
            let term = Term::from_facet(
                self.fields.facets,
                &Facet::from_path([name, value.as_str()]),
            );
            filters.push(TermQuery::new(term, IndexRecordOption::Basic).weight(unscored)?);
        }
        Ok(QueryPlan {
            words,
            excludes,
            filters,
            all: AllQuery.weight(unscored)?,
        })
    }

    /// A term matches a field holding one of its alternatives' tokens in a row: one clause per
    /// alternative and field, boosted by the field's weight, with the most it can score.
    fn clauses(
        &self,
        searcher: &Searcher,
        term: &query_language::Term,
    ) -> tantivy::Result<Vec<Clause>> {
        let mut clauses = Vec::new();
        for tokens in &term.alternatives {
            for (field, boost) in self.fields.weighted() {
                let terms: Vec<Term> = tokens
                    .iter()
                    .map(|t| Term::from_field_text(field, t))
                    .collect();
                let (matching, bound, rarest_term): (Box<dyn Query>, Score, _) = if term.prefix {
                    // One character: every token starting with it, up to the next code point.
                    let first = tokens[0].chars().next().unwrap_or_default();
                    let after = char::from_u32(first as u32 + 1).unwrap_or(first);
                    let range = InvertedIndexRangeQuery::new(
                        Bound::Included(terms[0].clone()),
                        Bound::Excluded(Term::from_field_text(field, &after.to_string())),
                    );
                    (Box::new(range), Score::INFINITY, None)
                } else {
                    // BM25's term-frequency factor tf / (tf + norm) stays below 1, so a clause
                    // never scores above its weight: idf × (1 + k1) × boost (tf_factor is 1 at
                    // fieldnorm 0 and the largest tf, in f32).
                    // At tf_factor 1 a BM25 score is its weight.
                    let weight_of = |terms: &[Term]| -> tantivy::Result<Score> {
                        Ok(Bm25Weight::for_terms(searcher, terms)?.score(0, u32::MAX))
                    };
                    let bound = weight_of(&terms)? * boost;
                    if terms.len() == 1 {
                        let single = TermQuery::new(terms[0].clone(), IndexRecordOption::WithFreqs);
                        (Box::new(single) as Box<dyn Query>, bound, None)
                    } else {
                        let mut rarest = terms[0].clone();
                        let mut fewest = u64::MAX;
                        for term in &terms {
                            let docs = searcher.doc_freq(term)?;
                            if docs < fewest {
                                (rarest, fewest) = (term.clone(), docs);
                            }
                        }
                        let ratio = bound / weight_of(std::slice::from_ref(&rarest))?;
                        let phrase = PhraseQuery::new(terms);
                        (
                            Box::new(phrase) as Box<dyn Query>,
                            bound,
                            Some((rarest, ratio)),
                        )
                    }
                };
                clauses.push(Clause {
                    matching: Box::new(BoostQuery::new(matching, boost)),
                    bound,
                    rarest_term,
                });
            }
        }
        Ok(clauses)
    }

    fn parse(&self, q: &SearchQuery) -> (query_language::Query, SharedSynonyms) {
        let synonyms = self.synonyms();
        (query_language::parse(&q.text, &synonyms), synonyms)
    }

    fn synonyms(&self) -> SharedSynonyms {
        self.synonyms
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Runs the query against the index, bypassing the result cache (the benchmark measures this).
    pub fn search_uncached(&self, q: &SearchQuery) -> anyhow::Result<SearchResults> {
        Ok(self.evaluate(&self.reader.searcher(), q, None, None)?.0)
    }

    /// Evaluates `q`. With `counted` (its total and facet counts, from another page of the same
    /// query) only the hits are collected: counting every match is most of a broad query's cost,
    /// and paging through one query does not change its counts. With `ranked` (the ranking of
    /// the same query and order, from an earlier page) a page inside it is a slice of it, and
    /// nothing is scored at all. Returns the page, and the ranking when it was computed afresh.
    fn evaluate(
        &self,
        searcher: &Searcher,
        q: &SearchQuery,
        counted: Option<SearchResults>,
        ranked: Option<Ranked>,
    ) -> anyhow::Result<(SearchResults, Option<Ranked>)> {
        let per_page = q.per_page.clamp(1, 100);
        let offset = (q.page.max(1) - 1) * per_page;
        let end = (offset + per_page).min(MAX_RESULTS);
        let (ranked, fresh, counts) = match (ranked, counted) {
            (Some(ranked), Some(counted)) if ranked.covers(end) => (
                ranked,
                false,
                Counted {
                    total: counted.total,
                    estimated: counted.total_is_estimate,
                    facets: counted.facets,
                },
            ),
            (_, counted) => {
                let (ranked, counts) = self.rank(searcher, q, end, counted)?;
                (ranked, true, counts)
            }
        };
        let (parsed, synonyms) = self.parse(q);
        let terms = parsed.highlight_terms(&synonyms);
        let page = ranked
            .hits
            .get(offset.min(ranked.hits.len())..end.min(ranked.hits.len()));
        let mut hits = Vec::with_capacity(per_page);
        for &address in page.unwrap_or_default() {
            let stored: TantivyDocument = searcher.doc(address)?;
            let json = stored
                .get_first(self.fields.doc)
                .and_then(|v| v.as_str())
                .unwrap_or("{}");
            let doc: SearchDoc = serde_json::from_str(json)?;
            hits.push(hit_for(&doc, &terms));
        }
        Ok((
            SearchResults {
                total: counts.total,
                total_is_estimate: counts.estimated,
                hits,
                facets: counts.facets,
            },
            fresh.then_some(ranked),
        ))
    }

    /// Ranks the query's matches up to the end of the window holding `end`
    /// ([`matching`]: pruned, not every match scored); counts them (total and facets, exact
    /// up to a limit, estimated above) unless `counted` already has them.
    fn rank(
        &self,
        searcher: &Searcher,
        q: &SearchQuery,
        end: usize,
        counted: Option<SearchResults>,
    ) -> anyhow::Result<(Ranked, Counted)> {
        let (parsed, _) = self.parse(q);
        let plan = self.plan(searcher, &parsed, q)?;
        let window = (end.div_ceil(RANKED_WINDOW).max(1) * RANKED_WINDOW).min(MAX_RESULTS);
        let by_date = match q.sort {
            Sort::Newest => Some(DateOrder::Newest),
            Sort::Oldest => Some(DateOrder::Oldest),
            // Without words every match scores the same: newest first.
            Sort::Relevance if parsed.include.is_empty() => Some(DateOrder::Newest),
            Sort::Relevance => None,
        };
        let hits = match by_date {
            Some(order) => matching::top_by_date(searcher, &plan, window, order, "date")?,
            None => matching::top_by_score(searcher, &plan, window, !self.pruning)?
                .into_iter()
                .map(|(_, address)| address)
                .collect(),
        };
        let counts = match counted {
            Some(counted) => Counted {
                total: counted.total,
                estimated: counted.total_is_estimate,
                facets: counted.facets,
            },
            None => {
                let exact_up_to = if self.pruning {
                    super::EXACT_COUNT_LIMIT
                } else {
                    usize::MAX
                };
                let counts =
                    matching::count(searcher, &plan, &self.facet_tables, "facets", exact_up_to)?;
                Counted {
                    total: counts.tallied.matches().min(MAX_RESULTS),
                    estimated: counts.estimated,
                    facets: self.facet_tables.top(&counts.tallied, 30),
                }
            }
        };
        Ok((
            Ranked {
                hits: Arc::new(hits),
                window,
            },
            counts,
        ))
    }
}

/// One alternative of a query word in one field, boosted (see [`ClausePlan`]).
struct Clause {
    matching: Box<dyn Query>,
    bound: Score,
    rarest_term: Option<(Term, Score)>,
}

/// A query's total and facet counts, and whether they are estimates.
struct Counted {
    total: usize,
    estimated: bool,
    facets: Facets,
}

#[async_trait::async_trait]
impl SearchBackend for EmbeddedBackend {
    fn name(&self) -> &'static str {
        "embedded"
    }

    async fn upsert(&self, docs: Vec<SearchDoc>) -> anyhow::Result<()> {
        let prepared: Vec<(String, TantivyDocument)> = docs
            .iter()
            .map(|d| Ok((d.id.clone(), to_document(&self.fields, d)?)))
            .collect::<anyhow::Result<_>>()?;
        self.write(Writer::Small, move |writer, f| {
            for (id, doc) in prepared {
                writer.delete_term(Term::from_field_text(f.id, &id));
                writer.add_document(doc)?;
            }
            Ok(())
        })
        .await
    }

    async fn delete(&self, ids: Vec<String>) -> anyhow::Result<()> {
        self.write(Writer::Small, move |writer, f| {
            for id in ids {
                writer.delete_term(Term::from_field_text(f.id, &id));
            }
            Ok(())
        })
        .await
    }

    async fn set_synonyms(&self, synonyms: Synonyms) -> anyhow::Result<()> {
        let mut slot = self
            .synonyms
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if **slot != synonyms {
            *slot = Arc::new(synonyms);
            // Results cached under the old groups are stale now.
            self.cache.clear();
            self.counted.clear();
            self.ranked.clear();
        }
        Ok(())
    }

    async fn replace_all(&self, mut docs: super::RebuildStream) -> anyhow::Result<()> {
        // Deleting and adding in one commit: searchers see the old index until the new one is
        // whole; documents are tokenised by the writer's threads while the next chunk is still
        // being read from the database.
        self.write(Writer::Large, move |writer, fields| {
            writer.delete_all_documents()?;
            loop {
                match docs.blocking_recv() {
                    Some(Rebuild::Docs(batch)) => {
                        for doc in &batch {
                            writer.add_document(to_document(fields, doc)?)?;
                        }
                    }
                    Some(Rebuild::End) => return Ok(()),
                    None => {
                        writer.rollback()?;
                        anyhow::bail!("rebuild stopped before its end; the index is unchanged");
                    }
                }
            }
        })
        .await
    }

    async fn search(&self, query: &SearchQuery) -> anyhow::Result<SearchResults> {
        // Searching a memory-mapped index is CPU work measured in microseconds to milliseconds;
        // running it inline avoids a thread hop per query.
        let searcher = self.reader.searcher();
        let generation = searcher.generation().generation_id();
        if let Some(results) = self.cache.get(generation, query) {
            return Ok(results);
        }
        let key = counted_key(query);
        let counted = self.counted.get(generation, &key);
        let fresh_counts = counted.is_none();
        let ranking_key = ranked_key(query);
        let ranked = self.ranked.get(generation, &ranking_key);
        let (results, ranking) = self.evaluate(&searcher, query, counted, ranked)?;
        if let Some(ranking) = ranking {
            self.ranked.put(generation, &ranking_key, &ranking);
        }
        if fresh_counts {
            let counts = SearchResults {
                total: results.total,
                total_is_estimate: results.total_is_estimate,
                hits: Vec::new(),
                facets: results.facets.clone(),
            };
            self.counted.put(generation, &key, &counts);
        }
        self.cache.put(generation, query, &results);
        Ok(results)
    }

    async fn health(&self) -> Health {
        Health {
            backend: "embedded",
            documents: self.reader.searcher().num_docs(),
            ok: true,
            detail: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, title: &str) -> SearchDoc {
        SearchDoc {
            id: id.into(),
            kind: "proposal".into(),
            title: title.into(),
            body: format!("{title}的正文"),
            ..Default::default()
        }
    }

    async fn titles(backend: &EmbeddedBackend, text: &str) -> Vec<String> {
        let query = SearchQuery {
            text: text.into(),
            ..Default::default()
        };
        let results = backend.search(&query).await.unwrap();
        results.hits.into_iter().map(|h| h.id).collect()
    }

    /// The page as served (through the caches), checked against a full evaluation of it.
    async fn served_as_evaluated(
        backend: &EmbeddedBackend,
        text: &str,
        sort: Sort,
        page: usize,
    ) -> SearchResults {
        let query = SearchQuery {
            text: text.into(),
            sort,
            page,
            per_page: 20,
            ..Default::default()
        };
        let served = backend.search(&query).await.unwrap();
        let full = backend.search_uncached(&query).unwrap();
        assert_eq!((served.total, &served.facets), (full.total, &full.facets));
        assert_eq!(ids(&served), ids(&full), "{sort:?} page {page}");
        served
    }

    fn ids(results: &SearchResults) -> Vec<String> {
        results.hits.iter().map(|h| h.id.clone()).collect()
    }

    #[tokio::test]
    async fn later_pages_reuse_the_counts_and_match_a_full_evaluation() {
        let backend = EmbeddedBackend::open(None).unwrap();
        let docs: Vec<SearchDoc> = (0..45)
            .map(|i| SearchDoc {
                date: i,
                status: Some(if i % 3 == 0 { "closed" } else { "answered" }.into()),
                ..doc(&format!("proposal-{i}"), &format!("概念验证中心第{i}号"))
            })
            .collect();
        backend.upsert(docs).await.unwrap();
        backend
            .upsert(vec![doc("proposal-x", "人才公寓")])
            .await
            .unwrap();
        for sort in [Sort::Relevance, Sort::Newest, Sort::Oldest] {
            for page in [1, 2, 3, 1] {
                let served = served_as_evaluated(&backend, "概念验证", sort, page).await;
                assert_eq!(served.total, 45);
                assert_eq!(served.hits.len(), if page == 3 { 5 } else { 20 });
            }
        }
        // Another query's counts are its own.
        let other = SearchQuery {
            text: "人才公寓".into(),
            page: 2,
            ..Default::default()
        };
        assert_eq!(backend.search(&other).await.unwrap().total, 1);
    }

    #[tokio::test]
    async fn pages_cut_from_cached_rankings_match_a_full_evaluation_across_windows() {
        let backend = EmbeddedBackend::open(None).unwrap();
        let docs: Vec<SearchDoc> = (0..450)
            .map(|i| SearchDoc {
                date: (i * 7919) % 450,
                body: format!("科技型中小企业{}", "培育".repeat(i as usize % 13)),
                ..doc(&format!("proposal-{i}"), &format!("第{i}号建议"))
            })
            .collect();
        backend.upsert(docs).await.unwrap();
        for sort in [Sort::Relevance, Sort::Newest, Sort::Oldest] {
            let mut seen = std::collections::HashSet::new();
            // Forwards, then back: later windows extend the cached ranking, earlier pages reuse it.
            for page in (1..=24).chain([3, 12]) {
                let served = served_as_evaluated(&backend, "科技型中小企业", sort, page).await;
                assert_eq!(served.total, 450);
                let expected = if page <= 22 {
                    20
                } else if page == 23 {
                    10
                } else {
                    0
                };
                assert_eq!(served.hits.len(), expected, "{sort:?} page {page}");
                if page <= 23 && seen.len() < 450 {
                    for id in ids(&served) {
                        assert!(seen.insert(id), "{sort:?} page {page} repeats a hit");
                    }
                }
            }
            assert_eq!(seen.len(), 450, "every hit appears on exactly one page");
        }
    }

    #[tokio::test]
    async fn a_rebuild_that_stops_before_its_end_leaves_the_index_as_it_was_and_writable() {
        let backend = EmbeddedBackend::open(None).unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tx.send(Rebuild::Docs(vec![doc("proposal-1", "概念验证中心")]))
            .await
            .unwrap();
        tx.send(Rebuild::End).await.unwrap();
        backend.replace_all(rx).await.unwrap();
        assert_eq!(titles(&backend, "概念验证").await, vec!["proposal-1"]);

        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tx.send(Rebuild::Docs(vec![doc("proposal-2", "人才公寓")]))
            .await
            .unwrap();
        drop(tx); // the database read failed: no `End`
        assert!(backend.replace_all(rx).await.is_err());
        assert_eq!(titles(&backend, "概念验证").await, vec!["proposal-1"]);
        assert!(titles(&backend, "人才公寓").await.is_empty());

        // Rebuilds run on a writer of their own; the one for changes is back after each.
        backend
            .upsert(vec![doc("proposal-3", "科技金融")])
            .await
            .unwrap();
        assert_eq!(titles(&backend, "科技金融").await, vec!["proposal-3"]);
        assert_eq!(titles(&backend, "概念验证").await, vec!["proposal-1"]);
    }
}

/// The pruned matcher against tantivy itself: the same corpus, every match scored by tantivy's
/// boolean query (`TopDocs`), counted by its `Count`, ordered by its date field.
#[cfg(test)]
mod matching_against_tantivy {
    use super::*;
    use crate::search::EXACT_COUNT_LIMIT;
    use proptest::prelude::*;
    use tantivy::collector::TopDocs;

    /// Pieces of text: words that overlap (科技 in 科技创新) and single characters, so queries
    /// match many documents at many frequencies, in title and body alike.
    const PIECES: &[&str] = &[
        "科技",
        "创新",
        "科技创新",
        "企业",
        "创新企业",
        "人才",
        "科",
        "新",
        "技术转移",
        "，",
    ];

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(PIECES), 0..max)
            .prop_map(|pieces| pieces.concat())
    }

    fn corpus() -> impl Strategy<Value = Vec<(String, String, i64, u8)>> {
        proptest::collection::vec((text(3), text(24), 0i64..40, 0u8..3), 20..160)
    }

    fn query() -> impl Strategy<Value = (String, Option<u8>)> {
        let word = || {
            proptest::sample::select(
                &[
                    "科技创新",
                    "创新企业",
                    "技术转移",
                    "科技",
                    "企业",
                    "新科技",
                    "创新",
                ][..],
            )
        };
        (
            proptest::collection::vec(word(), 1..3),
            proptest::option::weighted(0.3, word()),
            proptest::option::weighted(0.3, 0u8..3),
        )
            .prop_map(|(words, exclude, status)| {
                let mut text = words.join(" ");
                if let Some(exclude) = exclude {
                    text.push_str(&format!(" -{exclude}"));
                }
                (text, status)
            })
    }

    const STATUSES: [&str; 3] = ["open", "answered", "closed"];

    /// The backend with the corpus in several segments, some documents replaced (deleted in
    /// their old segment).
    fn indexed(corpus: &[(String, String, i64, u8)]) -> EmbeddedBackend {
        let backend = EmbeddedBackend::open(None).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let docs: Vec<SearchDoc> = corpus
            .iter()
            .enumerate()
            .map(|(i, (title, body, date, status))| SearchDoc {
                id: format!("proposal-{i}"),
                kind: "proposal".into(),
                title: title.clone(),
                body: body.clone(),
                date: *date,
                status: Some(STATUSES[*status as usize].into()),
                ..Default::default()
            })
            .collect();
        runtime.block_on(async {
            for chunk in docs.chunks(docs.len().div_ceil(3)) {
                backend.upsert(chunk.to_vec()).await.unwrap();
            }
            // Every fifth document again: its first copy stays in its segment, deleted.
            let again: Vec<SearchDoc> = docs.iter().step_by(5).cloned().collect();
            backend.upsert(again).await.unwrap();
        });
        backend
    }

    /// tantivy's boolean query of the same clauses.
    /// Every match of `q` as tantivy scores it, best first. Exclusions are applied afterwards:
    /// tantivy 0.27's own `MustNot` over phrases trips its debug assertion (`Exclude::advance`
    /// calls `seek_danger` behind the phrase's position), which production no longer runs.
    fn reference(
        backend: &EmbeddedBackend,
        searcher: &Searcher,
        q: &SearchQuery,
    ) -> Vec<(Score, DocAddress)> {
        let (parsed, _) = backend.parse(q);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let either = |term| -> Box<dyn Query> {
            let shoulds = backend
                .clauses(searcher, term)
                .unwrap()
                .into_iter()
                .map(|clause| (Occur::Should, clause.matching))
                .collect();
            Box::new(BooleanQuery::new(shoulds))
        };
        for term in &parsed.include {
            clauses.push((Occur::Must, either(term)));
        }
        let mut excluded = std::collections::HashSet::new();
        for term in &parsed.exclude {
            let matching = either(term);
            let found = searcher.search(&matching, &tantivy::collector::DocSetCollector);
            excluded.extend(found.unwrap());
        }
        for (name, value) in q.filters.pairs() {
            let term = Term::from_facet(
                backend.fields.facets,
                &Facet::from_path([name, value.as_str()]),
            );
            // A filter adds one constant to every match's score (which the matcher leaves
            // out): boosted to nothing, the scores compare directly.
            let filter = TermQuery::new(term, IndexRecordOption::Basic);
            clauses.push((
                Occur::Must,
                Box::new(BoostQuery::new(Box::new(filter), 0.0)),
            ));
        }
        let mut every = searcher
            .search(
                &BooleanQuery::new(clauses),
                &TopDocs::with_limit(100_000).order_by_score(),
            )
            .unwrap();
        every.retain(|(_, address)| !excluded.contains(address));
        every
    }

    fn search_query(text: &str, status: Option<u8>) -> SearchQuery {
        let mut q = SearchQuery {
            text: text.into(),
            ..Default::default()
        };
        q.filters.status = status.map(|s| STATUSES[s as usize].to_string());
        q
    }

    /// The corpus indexed, the query's plan, and tantivy's scoring of every match.
    fn planned(
        corpus: &[(String, String, i64, u8)],
        text: &str,
        status: Option<u8>,
    ) -> (
        EmbeddedBackend,
        Searcher,
        QueryPlan,
        Vec<(Score, DocAddress)>,
    ) {
        let backend = indexed(corpus);
        let searcher = backend.reader.searcher();
        let q = search_query(text, status);
        let (parsed, _) = backend.parse(&q);
        let plan = backend.plan(&searcher, &parsed, &q).unwrap();
        let every = reference(&backend, &searcher, &q);
        (backend, searcher, plan, every)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// The pruned top k is tantivy's top k: the same scores in the same order (documents of
        /// equal score may differ), and the same documents as scoring every match ourselves.
        #[test]
        fn pruned_ranking_is_the_full_ranking(corpus in corpus(), (text, status) in query(), k in 1usize..12) {
            let (_backend, searcher, plan, every) = planned(&corpus, &text, status);
            let score_of: std::collections::HashMap<DocAddress, Score> =
                every.iter().map(|(score, address)| (*address, *score)).collect();
            let close = |a: Score, b: Score| (a - b).abs() <= 1e-4 * b.abs().max(1.0);
            for exhaustive in [false, true] {
                let ours = matching::top_by_score(&searcher, &plan, k, exhaustive).unwrap();
                prop_assert_eq!(ours.len(), every.len().min(k));
                // The same scores in the same order as tantivy's top k (documents whose scores
                // differ in the last bits may trade places) ...
                for ((score, _), (their_score, _)) in ours.iter().zip(&every) {
                    prop_assert!(close(*score, *their_score), "{} vs {}", score, their_score);
                }
                // ... and each is a match with the score tantivy gives it.
                for (score, address) in &ours {
                    let theirs = score_of.get(address).copied();
                    prop_assert!(theirs.is_some_and(|t| close(*score, t)), "{:?}: {} vs {:?}", address, score, theirs);
                }
            }
        }

        /// Date order is every match sorted by date (ties in index order), and counts up to the
        /// exact limit are tantivy's.
        #[test]
        fn date_order_and_counts_are_exact(corpus in corpus(), (text, status) in query(), k in 1usize..30) {
            let (backend, searcher, plan, every) = planned(&corpus, &text, status);
            let matches = every.len();
            let mut every: Vec<(i64, DocAddress)> = every
                .into_iter()
                .map(|(_, address)| {
                    let dates = searcher.segment_reader(address.segment_ord).fast_fields().i64("date").unwrap();
                    (dates.first(address.doc_id).unwrap(), address)
                })
                .collect();
            every.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let newest: Vec<DocAddress> = every.iter().take(k).map(|(_, a)| *a).collect();
            prop_assert_eq!(matching::top_by_date(&searcher, &plan, k, DateOrder::Newest, "date").unwrap(), newest);
            every.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            let oldest: Vec<DocAddress> = every.iter().take(k).map(|(_, a)| *a).collect();
            prop_assert_eq!(matching::top_by_date(&searcher, &plan, k, DateOrder::Oldest, "date").unwrap(), oldest);

            let counts = matching::count(&searcher, &plan, &backend.facet_tables, "facets", EXACT_COUNT_LIMIT).unwrap();
            prop_assert!(!counts.estimated);
            prop_assert_eq!(counts.tallied.matches(), matches);
        }
    }

    /// Above the exact limit the total and the facet counts are estimates, said to be, and near
    /// the truth; at the limit they are exact.
    #[tokio::test]
    async fn counts_above_the_limit_are_estimated_near_the_truth() {
        let backend = EmbeddedBackend::open(None).unwrap();
        let docs: Vec<SearchDoc> = (0..6_000)
            .map(|i: i64| SearchDoc {
                id: format!("proposal-{i}"),
                kind: "proposal".into(),
                title: format!("第{i}号"),
                // Every third document has 科技创新 (half of them closed); 1,000 have 概念验证.
                body: format!(
                    "{}{}",
                    if i % 3 == 0 {
                        "科技创新平台"
                    } else {
                        "人才公寓"
                    },
                    if i < 1_000 { "概念验证" } else { "" }
                ),
                status: Some(if i % 6 == 0 { "closed" } else { "answered" }.into()),
                date: i % 365,
                ..Default::default()
            })
            .collect();
        backend.upsert(docs).await.unwrap();
        let search = |text: &str| {
            backend
                .search_uncached(&SearchQuery {
                    text: text.into(),
                    ..Default::default()
                })
                .unwrap()
        };
        let broad = search("科技创新");
        assert!(broad.total_is_estimate);
        assert!((1_800..=2_200).contains(&broad.total), "{}", broad.total);
        let status = &broad
            .facets
            .iter()
            .find(|(name, _)| name == "status")
            .unwrap()
            .1;
        for value in ["closed", "answered"] {
            let count = status.iter().find(|c| c.value == value).unwrap().count;
            assert!((850..=1_150).contains(&count), "{value}: {count}");
        }
        let at_limit = search("概念验证");
        assert!(!at_limit.total_is_estimate);
        assert_eq!(at_limit.total, 1_000);
    }
}
