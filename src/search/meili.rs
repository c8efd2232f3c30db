//! The Meilisearch backend. Settings are applied idempotently at start-up and awaited; every write
//! waits for its task and surfaces failures (so the outbox retries); filters are built only from
//! known attribute names and quoted values (`text::meili_quote`); a reindex builds a fresh index and
//! swaps it in, so searches never see a half-built index.
use std::collections::HashMap;
use std::time::Duration;

use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::search::{MatchingStrategies, Selectors};
use meilisearch_sdk::settings::{LocalizedAttributes, PaginationSetting, Settings};
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;

use super::text::{self, meili_quote};
use super::{
    hit_for, FacetCount, Health, SearchBackend, SearchDoc, SearchQuery, SearchResults, Sort,
    FACETS, MAX_RESULTS,
};

const TASK_TIMEOUT: Duration = Duration::from_secs(120);

/// What Meilisearch stores: the document plus `grams`, its distinct CJK bigrams as words, so that
/// sub-words match where segmentation keeps a name whole (农业 inside 中国农业发展银行).
#[derive(serde::Serialize)]
struct MeiliDoc<'a> {
    #[serde(flatten)]
    doc: &'a SearchDoc,
    grams: String,
}

fn with_grams(doc: &SearchDoc) -> MeiliDoc<'_> {
    let mut seen = std::collections::HashSet::new();
    let mut grams = String::new();
    for text in std::iter::once(&doc.title)
        .chain(doc.names.iter())
        .chain(std::iter::once(&doc.body))
    {
        for piece in text::bigrams(text) {
            if piece.text.chars().any(text::is_cjk) && seen.insert(piece.text.clone()) {
                grams.push_str(&piece.text);
                grams.push(' ');
            }
        }
    }
    MeiliDoc { doc, grams }
}

/// Attributes returned with hits (everything but `grams`).
const DISPLAYED: &[&str] = &[
    "id", "kind", "url", "title", "code", "body", "names", "status", "agencies", "session", "year",
    "channel", "topics", "members", "date",
];

pub struct MeiliBackend {
    client: Client,
    index: String,
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

fn settings(synonyms: &[Vec<String>]) -> Settings {
    let mut synonym_map: HashMap<String, Vec<String>> = HashMap::new();
    for group in synonyms {
        for word in group {
            let others: Vec<String> = group.iter().filter(|w| *w != word).cloned().collect();
            synonym_map.entry(word.clone()).or_default().extend(others);
        }
    }
    let filterable: Vec<&str> = FACETS.iter().map(|(name, _)| attribute(name)).collect();
    Settings::new()
        .with_searchable_attributes(["title", "code", "names", "body", "grams"])
        .with_filterable_attributes(filterable)
        .with_sortable_attributes(["date"])
        .with_displayed_attributes(DISPLAYED)
        .with_localized_attributes([LocalizedAttributes {
            locales: vec!["cmn".into()],
            attribute_patterns: vec![
                "title".into(),
                "names".into(),
                "body".into(),
                "grams".into(),
            ],
        }])
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
        };
        backend
            .wait(
                backend
                    .client
                    .index(index)
                    .set_settings(&settings(&[]))
                    .await?,
            )
            .await?;
        Ok(backend)
    }

    async fn wait(&self, task: TaskInfo) -> anyhow::Result<()> {
        match task
            .wait_for_completion(
                &self.client,
                Some(Duration::from_millis(50)),
                Some(TASK_TIMEOUT),
            )
            .await?
        {
            Task::Failed { content } => {
                anyhow::bail!("meilisearch task failed: {:?}", content.error)
            }
            _ => Ok(()),
        }
    }

    /// Applies settings with synonyms (kept so the next reindex keeps them too).
    pub async fn apply_settings(
        &self,
        index: &str,
        synonyms: &[Vec<String>],
    ) -> anyhow::Result<()> {
        self.wait(
            self.client
                .index(index)
                .set_settings(&settings(synonyms))
                .await?,
        )
        .await
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
                        &chunk.iter().map(with_grams).collect::<Vec<_>>(),
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

    async fn replace_all(
        &self,
        mut docs: super::RebuildStream,
        synonyms: Vec<Vec<String>>,
    ) -> anyhow::Result<()> {
        let staging = format!("{}_rebuild", self.index);
        let _ = self
            .client
            .index(&staging)
            .delete()
            .await
            .map(|t| self.wait(t));
        self.wait(self.client.create_index(&staging, Some("id")).await?)
            .await?;
        self.apply_settings(&staging, &synonyms).await?;
        loop {
            match docs.recv().await {
                Some(super::Rebuild::Docs(batch)) => {
                    for chunk in batch.chunks(1000) {
                        self.wait(
                            self.client
                                .index(&staging)
                                .add_or_replace(
                                    &chunk.iter().map(with_grams).collect::<Vec<_>>(),
                                    Some("id"),
                                )
                                .await?,
                        )
                        .await?;
                    }
                }
                Some(super::Rebuild::End) => break,
                // The rebuild failed on its side: the live index stays as it was.
                None => anyhow::bail!("rebuild stopped before its end; the index is unchanged"),
            }
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
        let text = text::clean_query(&q.text);
        let filter = filter_expression(q);
        let facets: Vec<&str> = FACETS.iter().map(|(name, _)| attribute(name)).collect();
        let sort = match q.sort {
            Sort::Relevance => None,
            Sort::Newest => Some(["date:desc"]),
            Sort::Oldest => Some(["date:asc"]),
        };
        let mut request = index.search();
        request
            .with_query(&text)
            .with_page(q.page.max(1))
            .with_hits_per_page(q.per_page.clamp(1, 100))
            .with_facets(Selectors::Some(&facets))
            // Every query word must match, as in the embedded backend.
            .with_matching_strategy(MatchingStrategies::ALL);
        if let Some(filter) = &filter {
            request.with_filter(filter);
        }
        if let Some(sort) = &sort {
            request.with_sort(sort);
        }
        let results = request.execute::<SearchDoc>().await?;
        let terms = text::highlight_terms(&text);
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
        Ok(SearchResults {
            total: results
                .total_hits
                .or(results.estimated_total_hits)
                .unwrap_or(0),
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
