//! Writing responses: an agency's on-the-spot record, co-handling opinion, progress report or
//! written reply on a proposal. Called by the workflow (`proposals::handling`) inside the
//! command's transaction, after `workflow::decide` has allowed the command.
use chrono::{DateTime, FixedOffset, NaiveDate};
use entity::{callers, response_proposals, responses};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::privacy::store::ItemKind;
use crate::workflow::ResponseKind;

/// A response to publish on one proposal.
pub struct NewResponse<'a> {
    pub proposal_id: i32,
    pub agency_id: i32,
    pub kind: ResponseKind,
    pub body_md: &'a str,
    pub doc_number: Option<String>,
    pub grade: Option<&'a str>,
    pub responded_on: NaiveDate,
    pub author_user_id: i32,
    pub at: DateTime<FixedOffset>,
}

/// Inserts the response, unpublished, and links it to its proposal; returns its id. The caller
/// applies the redaction rules that reach it, then [`release_unless_personal`] publishes it.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    new: NewResponse<'_>,
) -> Result<i32, sea_orm::DbErr> {
    let response = responses::Entity::insert(responses::ActiveModel {
        agency_id: Set(new.agency_id),
        kind: Set(new.kind.as_str().into()),
        body_md: Set(new.body_md.to_owned()),
        doc_number: Set(new.doc_number),
        grade: Set(new.grade.map(str::to_owned)),
        published: Set(false),
        responded_on: Set(Some(new.responded_on)),
        created_by_user_id: Set(Some(new.author_user_id)),
        created_at: Set(new.at),
        updated_at: Set(new.at),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    response_proposals::Entity::insert(response_proposals::ActiveModel {
        response_id: Set(response),
        proposal_id: Set(new.proposal_id),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(response)
}

/// Publishes a response just inserted unless its text holds possible personal information (the
/// proposal's caller's name included): then its findings are recorded and it stays unpublished
/// until the secretariat has reviewed it (`redaction`). Returns whether it was held.
pub async fn release_unless_personal<C: ConnectionTrait>(
    db: &C,
    response: i32,
    proposal_id: i32,
) -> Result<bool, sea_orm::DbErr> {
    let caller: Option<String> = callers::Entity::find()
        .filter(callers::Column::ProposalId.eq(proposal_id))
        .one(db)
        .await?
        .and_then(|c| c.name);
    let names: Vec<&str> = caller.as_deref().into_iter().collect();
    let Some(written) = responses::Entity::find_by_id(response).one(db).await? else {
        return Ok(false);
    };
    let findings = crate::privacy::store::record(
        db,
        ItemKind::Response,
        response,
        "body_md",
        &written.body_md,
        &names,
    )
    .await?;
    if findings == 0 {
        responses::Entity::update_many()
            .col_expr(responses::Column::Published, Expr::value(true))
            .filter(responses::Column::Id.eq(response))
            .exec(db)
            .await?;
    }
    Ok(findings > 0)
}

/// The co-handling agencies, of `co` (agency, assigned at), that have given no opinion on the
/// proposal since they were assigned.
pub async fn without_co_opinion<C: ConnectionTrait>(
    db: &C,
    proposal_id: i32,
    co: &[(i32, DateTime<FixedOffset>)],
) -> Result<Vec<i32>, sea_orm::DbErr> {
    let mut missing = Vec::new();
    for (agency, assigned_at) in co {
        let opinion = responses::Entity::find()
            .inner_join(response_proposals::Entity)
            .filter(response_proposals::Column::ProposalId.eq(proposal_id))
            .filter(responses::Column::AgencyId.eq(*agency))
            .filter(responses::Column::Kind.eq(ResponseKind::CoOpinion.as_str()))
            .filter(responses::Column::CreatedAt.gte(*assigned_at))
            .one(db)
            .await?;
        if opinion.is_none() {
            missing.push(*agency);
        }
    }
    Ok(missing)
}
