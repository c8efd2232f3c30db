//! A backend wrapper that fails on demand, for outage tests: while `down` is set, every write and
//! search fails as a real outage would; the wrapped backend keeps its contents.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tingshang::search::{Backend, Health, SearchBackend, SearchDoc, SearchQuery, SearchResults};

pub struct FlakyBackend {
    inner: Backend,
    down: Arc<AtomicBool>,
}

impl FlakyBackend {
    /// The wrapper and the switch that takes it down (`true`) or brings it back (`false`).
    pub fn wrap(inner: Backend) -> (Self, Arc<AtomicBool>) {
        let down = Arc::new(AtomicBool::new(false));
        (
            Self {
                inner,
                down: down.clone(),
            },
            down,
        )
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            anyhow::bail!("search backend unavailable (simulated outage)");
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SearchBackend for FlakyBackend {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn upsert(&self, docs: Vec<SearchDoc>) -> anyhow::Result<()> {
        self.check()?;
        self.inner.upsert(docs).await
    }
    async fn delete(&self, ids: Vec<String>) -> anyhow::Result<()> {
        self.check()?;
        self.inner.delete(ids).await
    }
    async fn replace_all(&self, docs: tingshang::search::RebuildStream) -> anyhow::Result<()> {
        self.check()?;
        self.inner.replace_all(docs).await
    }
    async fn set_synonyms(
        &self,
        synonyms: tingshang::search::query::Synonyms,
    ) -> anyhow::Result<()> {
        self.check()?;
        self.inner.set_synonyms(synonyms).await
    }
    async fn search(&self, query: &SearchQuery) -> anyhow::Result<SearchResults> {
        self.check()?;
        self.inner.search(query).await
    }
    async fn health(&self) -> Health {
        let mut health = self.inner.health().await;
        if self.down.load(Ordering::SeqCst) {
            health.ok = false;
            health.detail = Some("simulated outage".into());
        }
        health
    }
}
