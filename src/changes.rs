//! The public change log behind `/api/v1/changes`: which items' public view may have changed, in
//! commit order, so that a mirror follows the changes instead of downloading the archive again.
//!
//! Rows are written by [`record`] inside the changing transaction, next to the search outbox row
//! (`search::outbox::enqueue`): the outbox is drained and emptied, this log is kept. An entry says
//! only "look again": the reader resolves it against the current public state, so an item made
//! non-public (unpublished, merged away, withdrawn) reads as deleted.
//!
//! Commit order: on SQLite there is one writer at a time, so sequence numbers become visible in
//! order. On PostgreSQL a transaction can take number 10, another 11 and commit first; a reader
//! that returned 11 and moved its cursor past 10 would lose it. So [`after`] first takes a SHARE
//! lock on the table, which waits for every transaction still holding an insert into it (ROW
//! EXCLUSIVE) to finish and keeps new ones out while it reads: what it returns has no gaps.
use chrono::{DateTime, FixedOffset, Utc};
use entity::public_changes;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

/// Notes that item (`kind`, `id`) may have changed publicly; call inside the write's transaction.
pub async fn record<C: ConnectionTrait>(db: &C, kind: &str, id: i32) -> Result<(), sea_orm::DbErr> {
    public_changes::Entity::insert(public_changes::ActiveModel {
        kind: Set(kind.to_owned()),
        entity_id: Set(id),
        changed_at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// One item that changed, at its latest change within the page.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub seq: i64,
    pub kind: String,
    pub entity_id: i32,
    pub changed_at: DateTime<FixedOffset>,
    /// No change to it was logged at or before the reader's cursor.
    pub first_seen: bool,
}

/// A page of the log after a cursor.
#[derive(Debug, Default)]
pub struct Page {
    /// Each item once, in the order of its latest change.
    pub items: Vec<Changed>,
    /// Where the next read starts: the last row read (or the cursor, when nothing was new).
    pub cursor: i64,
    /// More rows follow the cursor.
    pub more: bool,
}

/// Up to `limit` log rows after `since`, each item once.
pub async fn after(
    db: &DatabaseConnection,
    since: i64,
    limit: u64,
) -> Result<Page, sea_orm::DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE public_changes IN SHARE MODE")
            .await?;
    }
    let rows = public_changes::Entity::find()
        .filter(public_changes::Column::Seq.gt(since))
        .order_by_asc(public_changes::Column::Seq)
        .limit(limit + 1)
        .all(&txn)
        .await?;
    let more = rows.len() as u64 > limit;
    let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
    let cursor = rows.last().map_or(since, |r| r.seq);
    // Items changed at or before the cursor already: the reader has seen them.
    let ids: Vec<i32> = rows.iter().map(|r| r.entity_id).collect();
    let seen: std::collections::HashSet<(String, i32)> = public_changes::Entity::find()
        .select_only()
        .column(public_changes::Column::Kind)
        .column(public_changes::Column::EntityId)
        .filter(public_changes::Column::Seq.lte(since))
        .filter(public_changes::Column::EntityId.is_in(ids))
        .distinct()
        .into_tuple()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    txn.commit().await?;
    let mut items: Vec<Changed> = Vec::new();
    for row in rows.into_iter().rev() {
        if items
            .iter()
            .any(|c| c.kind == row.kind && c.entity_id == row.entity_id)
        {
            continue;
        }
        let first_seen = !seen.contains(&(row.kind.clone(), row.entity_id));
        items.push(Changed {
            seq: row.seq,
            kind: row.kind,
            entity_id: row.entity_id,
            changed_at: row.changed_at,
            first_seen,
        });
    }
    items.reverse();
    Ok(Page {
        items,
        cursor,
        more,
    })
}

/// The latest sequence number (0 when nothing was logged): a new mirror's starting cursor,
/// taken before it downloads the archive.
pub async fn latest<C: ConnectionTrait>(db: &C) -> Result<i64, sea_orm::DbErr> {
    let seq: Option<Option<i64>> = public_changes::Entity::find()
        .select_only()
        .column_as(public_changes::Column::Seq.max(), "seq")
        .into_tuple()
        .one(db)
        .await?;
    Ok(seq.flatten().unwrap_or(0))
}

/// The items of `kind` with a public change at or after `since`, oldest latest change first:
/// what a list's `updated_since` keeps, in that order.
pub async fn changed_since<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    since: DateTime<FixedOffset>,
) -> Result<Vec<i32>, sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Expr, Order};
    // Stored in UTC: compare in UTC, so that `+08:00` and `Z` spellings of a moment agree.
    let since = since.with_timezone(&Utc).fixed_offset();
    let rows: Vec<(i32, DateTime<FixedOffset>)> = public_changes::Entity::find()
        .select_only()
        .column(public_changes::Column::EntityId)
        .column_as(public_changes::Column::ChangedAt.max(), "last")
        .filter(public_changes::Column::Kind.eq(kind))
        .filter(public_changes::Column::ChangedAt.gte(since))
        .group_by(public_changes::Column::EntityId)
        .order_by(Expr::col(Alias::new("last")), Order::Asc)
        .order_by_asc(public_changes::Column::EntityId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, _)| id).collect())
}

/// [`latest`] inside a writing transaction, with every change committed before it counted: on
/// PostgreSQL the SHARE lock of [`after`] waits for the transactions still writing the log.
pub async fn latest_committed<C: ConnectionTrait>(txn: &C) -> Result<i64, sea_orm::DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE public_changes IN SHARE MODE")
            .await?;
    }
    latest(txn).await
}
