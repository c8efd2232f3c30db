//! Writing responses: an agency's on-the-spot record, co-handling opinion, progress report or
//! written reply on a proposal. Called by the workflow (`proposals::handling`) inside the
//! command's transaction, after `workflow::decide` has allowed the command.
use chrono::{DateTime, FixedOffset, NaiveDate};
use entity::{callers, response_proposals, responses};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::{AppError, AppResult};
use crate::privacy::store::ItemKind;
use crate::redaction::service::apply_rules_to;
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

/// Inserts the response and links it to its proposal; returns its id. The redaction rules that
/// reach it are applied first (a value hidden from the record stays hidden in a reply); a
/// response whose text then still holds possible personal information (the proposal's caller's
/// name included) is kept unpublished until the secretariat has reviewed it (`redaction`).
pub async fn publish<C: ConnectionTrait>(db: &C, new: NewResponse<'_>) -> AppResult<i32> {
    let caller: Option<String> = callers::Entity::find()
        .filter(callers::Column::ProposalId.eq(new.proposal_id))
        .one(db)
        .await?
        .and_then(|c| c.name);
    let names: Vec<&str> = caller.as_deref().into_iter().collect();
    let response = responses::Entity::insert(responses::ActiveModel {
        agency_id: Set(new.agency_id),
        kind: Set(new.kind.as_str().into()),
        body_md: Set(new.body_md.to_owned()),
        doc_number: Set(new.doc_number),
        grade: Set(new.grade.map(str::to_owned)),
        // Unpublished until its text has been checked below.
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
    let body = if apply_rules_to(db, ItemKind::Response, response).await? > 0 {
        responses::Entity::find_by_id(response)
            .one(db)
            .await?
            .ok_or(AppError::NotFound)?
            .body_md
    } else {
        new.body_md.to_owned()
    };
    let findings =
        crate::privacy::store::record(db, ItemKind::Response, response, "body_md", &body, &names)
            .await?;
    if findings == 0 {
        responses::Entity::update_many()
            .col_expr(responses::Column::Published, Expr::value(true))
            .filter(responses::Column::Id.eq(response))
            .exec(db)
            .await?;
    }
    Ok(response)
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
