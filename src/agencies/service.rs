//! Agency lookups and the agency page.

use entity::{agencies, assignments, commitments, people, proposals};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::db::string_list;
use crate::error::{AppError, AppResult};
use crate::followup::commitments::{load_views, CommitmentView};
use crate::proposals::service::{summarize, ProposalSummary};
use crate::responses::service::ResponseView;
use crate::visibility::{public_assignments, public_proposals};

#[derive(Serialize)]
pub struct AgencyListItem {
    pub agency: agencies::Model,
    pub response_count: usize,
    pub commitment_count: usize,
}

pub async fn list<C: ConnectionTrait>(db: &C) -> AppResult<Vec<AgencyListItem>> {
    let all = agencies::Entity::find()
        .order_by_asc(agencies::Column::Id)
        .all(db)
        .await?;
    let responses = crate::db::count_by(
        db,
        entity::responses::Entity::find().filter(entity::responses::Column::Published.eq(true)),
        entity::responses::Column::AgencyId,
    )
    .await?;
    let commitment_counts = crate::db::count_by(
        db,
        commitments::Entity::find(),
        commitments::Column::AgencyId,
    )
    .await?;
    Ok(all
        .into_iter()
        .map(|agency| AgencyListItem {
            response_count: responses.get(&agency.id).copied().unwrap_or(0),
            commitment_count: commitment_counts.get(&agency.id).copied().unwrap_or(0),
            agency,
        })
        .collect())
}

#[derive(Serialize)]
pub struct AgencyPage {
    pub agency: agencies::Model,
    pub aliases: Vec<String>,
    pub successor: Option<agencies::Model>,
    pub officials: Vec<people::Model>,
    pub responses: Vec<ResponseView>,
    pub assigned: Vec<ProposalSummary>,
    pub commitments: Vec<CommitmentView>,
}

/// One agency by id, or "not found".
pub async fn find<C: ConnectionTrait>(db: &C, id: i32) -> AppResult<agencies::Model> {
    agencies::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The agency's commitments, all or those whose target date falls in `year`.
pub async fn commitments_of<C: ConnectionTrait>(
    db: &C,
    id: i32,
    year: Option<i32>,
) -> AppResult<Vec<CommitmentView>> {
    use chrono::Datelike;
    let rows: Vec<commitments::Model> = commitments::Entity::find()
        .filter(commitments::Column::AgencyId.eq(id))
        .order_by_asc(commitments::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .filter(|c| year.is_none_or(|y| c.target_date.map(|d| d.year()) == Some(y)))
        .collect();
    Ok(load_views(db, rows, crate::time::today()).await?)
}

pub async fn page<C: ConnectionTrait>(db: &C, id: i32) -> AppResult<AgencyPage> {
    let agency = find(db, id).await?;
    let successor = match agency.successor_id {
        Some(s) => agencies::Entity::find_by_id(s).one(db).await?,
        None => None,
    };
    let officials = people::Entity::find()
        .filter(people::Column::AgencyId.eq(id))
        .order_by_asc(people::Column::Id)
        .all(db)
        .await?;
    let responses = crate::responses::service::by_agency(db, id).await?;
    let assigned_ids: Vec<i32> = assignments::Entity::find()
        .filter(assignments::Column::AgencyId.eq(id))
        .filter(public_assignments())
        .all(db)
        .await?
        .into_iter()
        .map(|a| a.proposal_id)
        .collect();
    let assigned_rows = proposals::Entity::find()
        .filter(public_proposals())
        .filter(proposals::Column::Id.is_in(assigned_ids))
        .order_by_asc(proposals::Column::Code)
        .into_partial_model()
        .all(db)
        .await?;
    let assigned = summarize(db, assigned_rows).await?;
    let commitments = commitments_of(db, id, None).await?;
    Ok(AgencyPage {
        aliases: string_list(&agency.aliases),
        agency,
        successor,
        officials,
        responses,
        assigned,
        commitments,
    })
}
