//! The content revision: one counter bumped inside every transaction that changes what a public
//! page shows, so that rendered pages can be cached under it (`web::page_cache`).
//!
//! Every write that changes public content bumps it, in its own transaction, next to the write:
//! the secretariat's edits (sessions, agencies, calendar, synonyms), every workflow command,
//! reported actuals, seeding, archive import (and the benchmark's corpus generator). On PostgreSQL the `UPDATE` takes the row's lock until commit, so revisions are
//! handed out in commit order: a reader that sees revision N sees every write numbered up to N.
//!
//! A write confined to one proposal ([`bump_pages`]) also logs the paths of the pages that show
//! it (`content_changes`), so that a cache a few revisions behind can drop just those pages and
//! keep, say, the other 1,499 session pages. A revision without such a row changed anything.
use entity::{content_changes, content_revision};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

const ROW: i32 = 1;

/// How many changes' page lists are kept: a cache further behind starts afresh anyway.
const KEEP_CHANGES: i64 = 1024;

/// Marks public content as changed, possibly on any page; call inside the writing transaction.
pub async fn bump<C: ConnectionTrait>(db: &C) -> Result<(), sea_orm::DbErr> {
    content_revision::Entity::update_many()
        .col_expr(
            content_revision::Column::Revision,
            Expr::col(content_revision::Column::Revision).add(1),
        )
        .filter(content_revision::Column::Id.eq(ROW))
        .exec(db)
        .await?;
    Ok(())
}

/// The current revision (0 before the first write).
pub async fn current<C: ConnectionTrait>(db: &C) -> Result<i64, sea_orm::DbErr> {
    let revision: Option<i64> = content_revision::Entity::find_by_id(ROW)
        .select_only()
        .column(content_revision::Column::Revision)
        .into_tuple()
        .one(db)
        .await?;
    Ok(revision.unwrap_or(0))
}

/// Marks public content as changed on the pages at `pages` (their paths) and on the pages that
/// show anything; call inside the writing transaction.
pub async fn bump_pages<C: ConnectionTrait>(
    db: &C,
    pages: &[String],
) -> Result<(), sea_orm::DbErr> {
    bump(db).await?;
    // Our own update, read back inside the transaction (the row stays locked until commit).
    let revision = current(db).await?;
    content_changes::Entity::insert(content_changes::ActiveModel {
        revision: Set(revision),
        pages: Set(pages.join("\n")),
    })
    .exec(db)
    .await?;
    if revision % 64 == 0 {
        content_changes::Entity::delete_many()
            .filter(content_changes::Column::Revision.lte(revision - KEEP_CHANGES))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Marks the public pages that show `proposal` as changed: its own and its session's (with the
/// pages that show anything). Call inside the writing transaction.
pub async fn bump_proposal_pages<C: ConnectionTrait>(
    db: &C,
    proposal: &entity::proposals::Model,
) -> Result<(), sea_orm::DbErr> {
    let pages = pages_showing(db, proposal).await?;
    bump_pages(db, &pages).await
}

/// The paths of the public pages that show `proposal`: its own and its session's.
async fn pages_showing<C: ConnectionTrait>(
    db: &C,
    proposal: &entity::proposals::Model,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let mut pages = vec![crate::web::paths::proposal(&proposal.code)];
    if let Some(id) = proposal.session_id {
        let number: Option<i32> = entity::sessions::Entity::find_by_id(id)
            .select_only()
            .column(entity::sessions::Column::Number)
            .into_tuple()
            .one(db)
            .await?;
        pages.extend(number.map(crate::web::paths::session));
    }
    Ok(pages)
}

/// The paths of the pages that the changes after `since`, up to `until`, touched; `None` when
/// any of them may have changed anything (or its record is no longer kept).
pub async fn pages_changed<C: ConnectionTrait>(
    db: &C,
    since: i64,
    until: i64,
) -> Result<Option<Vec<String>>, sea_orm::DbErr> {
    if until <= since || until - since > KEEP_CHANGES {
        return Ok(None);
    }
    let rows: Vec<String> = content_changes::Entity::find()
        .select_only()
        .column(content_changes::Column::Pages)
        .filter(content_changes::Column::Revision.gt(since))
        .filter(content_changes::Column::Revision.lte(until))
        .into_tuple()
        .all(db)
        .await?;
    if rows.len() as i64 != until - since {
        return Ok(None);
    }
    Ok(Some(
        rows.iter()
            .flat_map(|pages| pages.lines())
            .map(str::to_owned)
            .collect(),
    ))
}
