//! Full-text search over the published archive. One trait, [`SearchBackend`], two implementations
//! chosen by configuration: an embedded tantivy index with jieba segmentation (default, single
//! instance) and Meilisearch (`MEILI_URL`). The index is derived from the database and kept in step
//! through the transactional outbox (`outbox.rs`); `reindex` rebuilds it from scratch.
pub mod cache;
pub mod documents;
pub mod embedded;
pub mod facet_tally;
pub mod matching;
pub mod meili;
pub mod outbox;
pub mod query;
pub mod routes;
pub mod store_files;
pub mod synonyms;
pub mod text;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use routes::{api_routes, routes};

/// One searchable item (a published proposal with its responses, a session or a document).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchDoc {
    /// `proposal-12`, `session-1`, `document-3` (Meilisearch allows only [A-Za-z0-9_-]).
    pub id: String,
    pub kind: String,
    pub url: String,
    pub title: String,
    pub code: Option<String>,
    /// Plain text: the body and, for proposals, the published responses.
    pub body: String,
    /// People and agencies, with agency aliases, so "科技局" finds 青岛市科学技术局's answers.
    pub names: Vec<String>,
    pub status: Option<String>,
    pub agencies: Vec<String>,
    pub session: Option<i32>,
    pub year: Option<i32>,
    pub channel: Option<String>,
    pub topics: Vec<String>,
    pub members: Vec<String>,
    /// Unix seconds, for sorting by date.
    pub date: i64,
}

/// The filterable facets, in display order: (name, Chinese label).
pub const FACETS: &[(&str, &str)] = &[
    ("kind", "类型"),
    ("status", "状态"),
    ("agency", "单位"),
    ("session", "期数"),
    ("year", "年份"),
    ("channel", "渠道"),
    ("topic", "主题"),
    ("member", "委员"),
];

impl SearchDoc {
    /// The document's values for a facet.
    pub fn facet_values(&self, facet: &str) -> Vec<String> {
        match facet {
            "kind" => vec![self.kind.clone()],
            "status" => self.status.iter().cloned().collect(),
            "agency" => self.agencies.clone(),
            "session" => self.session.iter().map(i32::to_string).collect(),
            "year" => self.year.iter().map(i32::to_string).collect(),
            "channel" => self.channel.iter().cloned().collect(),
            "topic" => self.topics.clone(),
            "member" => self.members.clone(),
            _ => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filters {
    pub kind: Option<String>,
    pub status: Option<String>,
    pub agency: Option<String>,
    pub session: Option<i32>,
    pub year: Option<i32>,
    pub channel: Option<String>,
    pub topic: Option<String>,
    pub member: Option<String>,
}

impl Filters {
    /// (facet name, value) pairs that are set.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut add = |name: &'static str, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                out.push((name, v));
            }
        };
        add("kind", self.kind.clone());
        add("status", self.status.clone());
        add("agency", self.agency.clone());
        add("session", self.session.map(|s| s.to_string()));
        add("year", self.year.map(|y| y.to_string()));
        add("channel", self.channel.clone());
        add("topic", self.topic.clone());
        add("member", self.member.clone());
        out
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    #[default]
    Relevance,
    Newest,
    Oldest,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    pub text: String,
    pub filters: Filters,
    pub sort: Sort,
    /// 1-based.
    pub page: usize,
    pub per_page: usize,
}

impl Default for SearchQuery {
    fn default() -> Self {
        Self {
            text: String::new(),
            filters: Filters::default(),
            sort: Sort::Relevance,
            page: 1,
            per_page: 20,
        }
    }
}

/// Results never go deeper than this (as Meilisearch's `maxTotalHits`).
pub const MAX_RESULTS: usize = 10_000;
/// Snippet length in characters.
pub const SNIPPET_CHARS: usize = 120;

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub id: String,
    pub kind: String,
    pub url: String,
    pub code: Option<String>,
    /// Safe HTML: escaped text with `<mark>` around matches.
    pub title_html: String,
    pub snippet_html: String,
    pub status: Option<String>,
    pub year: Option<i32>,
    pub agencies: Vec<String>,
    pub date: i64,
    /// When the words were found in an attached file: which one, and on which page.
    pub in_file: Option<FileHit>,
}

/// Where in an item's attachments a search matched.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FileHit {
    pub name: String,
    /// 1-based; formats without pages count as one page.
    pub page: i32,
    /// The file's download path; absent when the original is withheld (it holds personal
    /// information: its text is searchable with the values hidden, the file is not public).
    pub url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// Totals up to this are exact on both backends; above it Meilisearch estimates (shown as 约).
pub const EXACT_COUNT_LIMIT: usize = 1_000;

#[derive(Clone, Debug, Serialize)]
pub struct SearchResults {
    pub total: usize,
    /// `total` is an estimate (only above [`EXACT_COUNT_LIMIT`]).
    pub total_is_estimate: bool,
    pub hits: Vec<Hit>,
    /// Facet name → values with counts, most frequent first.
    pub facets: Vec<(String, Vec<FacetCount>)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Health {
    pub backend: &'static str,
    pub documents: u64,
    pub ok: bool,
    pub detail: Option<String>,
}

#[async_trait::async_trait]
pub trait SearchBackend: Send + Sync {
    fn name(&self) -> &'static str;
    /// Adds or replaces documents (by id).
    async fn upsert(&self, docs: Vec<SearchDoc>) -> anyhow::Result<()>;
    async fn delete(&self, ids: Vec<String>) -> anyhow::Result<()>;
    /// Replaces the whole index with the documents streamed on `docs`; readers never see it half
    /// built, and a stream that closes without [`Rebuild::End`] changes nothing.
    async fn replace_all(&self, docs: RebuildStream) -> anyhow::Result<()>;
    /// The synonym groups queries expand with, effective from the next search (no reindex).
    async fn set_synonyms(&self, synonyms: query::Synonyms) -> anyhow::Result<()>;
    async fn search(&self, query: &SearchQuery) -> anyhow::Result<SearchResults>;
    async fn health(&self) -> Health;
}

pub type Backend = Arc<dyn SearchBackend>;

/// What a rebuild sends its backend: documents in chunks as the database yields them (so reading
/// and indexing overlap), then `End` once every document was sent.
#[derive(Debug)]
pub enum Rebuild {
    Docs(Vec<SearchDoc>),
    End,
}

pub type RebuildStream = tokio::sync::mpsc::Receiver<Rebuild>;

/// Builds the configured backend: Meilisearch when `meili_url` is set, else the embedded index.
pub async fn backend_from(config: &crate::config::Config) -> anyhow::Result<Backend> {
    match &config.meili_url {
        Some(url) => Ok(Arc::new(
            meili::MeiliBackend::connect(url, config.meili_api_key.as_deref(), &config.meili_index)
                .await?,
        )),
        None => {
            let backend = embedded::EmbeddedBackend::open(config.search_dir.as_deref())?;
            Ok(Arc::new(if config.search_cache {
                backend
            } else {
                backend.without_caches()
            }))
        }
    }
}

/// Builds the highlighted hit for a document; used by both backends so results look the same.
pub fn hit_for(doc: &SearchDoc, terms: &[String]) -> Hit {
    Hit {
        id: doc.id.clone(),
        kind: doc.kind.clone(),
        url: doc.url.clone(),
        code: doc.code.clone(),
        title_html: text::highlight(&doc.title, terms),
        snippet_html: text::snippet(&doc.body, terms, SNIPPET_CHARS),
        status: doc.status.clone(),
        year: doc.year,
        agencies: doc.agencies.clone(),
        date: doc.date,
        in_file: None,
    }
}
