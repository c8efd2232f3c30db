//! Reading responses with the names a page needs, in a fixed number of queries.
use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{people, proposals, response_proposals, responses};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;

use crate::error::AppResult;
use crate::visibility::public_proposals;
use crate::workflow::{Grade, ResponseKind};

#[derive(Debug, Clone, Serialize)]
pub struct ProposalRef {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseView {
    pub id: i32,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub agency_id: i32,
    pub agency_name: String,
    pub responder_id: Option<i32>,
    pub responder_name: Option<String>,
    pub responder_post: Option<String>,
    pub body_md: String,
    pub doc_number: Option<String>,
    /// The stored code (A, B, C) and the label a page shows.
    pub grade: Option<&'static str>,
    pub grade_label: Option<&'static str>,
    pub responded_on: Option<NaiveDate>,
    /// When it was entered into the record (the seed's load time for the sources' replies).
    pub recorded_at: chrono::DateTime<chrono::FixedOffset>,
    pub source_file: Option<String>,
    pub source_quote: Option<String>,
    /// The public proposals this response answers.
    pub answers: Vec<ProposalRef>,
}

/// Published responses for each of `proposal_ids`, keyed by proposal id, oldest first.
pub async fn responses_for_proposals<C: ConnectionTrait>(
    db: &C,
    proposal_ids: &[i32],
    published_only: bool,
) -> AppResult<HashMap<i32, Vec<ResponseView>>> {
    let links = response_proposals::Entity::find()
        .filter(response_proposals::Column::ProposalId.is_in(proposal_ids.iter().copied()))
        .all(db)
        .await?;
    let response_ids: Vec<i32> = links.iter().map(|l| l.response_id).collect();
    let mut query = responses::Entity::find().filter(responses::Column::Id.is_in(response_ids));
    if published_only {
        query = query.filter(responses::Column::Published.eq(true));
    }
    let views: HashMap<i32, ResponseView> = views_for(db, query.all(db).await?)
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let mut by_proposal: HashMap<i32, Vec<ResponseView>> = HashMap::new();
    for link in links {
        if let Some(view) = views.get(&link.response_id) {
            by_proposal
                .entry(link.proposal_id)
                .or_default()
                .push(view.clone());
        }
    }
    for list in by_proposal.values_mut() {
        list.sort_by(|a, b| a.responded_on.cmp(&b.responded_on).then(a.id.cmp(&b.id)));
    }
    Ok(by_proposal)
}

/// How many public proposals each agency has answered (a published response of any kind), by
/// agency id. An agency can answer without an assignment (on the spot at a session), so this
/// differs from the assignment figures of `statistics`.
pub async fn answered_counts<C: ConnectionTrait>(
    db: &C,
    agency_id: Option<i32>,
) -> AppResult<HashMap<i32, u64>> {
    let mut query = responses::Entity::find()
        .select_only()
        .columns([responses::Column::Id, responses::Column::AgencyId])
        .filter(responses::Column::Published.eq(true));
    if let Some(id) = agency_id {
        query = query.filter(responses::Column::AgencyId.eq(id));
    }
    let agency_of: HashMap<i32, i32> = query
        .into_tuple::<(i32, i32)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    // One agency's page reads only its own responses' links and proposals, not the whole table.
    let mut links = response_proposals::Entity::find().select_only().columns([
        response_proposals::Column::ResponseId,
        response_proposals::Column::ProposalId,
    ]);
    if agency_id.is_some() {
        links =
            links.filter(response_proposals::Column::ResponseId.is_in(agency_of.keys().copied()));
    }
    let links: Vec<(i32, i32)> = links.into_tuple().all(db).await?;
    let among = agency_id.map(|_| links.iter().map(|(_, p)| *p).collect());
    let public = crate::visibility::public_proposal_ids(db, among).await?;
    let mut answered: std::collections::HashSet<(i32, i32)> = Default::default();
    for (response, proposal) in links {
        if let Some(agency) = agency_of.get(&response) {
            if public.contains(&proposal) {
                answered.insert((*agency, proposal));
            }
        }
    }
    let mut counts = HashMap::new();
    for (agency, _) in answered {
        *counts.entry(agency).or_insert(0) += 1;
    }
    Ok(counts)
}

/// The most recent published responses, for the home page.
pub async fn recent<C: ConnectionTrait>(db: &C, limit: u64) -> AppResult<Vec<ResponseView>> {
    let rows = responses::Entity::find()
        .filter(responses::Column::Published.eq(true))
        .order_by_desc(responses::Column::RespondedOn)
        .order_by_desc(responses::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    views_for(db, rows).await
}

/// Published responses by one agency, newest first.
pub async fn by_agency<C: ConnectionTrait>(db: &C, agency_id: i32) -> AppResult<Vec<ResponseView>> {
    let rows = responses::Entity::find()
        .filter(responses::Column::Published.eq(true))
        .filter(responses::Column::AgencyId.eq(agency_id))
        .order_by_desc(responses::Column::RespondedOn)
        .order_by_desc(responses::Column::Id)
        .all(db)
        .await?;
    views_for(db, rows).await
}

/// Published responses given by one person, newest first.
pub async fn by_responder<C: ConnectionTrait>(
    db: &C,
    person_id: i32,
) -> AppResult<Vec<ResponseView>> {
    let rows = responses::Entity::find()
        .filter(responses::Column::Published.eq(true))
        .filter(responses::Column::ResponderId.eq(person_id))
        .order_by_desc(responses::Column::RespondedOn)
        .order_by_desc(responses::Column::Id)
        .all(db)
        .await?;
    views_for(db, rows).await
}

/// Adds agency, responder and answered-proposal names to response rows (four queries in all).
pub async fn views_for<C: ConnectionTrait>(
    db: &C,
    rows: Vec<responses::Model>,
) -> AppResult<Vec<ResponseView>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let agency_names =
        crate::directory::agency_short_names(db, rows.iter().map(|r| r.agency_id).collect())
            .await?;
    let responder_ids: Vec<i32> = rows.iter().filter_map(|r| r.responder_id).collect();
    let responders: HashMap<i32, people::Model> = if responder_ids.is_empty() {
        HashMap::new()
    } else {
        people::Entity::find()
            .filter(people::Column::Id.is_in(responder_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect()
    };
    let response_ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
    // Only the code and title of each answered proposal (not its body).
    let answered: Vec<(i32, String, String)> = response_proposals::Entity::find()
        .filter(response_proposals::Column::ResponseId.is_in(response_ids))
        .inner_join(proposals::Entity)
        .filter(public_proposals())
        .select_only()
        .column(response_proposals::Column::ResponseId)
        .columns([proposals::Column::Code, proposals::Column::Title])
        .order_by_asc(proposals::Column::Code)
        .into_tuple()
        .all(db)
        .await?;
    let mut answers: HashMap<i32, Vec<ProposalRef>> = HashMap::new();
    for (response_id, code, title) in answered {
        answers
            .entry(response_id)
            .or_default()
            .push(ProposalRef { code, title });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let kind = ResponseKind::parse(&r.kind).unwrap_or(ResponseKind::Progress);
            let responder = r.responder_id.and_then(|id| responders.get(&id));
            ResponseView {
                id: r.id,
                kind: kind.as_str(),
                kind_label: kind.label(),
                agency_id: r.agency_id,
                agency_name: agency_names.get(&r.agency_id).cloned().unwrap_or_default(),
                responder_id: r.responder_id,
                responder_name: responder.map(|p| p.name.clone()),
                responder_post: responder.map(|p| p.post.clone()),
                grade: r.grade.as_deref().and_then(Grade::parse).map(Grade::as_str),
                grade_label: r.grade.as_deref().and_then(Grade::parse).map(Grade::label),
                recorded_at: r.created_at,
                answers: answers.remove(&r.id).unwrap_or_default(),
                body_md: r.body_md,
                doc_number: r.doc_number,
                responded_on: r.responded_on,
                source_file: r.source_file,
                source_quote: r.source_quote,
            }
        })
        .collect())
}
