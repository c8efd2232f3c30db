//! The Meilisearch backend. Settings are applied idempotently at start-up and awaited; every write
//! waits for its task and surfaces failures (so the outbox retries); filters are built only from
//! known attribute names and quoted values (`text::meili_quote`); a reindex builds a fresh index and
//! swaps it in, so searches never see a half-built index.
use std::collections::HashMap;
use std::time::Duration;

use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{PaginationSetting, Settings, TypoToleranceSettings};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;

use super::query::{self, Query, SharedSynonyms, Synonyms};
use super::text::{self, meili_quote};
use super::{
    hit_for, FacetCount, Health, SearchBackend, SearchDoc, SearchQuery, SearchResults, Sort,
    FACETS, MAX_RESULTS,
};

const TASK_TIMEOUT: Duration = Duration::from_secs(120);

/// What Meilisearch stores: the document (displayed, never searched) plus its text as the tokens
/// the embedded index uses ([`text::bigrams`]), each spelled in lower-case ASCII letters and
/// digits (see [`push_token`]), in `t` (title), `n` (code, people, agencies) and `b` (body).
/// Meilisearch then only splits on spaces and matches our tokens, in a row for a phrase: a word
/// is found exactly where its characters stand together, as in the embedded index, whatever its
/// own Chinese segmentation would cut. (Bigrams sent as CJK text are segmented again and matched
/// apart: 高企 then finds 高 and 企 anywhere in a document.)
#[derive(serde::Serialize)]
struct MeiliDoc<'a> {
    #[serde(flatten)]
    doc: &'a SearchDoc,
    t: String,
    n: String,
    b: String,
}

fn encoded_doc(doc: &SearchDoc) -> MeiliDoc<'_> {
    let mut names = String::new();
    for name in doc.code.iter().chain(doc.names.iter()) {
        names.push_str(&encoded(name));
        names.push(' ');
    }
    MeiliDoc {
        doc,
        t: encoded(&doc.title),
        n: names,
        b: encoded(&doc.body),
    }
}

/// A text's tokens, spelled for Meilisearch and separated by spaces.
pub fn encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 4);
    let mut cursor = text::BigramCursor::new(text);
    let mut token = String::new();
    while cursor.next_into(&mut token).is_some() {
        push_token(&token, &mut out);
        out.push(' ');
    }
    out
}

fn encoded_tokens(tokens: &[String]) -> String {
    let mut out = String::new();
    for token in tokens {
        if !out.is_empty() {
            out.push(' ');
        }
        push_token(token, &mut out);
    }
    out
}

/// Spells a token in characters Meilisearch treats as one plain word, and so that no two kinds of
/// token share a prefix (prefix search then stays within its kind): a CJK token is each
/// character's code point as five hex digits written `a`–`p` (农 U+519C → `afbjm`), so it starts
/// with `a`, `b` or `c`; a word of letters and digits is `q` and the word, any non-ASCII character
/// in it as `x` and its five letters; synonym groups are `z…` ([`pivot`]).
fn push_token(token: &str, out: &mut String) {
    if token.chars().next().is_some_and(text::is_cjk) {
        for c in token.chars() {
            push_code(c, out);
        }
    } else {
        out.push('q');
        for c in token.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else {
                out.push('x');
                push_code(c, out);
            }
        }
    }
}

fn push_code(c: char, out: &mut String) {
    let code = c as u32;
    for shift in (0..5).rev() {
        out.push(char::from(b'a' + ((code >> (shift * 4)) & 0xf) as u8));
    }
}

/// The word standing for a synonym group in queries: Meilisearch's synonym setting expands it to
/// each member's tokens as a phrase. Derived from the members, so every instance names a group
/// alike.
fn pivot(members: &[String]) -> String {
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for member in members {
        for byte in member.bytes().chain(std::iter::once(0x1f)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut out = String::from("z");
    for shift in (0..16).rev() {
        out.push(char::from(b'a' + ((hash >> (shift * 4)) & 0xf) as u8));
    }
    out
}

/// The query as Meilisearch's query string: each word a quoted phrase of its tokens, a synonym
/// group its pivot word, a one-character word its token unquoted and last (Meilisearch matches
/// the last word as a prefix), exclusions with `-`.
pub fn query_string(query: &Query, synonyms: &Synonyms) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    for term in &query.include {
        match term.group {
            Some(group) => parts.push(pivot(&synonyms.groups()[group])),
            None if term.prefix => prefixes.push(encoded_tokens(&term.alternatives[0])),
            None => parts.push(format!("\"{}\"", encoded_tokens(&term.alternatives[0]))),
        }
    }
    for term in &query.exclude {
        for tokens in &term.alternatives {
            parts.push(format!("-\"{}\"", encoded_tokens(tokens)));
        }
    }
    parts.extend(prefixes);
    parts.join(" ")
}

const SEARCHABLE: [&str; 3] = ["t", "n", "b"];

fn settings_missing(err: &meilisearch_sdk::errors::Error) -> bool {
    use meilisearch_sdk::errors::{Error, ErrorCode};
    matches!(
        err,
        Error::Meilisearch(e) if matches!(
            e.error_code,
            ErrorCode::InvalidSearchFacets | ErrorCode::InvalidSearchFilter | ErrorCode::InvalidSearchSort
        )
    )
}

/// Attributes returned with hits (everything but the tokens).
const DISPLAYED: &[&str] = &[
    "id", "kind", "url", "title", "code", "body", "names", "status", "agencies", "session", "year",
    "channel", "topics", "members", "date",
];

pub struct MeiliBackend {
    client: Client,
    index: String,
    synonyms: std::sync::RwLock<SharedSynonyms>,
}

/// The document attribute behind a facet name.
pub fn attribute(facet: &str) -> &'static str {
    match facet {
        "kind" => "kind",
        "status" => "status",
        "agency" => "agencies",
        "session" => "session",
        "year" => "year",
        "channel" => "channel",
        "topic" => "topics",
        _ => "members",
    }
}

/// `status = "accepted" AND agencies = "市科技局"`: attribute names are ours, values always quoted.
pub fn filter_expression(query: &SearchQuery) -> Option<String> {
    let parts: Vec<String> = query
        .filters
        .pairs()
        .iter()
        .map(|(name, value)| format!("{} = {}", attribute(name), meili_quote(value)))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

fn settings(synonyms: &Synonyms) -> Settings {
    let synonym_map: HashMap<String, Vec<String>> = synonyms
        .groups()
        .iter()
        .map(|members| {
            let phrases = members
                .iter()
                .map(|member| encoded_tokens(&query::term_tokens(member)))
                .filter(|phrase| !phrase.is_empty())
                .collect();
            (pivot(members), phrases)
        })
        .collect();
    let filterable: Vec<&str> = FACETS.iter().map(|(name, _)| attribute(name)).collect();
    Settings::new()
        .with_searchable_attributes(SEARCHABLE)
        .with_filterable_attributes(filterable)
        .with_sortable_attributes(["date"])
        .with_displayed_attributes(DISPLAYED)
        // Our tokens are exact: a "typo" would be another character.
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(false),
            ..Default::default()
        })
        .with_synonyms(synonym_map)
        .with_pagination(PaginationSetting {
            max_total_hits: MAX_RESULTS,
        })
}

impl MeiliBackend {
    pub async fn connect(url: &str, api_key: Option<&str>, index: &str) -> anyhow::Result<Self> {
        let client = Client::new(url, api_key)?;
        let backend = Self {
            client,
            index: index.to_owned(),
            synonyms: Default::default(),
        };
        backend.apply_settings(index).await?;
        Ok(backend)
    }

    async fn wait(&self, task: TaskInfo) -> anyhow::Result<()> {
        self.wait_at_most(task, TASK_TIMEOUT).await
    }

    async fn wait_at_most(&self, task: TaskInfo, timeout: Duration) -> anyhow::Result<()> {
        match task
            .wait_for_completion(&self.client, Some(Duration::from_millis(50)), Some(timeout))
            .await?
        {
            Task::Failed { content } => {
                anyhow::bail!("meilisearch task failed: {:?}", content.error)
            }
            _ => Ok(()),
        }
    }

    /// Applies the settings with the current synonyms to `index`.
    async fn apply_settings(&self, index: &str) -> anyhow::Result<()> {
        let synonyms = self.synonyms();
        self.wait(
            self.client
                .index(index)
                .set_settings(&settings(&synonyms))
                .await?,
        )
        .await
    }

    fn synonyms(&self) -> SharedSynonyms {
        self.synonyms
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

#[async_trait::async_trait]
impl SearchBackend for MeiliBackend {
    fn name(&self) -> &'static str {
        "meilisearch"
    }

    async fn upsert(&self, docs: Vec<SearchDoc>) -> anyhow::Result<()> {
        for chunk in docs.chunks(1000) {
            self.wait(
                self.client
                    .index(&self.index)
                    .add_or_replace(
                        &chunk.iter().map(encoded_doc).collect::<Vec<_>>(),
                        Some("id"),
                    )
                    .await?,
            )
            .await?;
        }
        Ok(())
    }

    async fn delete(&self, ids: Vec<String>) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.wait(
            self.client
                .index(&self.index)
                .delete_documents(&ids)
                .await?,
        )
        .await
    }

    async fn set_synonyms(&self, synonyms: Synonyms) -> anyhow::Result<()> {
        if *self.synonyms() == synonyms {
            return Ok(());
        }
        *self
            .synonyms
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = std::sync::Arc::new(synonyms);
        self.apply_settings(&self.index).await
    }

    async fn replace_all(&self, mut docs: super::RebuildStream) -> anyhow::Result<()> {
        let staging = format!("{}_rebuild", self.index);
        let _ = self
            .client
            .index(&staging)
            .delete()
            .await
            .map(|t| self.wait(t));
        self.wait(self.client.create_index(&staging, Some("id")).await?)
            .await?;
        self.apply_settings(&staging).await?;
        // Batches are queued without waiting for each: Meilisearch then indexes consecutive
        // additions together and recomputes its word-prefix data once per group instead of once
        // per batch. The staging index is not live, so nothing reads it half done; every task is
        // checked below, and any failure leaves the live index as it was.
        let mut queued = Vec::new();
        loop {
            match docs.recv().await {
                Some(super::Rebuild::Docs(batch)) => {
                    for chunk in batch.chunks(1000) {
                        queued.push(
                            self.client
                                .index(&staging)
                                .add_or_replace(
                                    &chunk.iter().map(encoded_doc).collect::<Vec<_>>(),
                                    Some("id"),
                                )
                                .await?,
                        );
                    }
                }
                Some(super::Rebuild::End) => break,
                // The rebuild failed on its side: the live index stays as it was.
                None => anyhow::bail!("rebuild stopped before its end; the index is unchanged"),
            }
        }
        // Meilisearch may take a long run of queued additions as one batch and finish them
        // together, minutes after the first was queued: the queue as a whole gets the time of
        // one task per batch, not each task on its own.
        let deadline = std::time::Instant::now() + TASK_TIMEOUT * queued.len().max(1) as u32;
        for task in queued {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            self.wait_at_most(task, left.max(Duration::from_secs(1)))
                .await?;
        }
        // The live index must exist for a swap; create it empty on a first run.
        if self.client.get_index(&self.index).await.is_err() {
            self.wait(self.client.create_index(&self.index, Some("id")).await?)
                .await?;
        }
        let swap = SwapIndexes {
            indexes: (self.index.clone(), staging.clone()),
            rename: None,
        };
        self.wait(self.client.swap_indexes([&swap]).await?).await?;
        self.wait(self.client.index(&staging).delete().await?)
            .await?;
        Ok(())
    }

    async fn search(&self, q: &SearchQuery) -> anyhow::Result<SearchResults> {
        let index = self.client.index(&self.index);
        let synonyms = self.synonyms();
        let parsed = query::parse(&q.text, &synonyms);
        let text = query_string(&parsed, &synonyms);
        let filter = filter_expression(q);
        let facets: Vec<&str> = FACETS.iter().map(|(name, _)| attribute(name)).collect();
        let sort = match q.sort {
            Sort::Relevance => None,
            Sort::Newest => Some(["date:desc"]),
            Sort::Oldest => Some(["date:asc"]),
        };
        let per_page = q.per_page.clamp(1, 100);
        let mut request = index.search();
        request
            .with_query(&text)
            // Offset and limit rather than pages: Meilisearch then estimates large totals
            // instead of counting every match, as the embedded index does above 1,000.
            .with_offset((q.page.max(1) - 1) * per_page)
            .with_limit(per_page)
            .with_facets(Selectors::Some(&facets))
            // Every query word must match, as in the embedded backend.
            .with_matching_strategy(MatchingStrategies::ALL);
        if let Some(filter) = &filter {
            request.with_filter(filter);
        }
        if let Some(sort) = &sort {
            request.with_sort(sort);
        }
        let results = match request.execute::<SearchDoc>().await {
            Ok(results) => results,
            // The index lost its settings (deleted and recreated by a write, or by hand): put
            // them back and ask once more, rather than fail every search until a restart.
            Err(err) if settings_missing(&err) => {
                tracing::warn!(error = %err, "Meilisearch index without our settings; applying them");
                self.apply_settings(&self.index).await?;
                request.execute::<SearchDoc>().await?
            }
            Err(err) => return Err(err.into()),
        };
        let terms = parsed.highlight_terms(&synonyms);
        let hits = results
            .hits
            .iter()
            .map(|h| hit_for(&h.result, &terms))
            .collect();
        let distribution = results.facet_distribution.unwrap_or_default();
        let facets = FACETS
            .iter()
            .map(|(name, _)| {
                let mut values: Vec<FacetCount> = distribution
                    .get(attribute(name))
                    .map(|m| {
                        m.iter()
                            .map(|(v, c)| FacetCount {
                                value: v.clone(),
                                count: *c as u64,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                values.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
                ((*name).to_owned(), values)
            })
            .collect();
        let total = results
            .total_hits
            .or(results.estimated_total_hits)
            .unwrap_or(0);
        Ok(SearchResults {
            total,
            total_is_estimate: total > super::EXACT_COUNT_LIMIT,
            hits,
            facets,
        })
    }

    async fn health(&self) -> Health {
        let stats = self.client.index(&self.index).get_stats().await;
        match stats {
            Ok(stats) => Health {
                backend: "meilisearch",
                documents: stats.number_of_documents as u64,
                ok: true,
                detail: None,
            },
            Err(err) => Health {
                backend: "meilisearch",
                documents: 0,
                ok: false,
                detail: Some(err.to_string()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Filters;

    #[test]
    fn tokens_are_spelled_apart_by_kind() {
        // 农 is U+519C, 业 U+4E1A: five hex digits each, written a–p.
        assert_eq!(encoded("农业"), "afbjmaeobk aeobk ");
        assert_eq!(encoded("AI 2024 Café"), "qai q2024 qcafxaaaoj ");
        let synonyms = Synonyms::new(vec![vec!["高企".into(), "高新技术企业".into()]]);
        let q = query::parse("农业发展 高企 -\"全 固态\" 粮", &synonyms);
        let sent = query_string(&q, &synonyms);
        let pivot = pivot(&synonyms.groups()[0]);
        assert!(pivot.starts_with('z') && pivot.len() == 17);
        assert_eq!(
            sent,
            format!(
                "\"{}\" {pivot} -\"{}\" {}",
                encoded_tokens(&["农业".into(), "业发".into(), "发展".into()]),
                encoded_tokens(&["全".into(), "固态".into()]),
                encoded_tokens(&["粮".into()]),
            )
        );
        let phrases = settings(&synonyms).synonyms.unwrap();
        assert_eq!(phrases[&pivot].len(), 2);
    }

    #[test]
    fn filters_quote_every_value() {
        let query = SearchQuery {
            filters: Filters {
                status: Some("accepted\" OR status = \"draft".into()),
                agency: Some("市科技局".into()),
                session: Some(27),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            filter_expression(&query).unwrap(),
            "status = \"accepted\\\" OR status = \\\"draft\" AND agencies = \"市科技局\" AND session = \"27\""
        );
        assert_eq!(filter_expression(&SearchQuery::default()), None);
    }
}
