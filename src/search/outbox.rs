//! The transactional outbox, drained into the search backend. Writers add an outbox row (ids only)
//! in the same transaction as their change; [`Indexer`] claims ready rows in batches, re-reads the
//! items from the database, upserts or deletes them, and removes the rows. When the backend fails,
//! the rows stay with a growing, capped delay, so nothing is lost and writers never wait on search.
//! Several instances can drain one outbox on PostgreSQL: each item is held by one drain at a time
//! (see [`Indexer::claim`]); the embedded index is for a single instance (see README).
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SubsecRound, Utc};
use entity::search_outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use tokio::sync::{watch, Notify};

use super::documents::{
    self, build_documents, build_proposals, build_sessions, doc_id, DOCUMENT, PROPOSAL, SESSION,
};
use super::{Backend, Rebuild};

/// Rows per drain: after an outage a backlog goes in a few large batches (one backend task each)
/// rather than many small ones.
const BATCH: u64 = 1000;
const POLL: Duration = Duration::from_millis(500);
/// How long claimed rows stay with the drain that claimed them, by default. A working drain
/// renews its lease every third of it (a batch may wait minutes on a slow backend), so this only
/// bounds how long the rows of a drain that died (a killed instance) wait before another drain,
/// or the restarted instance, takes them up.
pub const LEASE: Duration = Duration::from_secs(30);
/// PostgreSQL advisory lock keys (any constants): claiming outbox rows, and rebuilding the index.
const CLAIM_LOCK: i64 = 7_415_092_301;
const REBUILD_LOCK: i64 = 7_415_092_302;

/// Adds an outbox row for an item whose searchable content changed; call inside the write's
/// transaction. The same change goes into the public change log (`crate::changes`): what is
/// searchable is what is public, so one call covers both and neither can be forgotten.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    id: i32,
) -> Result<(), sea_orm::DbErr> {
    crate::changes::record(db, kind, id).await?;
    let now = Utc::now().fixed_offset();
    search_outbox::Entity::insert(search_outbox::ActiveModel {
        entity_kind: Set(kind.to_owned()),
        entity_id: Set(id),
        operation: Set("upsert".into()),
        attempts: Set(0),
        available_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Outbox rows whose retry delay, if any, has passed and that no drain holds.
fn ready_rows() -> sea_orm::Select<search_outbox::Entity> {
    let now = Utc::now().fixed_offset();
    search_outbox::Entity::find()
        .filter(search_outbox::Column::AvailableAt.lte(now))
        .filter(
            sea_orm::Condition::any()
                .add(search_outbox::Column::LeasedUntil.is_null())
                .add(search_outbox::Column::LeasedUntil.lte(now)),
        )
}

/// Seconds to wait before retry number `attempts` (1, 2, 4 … capped).
pub fn backoff_seconds(attempts: i32, cap: u64) -> u64 {
    let exponent = (attempts.max(1) - 1).min(30) as u32;
    2u64.saturating_pow(exponent).clamp(1, cap.max(1))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub indexed: usize,
    pub failed: usize,
}

/// How often each instance reloads the synonym groups from the database.
pub const SYNONYMS_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Indexer {
    db: DatabaseConnection,
    backend: Backend,
    wake: Notify,
    retry_cap_secs: u64,
    lease: Duration,
    /// Draining and rebuilding take turns: a rebuild replaces the whole index with a snapshot, so
    /// an update drained meanwhile would be lost in the swap. Rows queued during a rebuild stay in
    /// the outbox and are applied after it. (In-process: with several instances on one database,
    /// run `reindex` while the others are stopped, or rely on their outbox retries.)
    turn: tokio::sync::Mutex<()>,
    /// Set when a drain failed while the backend did not answer its health check: only its
    /// return releases the waiting rows early. A backend that answers but refuses a write keeps
    /// its rows on their growing delays.
    backend_down: std::sync::atomic::AtomicBool,
    synonyms_error: std::sync::Mutex<Option<String>>,
    rebuilding: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Lag {
    pub pending: u64,
    pub oldest_seconds: i64,
    /// Rows the backend refused at least once (a rejected document, a failed task): they stay
    /// queued and are retried with growing delays until they succeed.
    pub failing: u64,
    /// The newest of their errors, as the backend gave it.
    pub last_error: Option<String>,
    /// Why the last attempt to give the backend its synonyms failed (retried every refresh).
    pub synonyms_error: Option<String>,
    /// This instance is rebuilding the index (changes wait until it is swapped in).
    pub rebuilding: bool,
}

impl Indexer {
    pub fn new(db: DatabaseConnection, backend: Backend, retry_cap_secs: u64) -> Arc<Self> {
        Self::with_lease(db, backend, retry_cap_secs, LEASE)
    }

    /// With a lease of its own length (tests that kill an instance mid-drain shorten it).
    pub fn with_lease(
        db: DatabaseConnection,
        backend: Backend,
        retry_cap_secs: u64,
        lease: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            backend,
            wake: Notify::new(),
            retry_cap_secs,
            lease,
            turn: tokio::sync::Mutex::new(()),
            backend_down: std::sync::atomic::AtomicBool::new(false),
            synonyms_error: Default::default(),
            rebuilding: Default::default(),
        })
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Asks the worker to look at the outbox now rather than at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Processes one batch of ready rows in three steps, none of which holds a write transaction
    /// while the index works: claim the rows (a short write transaction that leases them: see
    /// [`Self::claim`]), build their documents from a read snapshot
    /// and send them to the backend, then delete the rows (or record the failure and back off)
    /// in another short write. A crash between the index's commit and the delete leaves the rows
    /// to be claimed again once the lease ends: indexing them twice is harmless.
    pub async fn drain_once(&self) -> anyhow::Result<Drained> {
        let _turn = self.turn.lock().await;
        // Look before taking the write lock: an idle poll every half second would otherwise
        // hold SQLite's write lock and make a concurrent writer wait out a busy-handler sleep.
        let ready = ready_rows()
            .select_only()
            .column(search_outbox::Column::Id)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        if ready.is_none() {
            self.release_if_backend_is_back().await?;
            return Ok(Drained::default());
        }
        let (rows, mut lease_ends) = self.claim().await?;
        if rows.is_empty() {
            return Ok(Drained::default());
        }
        let ids_of = |kind: &str| -> Vec<i32> {
            rows.iter()
                .filter(|r| r.entity_kind == kind)
                .map(|r| r.entity_id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let (proposals, sessions, docs) = (ids_of(PROPOSAL), ids_of(SESSION), ids_of(DOCUMENT));
        let work = async {
            // One read snapshot, so a document never mixes two states of its item; under WAL it
            // takes no lock a writer waits for.
            let snapshot = self.db.begin().await?;
            let mut built = build_proposals(&snapshot, &proposals).await?;
            built.extend(build_sessions(&snapshot, &sessions).await?);
            built.extend(build_documents(&snapshot, &docs).await?);
            snapshot.commit().await?;
            let present: BTreeSet<&str> = built.iter().map(|d| d.id.as_str()).collect();
            let gone: Vec<String> = proposals
                .iter()
                .map(|id| doc_id(PROPOSAL, *id))
                .chain(sessions.iter().map(|id| doc_id(SESSION, *id)))
                .chain(docs.iter().map(|id| doc_id(DOCUMENT, *id)))
                .filter(|id| !present.contains(id.as_str()))
                .collect();
            let indexed = built.len() + gone.len();
            if !built.is_empty() {
                self.backend.upsert(built).await?;
            }
            if !gone.is_empty() {
                self.backend.delete(gone).await?;
            }
            anyhow::Ok(indexed)
        };
        tokio::pin!(work);
        let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                _ = tokio::time::sleep(self.lease / 3) => {
                    match self.renew(&row_ids, lease_ends).await {
                        Ok(renewed) => lease_ends = renewed,
                        // Keep working: at worst another drain indexes the rows again, which is harmless.
                        Err(err) => tracing::warn!(error = %err, "could not renew the outbox lease"),
                    }
                }
            }
        };
        let txn = crate::db::begin_write(&self.db).await?;
        let result = match outcome {
            Ok(indexed) => {
                search_outbox::Entity::delete_many()
                    .filter(search_outbox::Column::Id.is_in(rows.iter().map(|r| r.id)))
                    .exec(&txn)
                    .await?;
                Drained { indexed, failed: 0 }
            }
            Err(err) => {
                let message: String = format!("{err:#}").chars().take(500).collect();
                for row in &rows {
                    let attempts = row.attempts + 1;
                    let delay = chrono::Duration::seconds(backoff_seconds(
                        attempts,
                        self.retry_cap_secs,
                    ) as i64);
                    search_outbox::Entity::update_many()
                        .col_expr(search_outbox::Column::Attempts, Expr::value(attempts))
                        .col_expr(
                            search_outbox::Column::LeasedUntil,
                            Expr::value(Option::<chrono::DateTime<chrono::FixedOffset>>::None),
                        )
                        .col_expr(
                            search_outbox::Column::AvailableAt,
                            Expr::value((Utc::now() + delay).fixed_offset()),
                        )
                        .col_expr(
                            search_outbox::Column::LastError,
                            Expr::value(message.clone()),
                        )
                        .filter(search_outbox::Column::Id.eq(row.id))
                        .exec(&txn)
                        .await?;
                }
                let down = !self.backend.health().await.ok;
                self.backend_down
                    .store(down, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(rows = rows.len(), backend_down = down, error = %message, "search backend write failed; will retry");
                Drained {
                    indexed: 0,
                    failed: rows.len(),
                }
            }
        };
        txn.commit().await?;
        Ok(result)
    }

    /// Rows that failed wait out a growing delay (up to the retry cap, 30 s by default). When the
    /// backend was down and answers again they need not: this makes them ready at once, so a
    /// backlog is applied within seconds of the backend's return instead of after the longest
    /// delay. Asks the backend only while it is known to be down, at most once per poll.
    async fn release_if_backend_is_back(&self) -> anyhow::Result<()> {
        use std::sync::atomic::Ordering;
        if !self.backend_down.load(Ordering::Relaxed) {
            return Ok(());
        }
        let now = Utc::now().fixed_offset();
        let waiting = search_outbox::Entity::find()
            .filter(search_outbox::Column::Attempts.gt(0))
            .filter(search_outbox::Column::AvailableAt.gt(now))
            .select_only()
            .column(search_outbox::Column::Id)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        if waiting.is_none() {
            self.backend_down.store(false, Ordering::Relaxed);
            return Ok(());
        }
        if !self.backend.health().await.ok {
            return Ok(());
        }
        self.backend_down.store(false, Ordering::Relaxed);
        let txn = crate::db::begin_write(&self.db).await?;
        let released = search_outbox::Entity::update_many()
            .col_expr(search_outbox::Column::AvailableAt, Expr::value(now))
            .filter(search_outbox::Column::Attempts.gt(0))
            .filter(search_outbox::Column::AvailableAt.gt(now))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        tracing::info!(
            rows = released,
            "search backend answers again; retrying its backlog now"
        );
        self.wake();
        Ok(())
    }

    /// Leases up to [`BATCH`] ready rows to this drain by setting their `leased_until`, leaving
    /// out every item another drain holds a row of: that drain may have read the item before its
    /// latest change, and only after it is done may a newer state be read and sent, so the index
    /// never ends with an older state. Claims are serialized (SQLite's write lock; on PostgreSQL
    /// a transaction-scoped advisory lock), so two drains never both see an item as free. Rows
    /// of one item in one batch are indexed once.
    async fn claim(&self) -> anyhow::Result<(Vec<search_outbox::Model>, DateTime<FixedOffset>)> {
        let txn = crate::db::begin_write(&self.db).await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CLAIM_LOCK})"))
                .await?;
            let free = txn
                .query_one_raw(sea_orm::Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT pg_try_advisory_xact_lock_shared({REBUILD_LOCK}) AS free"),
                ))
                .await?
                .map(|row| row.try_get::<bool>("", "free"))
                .transpose()?
                .unwrap_or(false);
            if !free {
                // Another instance is rebuilding the index: its swap would drop what we send.
                txn.commit().await?;
                return Ok((Vec::new(), Utc::now().fixed_offset()));
            }
        }
        let now = Utc::now().fixed_offset();
        let held: BTreeSet<(String, i32)> = search_outbox::Entity::find()
            .filter(search_outbox::Column::LeasedUntil.gt(now))
            .select_only()
            .column(search_outbox::Column::EntityKind)
            .column(search_outbox::Column::EntityId)
            .into_tuple::<(String, i32)>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let rows: Vec<search_outbox::Model> = ready_rows()
            .order_by_asc(search_outbox::Column::Id)
            .limit(BATCH)
            .all(&txn)
            .await?
            .into_iter()
            .filter(|r| !held.contains(&(r.entity_kind.clone(), r.entity_id)))
            .collect();
        let lease_ends = self.lease_from_now()?;
        if !rows.is_empty() {
            search_outbox::Entity::update_many()
                .col_expr(search_outbox::Column::LeasedUntil, Expr::value(lease_ends))
                .filter(search_outbox::Column::Id.is_in(rows.iter().map(|r| r.id)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok((rows, lease_ends))
    }

    /// The end of a lease taken now, in whole microseconds: the value a renewal looks for must
    /// survive the round trip through PostgreSQL's `timestamptz` unchanged.
    fn lease_from_now(&self) -> anyhow::Result<DateTime<FixedOffset>> {
        Ok((Utc::now() + chrono::Duration::from_std(self.lease)?)
            .trunc_subsecs(6)
            .fixed_offset())
    }

    /// Extends this drain's lease on its rows. A row whose `leased_until` is no longer the value
    /// this drain set has been claimed by another drain after the lease ran out: it stays theirs.
    async fn renew(
        &self,
        row_ids: &[i64],
        held_until: DateTime<FixedOffset>,
    ) -> anyhow::Result<DateTime<FixedOffset>> {
        let lease_ends = self.lease_from_now()?;
        let txn = crate::db::begin_write(&self.db).await?;
        search_outbox::Entity::update_many()
            .col_expr(search_outbox::Column::LeasedUntil, Expr::value(lease_ends))
            .filter(search_outbox::Column::Id.is_in(row_ids.iter().copied()))
            .filter(search_outbox::Column::LeasedUntil.eq(held_until))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(lease_ends)
    }

    /// Drains until no row is ready (rows waiting out a backoff are left for later).
    pub async fn drain(&self) -> anyhow::Result<Drained> {
        let mut total = Drained::default();
        loop {
            let batch = self.drain_once().await?;
            total.indexed += batch.indexed;
            total.failed += batch.failed;
            if batch.indexed == 0 {
                return Ok(total);
            }
        }
    }

    /// Gives the backend the synonym groups the database holds now (agency names and the
    /// secretariat's list). Every instance does so on start and then every
    /// [`SYNONYMS_REFRESH`], so a change made on one instance reaches the others' queries.
    pub async fn refresh_synonyms(&self) -> anyhow::Result<()> {
        let groups = documents::synonyms(&self.db).await?;
        let applied = self
            .backend
            .set_synonyms(super::query::Synonyms::new(groups))
            .await;
        *self
            .synonyms_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            applied.as_ref().err().map(|e| format!("{e:#}"));
        applied
    }

    /// Runs until `shutdown` turns true, then drains what is ready one last time.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut synonyms_due = std::time::Instant::now();
        loop {
            if synonyms_due <= std::time::Instant::now() {
                if let Err(err) = self.refresh_synonyms().await {
                    tracing::warn!(error = %format!("{err:#}"), "loading synonyms failed");
                }
                synonyms_due = std::time::Instant::now() + SYNONYMS_REFRESH;
            }
            if let Err(err) = self.drain().await {
                tracing::warn!(error = %format!("{err:#}"), "outbox drain failed");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => break,
            }
        }
        match self.drain().await {
            Ok(d) => tracing::info!(indexed = d.indexed, "search outbox flushed before shutdown"),
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "final outbox flush failed; rows stay queued")
            }
        }
    }

    /// Rebuilds the whole index from the database, reporting (done, total) as it goes.
    pub async fn reindex(&self, progress: &(dyn Fn(usize, usize) + Sync)) -> anyhow::Result<usize> {
        let _turn = self.turn.lock().await;
        // Other instances' drains pause until the rebuild is swapped in (see `claim`): a change
        // they applied to the live index meanwhile would vanish in the swap if the rebuild's
        // snapshot predates it. Rows queued meanwhile wait and are applied after.
        let _flag = RebuildFlag::raise(&self.rebuilding);
        let rebuilding = self.db.begin().await?;
        if rebuilding.get_database_backend() == DbBackend::Postgres {
            rebuilding
                .execute_unprepared(&format!("SELECT pg_advisory_xact_lock({REBUILD_LOCK})"))
                .await?;
        }

        // Rows queued before this point are covered by the rebuild.
        let last_queued = search_outbox::Entity::find()
            .order_by_desc(search_outbox::Column::Id)
            .one(&self.db)
            .await?
            .map(|r| r.id);
        let (proposals, sessions, docs) = documents::indexable_ids(&self.db).await?;
        let total = proposals.len() + sessions.len() + docs.len();
        self.refresh_synonyms().await?;
        // The backend indexes one chunk while the next is read: two in flight at most.
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let read = async move {
            let mut sent = 0;
            for chunk in proposals.chunks(500) {
                let built = build_proposals(&self.db, chunk).await?;
                sent += built.len();
                progress(sent, total);
                if tx.send(Rebuild::Docs(built)).await.is_err() {
                    return Ok(sent); // the backend failed; its error is reported below
                }
            }
            let mut rest = build_sessions(&self.db, &sessions).await?;
            rest.extend(build_documents(&self.db, &docs).await?);
            sent += rest.len();
            progress(sent, total);
            if tx.send(Rebuild::Docs(rest)).await.is_ok() {
                let _ = tx.send(Rebuild::End).await;
            }
            anyhow::Ok(sent)
        };
        // A failed read drops the sender without `End`, and the backend keeps the old index.
        let (count, written) = tokio::join!(read, self.backend.replace_all(rx));
        let count = count?;
        written?;
        if let Some(last) = last_queued {
            search_outbox::Entity::delete_many()
                .filter(search_outbox::Column::Id.lte(last))
                .exec(&self.db)
                .await?;
        }
        rebuilding.commit().await?;
        Ok(count)
    }

    pub async fn lag(&self) -> anyhow::Result<Lag> {
        let pending = search_outbox::Entity::find().count(&self.db).await?;
        let oldest = search_outbox::Entity::find()
            .order_by_asc(search_outbox::Column::Id)
            .one(&self.db)
            .await?;
        let oldest_seconds = oldest.map_or(0, |r| {
            (Utc::now() - r.created_at.with_timezone(&Utc))
                .num_seconds()
                .max(0)
        });
        let failing = search_outbox::Entity::find()
            .filter(search_outbox::Column::Attempts.gt(0))
            .count(&self.db)
            .await?;
        let last_error = search_outbox::Entity::find()
            .filter(search_outbox::Column::Attempts.gt(0))
            .order_by_desc(search_outbox::Column::Id)
            .one(&self.db)
            .await?
            .and_then(|r| r.last_error);
        let synonyms_error = self
            .synonyms_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        Ok(Lag {
            pending,
            oldest_seconds,
            failing,
            last_error,
            synonyms_error,
            rebuilding: self.rebuilding.load(std::sync::atomic::Ordering::Relaxed),
        })
    }
}

/// Marks a rebuild in progress for as long as it lives, however the rebuild ends.
struct RebuildFlag<'a>(&'a std::sync::atomic::AtomicBool);

impl<'a> RebuildFlag<'a> {
    fn raise(flag: &'a std::sync::atomic::AtomicBool) -> Self {
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
        Self(flag)
    }
}

impl Drop for RebuildFlag<'_> {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Queues the search documents that carry the text of `owner`'s files; call inside the
/// transaction that changed them.
pub async fn enqueue_files_owner<C: ConnectionTrait>(
    txn: &C,
    owner_kind: &str,
    owner_id: i32,
) -> Result<(), sea_orm::DbErr> {
    use super::documents::{DOCUMENT, PROPOSAL, SESSION};
    use crate::files::OwnerKind;
    use entity::{commitment_reports, commitments, response_proposals};
    match OwnerKind::parse(owner_kind) {
        Some(OwnerKind::Proposal) => {
            enqueue(txn, PROPOSAL, owner_id).await?;
        }
        Some(OwnerKind::Response) => {
            let answered = response_proposals::Entity::find()
                .filter(response_proposals::Column::ResponseId.eq(owner_id))
                .all(txn)
                .await?;
            for link in answered {
                enqueue(txn, PROPOSAL, link.proposal_id).await?;
            }
        }
        Some(OwnerKind::Session) => {
            enqueue(txn, SESSION, owner_id).await?;
        }
        Some(OwnerKind::Document) => {
            enqueue(txn, DOCUMENT, owner_id).await?;
        }
        Some(OwnerKind::Report) => {
            let proposal = match commitment_reports::Entity::find_by_id(owner_id)
                .one(txn)
                .await?
            {
                Some(report) => commitments::Entity::find_by_id(report.commitment_id)
                    .one(txn)
                    .await?
                    .and_then(|c| c.proposal_id),
                None => None,
            };
            if let Some(id) = proposal {
                enqueue(txn, PROPOSAL, id).await?;
            }
        }
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        let secs: Vec<u64> = (1..=8).map(|a| super::backoff_seconds(a, 30)).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(super::backoff_seconds(50, 1), 1);
    }
}
