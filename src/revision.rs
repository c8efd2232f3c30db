//! The content revision: one counter bumped inside every transaction that changes what a public
//! page shows, so that rendered pages can be cached under it (`web::page_cache`).
//!
//! `audit::record` bumps the counter, so every audited write does; the writes that change public
//! content without an audit entry bump it themselves: every workflow command (members' and
//! agencies' steps are recorded in the timeline, not the audit log), seeding, archive import and the
//! benchmark corpus. On PostgreSQL the `UPDATE` takes the row's lock until commit, so revisions are
//! handed out in commit order: a reader that sees revision N sees every write numbered up to N.
use entity::content_revision;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

const ROW: i32 = 1;

/// Marks public content as changed; call inside the writing transaction.
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
