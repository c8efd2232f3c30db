//! What the public may see: one rule per object, applied by every public reader — the pages, the
//! JSON API, feeds and exports, search documents and statistics. A reader filters with these
//! conditions rather than with columns of its own, so a new rule (or a new reader) cannot miss a
//! path. Who among signed-in users sees more is `accounts::policy`'s business.
use entity::{assignments, documents, proposals, sessions};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::workflow::{AssignmentState, ProposalStatus};

/// Public proposals: published, in a status the public is shown (not drafts, submissions,
/// withdrawn or rejected ones).
pub fn public_proposals() -> Condition {
    Condition::all()
        .add(proposals::Column::Published.eq(true))
        .add(proposals::Column::Status.is_in(ProposalStatus::public_statuses()))
}

/// The ids of the public proposals, among `ids` when given.
pub async fn public_proposal_ids<C: ConnectionTrait>(
    db: &C,
    ids: Option<Vec<i32>>,
) -> Result<std::collections::HashSet<i32>, sea_orm::DbErr> {
    let mut query = proposals::Entity::find()
        .select_only()
        .column(proposals::Column::Id)
        .filter(public_proposals());
    if let Some(ids) = ids {
        query = query.filter(proposals::Column::Id.is_in(ids));
    }
    Ok(query
        .into_tuple::<i32>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Public sessions: the published ones. A proposal linked to another session shows no session.
pub fn public_sessions() -> Condition {
    Condition::all().add(sessions::Column::Published.eq(true))
}

/// Public documents: the published ones.
pub fn public_documents() -> Condition {
    Condition::all().add(documents::Column::Published.eq(true))
}

/// The published session with this number (期数), if any: what every public URL or filter
/// naming a session resolves to, and the only sessions a member may link a draft to.
pub async fn published_session<C: ConnectionTrait>(
    db: &C,
    number: i32,
) -> Result<Option<sessions::Model>, sea_orm::DbErr> {
    sessions::Entity::find()
        .filter(sessions::Column::Number.eq(number))
        .filter(public_sessions())
        .one(db)
        .await
}

/// Public assignments: an agency's part that stands (being handled, or completed at closure). A
/// returned assignment was a mistake the agency refused: it is not shown as 承办单位, and its
/// reason is internal.
pub fn public_assignments() -> Condition {
    Condition::all().add(assignments::Column::State.is_in([
        AssignmentState::Active.as_str(),
        AssignmentState::Completed.as_str(),
    ]))
}
