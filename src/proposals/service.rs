//! Reading proposals for the public archive: lists with filters, and the full proposal page.
use std::collections::HashMap;

use entity::{
    assignments, document_links, documents, people, proposal_cosigners, proposals, sessions,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::Serialize;

use crate::db::string_list;
use crate::error::{AppError, AppResult};
use crate::followup::commitments::{self, CommitmentView};
use crate::followup::timeline::{self, EventView};
use crate::responses::service::{responses_for_proposals, ResponseView};
use crate::statistics::facts;
use crate::statistics::measures::{matching, Measure, Selection};
use crate::versions::TargetKind;
use crate::visibility::{public_assignments, public_proposals, public_sessions};
use crate::workflow::StatusBadge;
use crate::workflow::{AssignmentRole, Channel, ProposalStatus};

/// Public codes look like `TS-2023-027-01`: ASCII letters, digits and hyphens. Anything else (NUL
/// bytes, which PostgreSQL rejects, or megabytes of text) cannot name a proposal.
pub fn is_plausible_code(code: &str) -> bool {
    (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub session_id: Option<i32>,
    pub author_id: Option<i32>,
    pub status: Option<ProposalStatus>,
    pub channel: Option<Channel>,
    pub agency_id: Option<i32>,
    pub year: Option<i32>,
    /// Only the items a statistics figure counts (the list behind the figure).
    pub measure: Option<Measure>,
    /// Only those changed publicly since then, oldest change first (the API's `updated_since`).
    pub changed_since: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub page: u64,
    pub per_page: u64,
}

impl ListFilter {
    fn needs_facts(&self) -> bool {
        self.measure.is_some() || self.agency_id.is_some() || self.year.is_some()
    }
}

#[derive(Debug, Serialize)]
pub struct ProposalSummary {
    pub code: String,
    pub title: String,
    pub status: StatusBadge,
    /// The stored code (`hotline_12345` …) and the label a page shows.
    pub channel: &'static str,
    pub channel_label: &'static str,
    pub author_id: Option<i32>,
    pub author_name: Option<String>,
    pub session_number: Option<i32>,
    pub topics: Vec<String>,
    pub responding_agencies: Vec<String>,
    /// Published responses (an agency may answer several times: on the spot, progress, written).
    pub response_count: usize,
}

pub struct SummaryPage {
    pub items: Vec<ProposalSummary>,
    pub total: u64,
}

fn list_condition(filter: &ListFilter) -> Condition {
    let mut condition = public_proposals();
    if let Some(id) = filter.session_id {
        condition = condition.add(proposals::Column::SessionId.eq(id));
    }
    if let Some(id) = filter.author_id {
        condition = condition.add(proposals::Column::AuthorId.eq(id));
    }
    if let Some(status) = filter.status {
        condition = condition.add(proposals::Column::Status.eq(status.as_str()));
    }
    if let Some(channel) = filter.channel {
        condition = condition.add(proposals::Column::Channel.eq(channel.as_str()));
    }
    condition
}

pub async fn public_summaries<C: ConnectionTrait>(
    db: &C,
    filter: &ListFilter,
) -> AppResult<SummaryPage> {
    let per_page = filter.per_page.clamp(1, 200);
    let offset = filter.page.saturating_sub(1) * per_page;
    if filter.needs_facts() || filter.changed_since.is_some() {
        let ids = public_ids(db, filter).await?;
        let page_ids: Vec<i32> = ids
            .iter()
            .skip(offset as usize)
            .take(per_page as usize)
            .copied()
            .collect();
        return Ok(SummaryPage {
            items: summaries_in_order(db, &page_ids).await?,
            total: ids.len() as u64,
        });
    }
    let query = proposals::Entity::find().filter(list_condition(filter));
    let total = query.clone().count(db).await?;
    let rows = query
        .order_by_desc(proposals::Column::SubmittedAt)
        .order_by_asc(proposals::Column::Code)
        .offset(offset)
        .limit(per_page)
        .into_partial_model()
        .all(db)
        .await?;
    Ok(SummaryPage {
        items: summarize(db, rows).await?,
        total,
    })
}

/// Every id the filter lists, in list order (newest submission first, then by code): what an
/// export streams through, a batch at a time.
pub async fn public_ids<C: ConnectionTrait>(db: &C, filter: &ListFilter) -> AppResult<Vec<i32>> {
    if let Some(since) = filter.changed_since {
        // The filter's items, in the order of their last public change.
        let listed: std::collections::HashSet<i32> = Box::pin(public_ids(
            db,
            &ListFilter {
                changed_since: None,
                ..filter.clone()
            },
        ))
        .await?
        .into_iter()
        .collect();
        return Ok(
            crate::changes::changed_since(db, crate::search::documents::PROPOSAL, since)
                .await?
                .into_iter()
                .filter(|id| listed.contains(id))
                .collect(),
        );
    }
    if filter.needs_facts() {
        return ids_by_measure(db, filter).await;
    }
    Ok(proposals::Entity::find()
        .filter(list_condition(filter))
        .select_only()
        .column(proposals::Column::Id)
        .order_by_desc(proposals::Column::SubmittedAt)
        .order_by_asc(proposals::Column::Code)
        .into_tuple()
        .all(db)
        .await?)
}

/// Summaries of the proposals with `ids`, in that order.
pub async fn summaries_in_order<C: ConnectionTrait>(
    db: &C,
    ids: &[i32],
) -> AppResult<Vec<ProposalSummary>> {
    let mut rows: Vec<SummaryRow> = proposals::Entity::find()
        .filter(proposals::Column::Id.is_in(ids.iter().copied()))
        .into_partial_model()
        .all(db)
        .await?;
    rows.sort_by_key(|p| ids.iter().position(|id| *id == p.id));
    summarize(db, rows).await
}

/// The list behind a statistics figure: the items `measures::matching` counts, so the list and
/// the figure always agree.
async fn ids_by_measure<C: ConnectionTrait>(db: &C, filter: &ListFilter) -> AppResult<Vec<i32>> {
    let selection = Selection {
        year: filter.year,
        session_id: filter.session_id,
        channel: filter.channel,
        agency_id: filter.agency_id,
    };
    let items = facts::load_items(db, &selection).await?;
    let measure = filter.measure.unwrap_or(Measure::Proposals);
    Ok(matching(&items, &selection, measure, crate::time::today())
        .into_iter()
        .filter(|i| filter.status.is_none_or(|s| i.status == s))
        .filter(|i| filter.author_id.is_none() || filter.author_id == i.author_id)
        .map(|i| i.id)
        .collect())
}

/// The columns a proposal's summary shows: list pages load these, not the Markdown bodies
/// (on a session page the bodies were most of the bytes read and decoded).
#[derive(Debug, Clone, sea_orm::DerivePartialModel)]
#[sea_orm(entity = "proposals::Entity", from_query_result)]
pub struct SummaryRow {
    pub id: i32,
    pub code: String,
    pub title: String,
    pub channel: String,
    pub status: String,
    pub topics: String,
    pub author_id: Option<i32>,
    pub session_id: Option<i32>,
}

impl From<proposals::Model> for SummaryRow {
    fn from(p: proposals::Model) -> Self {
        Self {
            id: p.id,
            code: p.code,
            title: p.title,
            channel: p.channel,
            status: p.status,
            topics: p.topics,
            author_id: p.author_id,
            session_id: p.session_id,
        }
    }
}

/// Summaries for already-loaded proposals, with a fixed number of extra queries.
pub async fn summarize<C: ConnectionTrait>(
    db: &C,
    rows: Vec<SummaryRow>,
) -> AppResult<Vec<ProposalSummary>> {
    let ids: Vec<i32> = rows.iter().map(|p| p.id).collect();
    let responses = responses_for_proposals(db, &ids, true).await?;
    summarize_with(db, rows, &responses).await
}

/// [`summarize`] for a caller that has loaded the proposals' published responses already.
pub async fn summarize_with<C: ConnectionTrait>(
    db: &C,
    rows: Vec<SummaryRow>,
    responses: &HashMap<i32, Vec<ResponseView>>,
) -> AppResult<Vec<ProposalSummary>> {
    let author_ids: Vec<i32> = rows.iter().filter_map(|p| p.author_id).collect();
    let authors = crate::directory::person_names(db, author_ids).await?;
    let session_ids: Vec<i32> = rows.iter().filter_map(|p| p.session_id).collect();
    let session_numbers =
        crate::directory::session_numbers(db, session_ids, public_sessions()).await?;
    Ok(rows
        .into_iter()
        .map(|p| {
            let status = ProposalStatus::parse(&p.status).unwrap_or(ProposalStatus::Draft);
            let answered = responses.get(&p.id).map(Vec::as_slice).unwrap_or_default();
            let mut responding_agencies: Vec<String> = Vec::new();
            for r in answered {
                if !responding_agencies.contains(&r.agency_name) {
                    responding_agencies.push(r.agency_name.clone());
                }
            }
            ProposalSummary {
                status: status.into(),
                channel: Channel::parse(&p.channel).map_or("", Channel::as_str),
                channel_label: Channel::parse(&p.channel).map_or("", Channel::label),
                author_name: p.author_id.and_then(|id| authors.get(&id).cloned()),
                author_id: p.author_id,
                session_number: p
                    .session_id
                    .and_then(|id| session_numbers.get(&id).copied()),
                topics: string_list(&p.topics),
                response_count: answered.len(),
                responding_agencies,
                code: p.code,
                title: p.title,
            }
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct AssignmentView {
    pub agency_id: i32,
    pub agency_name: String,
    /// The stored code (`lead`, `co`); `role_label` is what a page shows.
    pub role: String,
    pub role_label: &'static str,
    pub state: String,
    pub due_on: chrono::NaiveDate,
}

#[derive(Debug, Serialize)]
pub struct DocumentLinkView {
    pub document_id: i32,
    pub title: String,
    pub issuer: String,
    pub kind: String,
    pub published_on: Option<chrono::NaiveDate>,
    pub note: String,
    pub source_quote: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProposalPage {
    pub proposal: proposals::Model,
    pub status: StatusBadge,
    pub channel: &'static str,
    pub topics: Vec<String>,
    pub author: Option<people::Model>,
    pub cosigners: Vec<people::Model>,
    pub session: Option<sessions::Model>,
    pub merged_into: Option<(String, String)>,
    pub assignments: Vec<AssignmentView>,
    pub responses: Vec<ResponseView>,
    pub commitments: Vec<CommitmentView>,
    pub timeline: Vec<EventView>,
    pub documents: Vec<DocumentLinkView>,
    /// What on the page was corrected after publication ("kind:id", `versions::corrected`).
    pub corrected: std::collections::HashSet<String>,
    /// The files of the proposal and of its replies ("kind:id" → files).
    pub files: HashMap<String, Vec<crate::attachments::service::Listed>>,
}

/// The people who co-signed a proposal, in the order they were added.
pub async fn cosigners_of<C: ConnectionTrait>(
    db: &C,
    proposal_id: i32,
) -> AppResult<Vec<people::Model>> {
    Ok(people::Entity::find()
        .inner_join(proposal_cosigners::Entity)
        .filter(proposal_cosigners::Column::ProposalId.eq(proposal_id))
        .order_by_asc(people::Column::Id)
        .all(db)
        .await?)
}

/// [`public_page`] read in one read transaction: one snapshot (never half of a write) and one
/// pooled connection for all its statements instead of one pool checkout each.
pub async fn public_page_snapshot(db: &DatabaseConnection, code: &str) -> AppResult<ProposalPage> {
    let snapshot = db.begin().await?;
    let page = public_page(&snapshot, code).await?;
    snapshot.commit().await?;
    Ok(page)
}

/// The public page of one proposal; unpublished or undecided proposals are "not found".
pub async fn public_page<C: ConnectionTrait>(db: &C, code: &str) -> AppResult<ProposalPage> {
    let proposal = proposals::Entity::find()
        .filter(public_proposals())
        .filter(proposals::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = ProposalStatus::parse(&proposal.status).unwrap_or(ProposalStatus::Draft);

    let author = match proposal.author_id {
        Some(id) => people::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let cosigners = cosigners_of(db, proposal.id).await?;
    let session = match proposal.session_id {
        Some(id) => {
            sessions::Entity::find_by_id(id)
                .filter(public_sessions())
                .one(db)
                .await?
        }
        None => None,
    };
    let merged_into = match proposal.merged_into_id {
        Some(id) => proposals::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|p| (p.code, p.title)),
        None => None,
    };

    let assignment_rows = assignments::Entity::find()
        .filter(assignments::Column::ProposalId.eq(proposal.id))
        .filter(public_assignments())
        .order_by_asc(assignments::Column::Id)
        .all(db)
        .await?;
    let agency_names = crate::directory::agency_short_names(
        db,
        assignment_rows.iter().map(|a| a.agency_id).collect(),
    )
    .await?;
    let assignments = assignment_rows
        .into_iter()
        .map(|a| AssignmentView {
            agency_name: agency_names.get(&a.agency_id).cloned().unwrap_or_default(),
            agency_id: a.agency_id,
            role_label: AssignmentRole::parse(&a.role).map_or("", AssignmentRole::label),
            role: a.role,
            state: a.state,
            due_on: a.due_on,
        })
        .collect();

    let responses = responses_for_proposals(db, &[proposal.id], true)
        .await?
        .remove(&proposal.id)
        .unwrap_or_default();
    let commitment_rows = entity::commitments::Entity::find()
        .filter(entity::commitments::Column::ProposalId.eq(proposal.id))
        .order_by_asc(entity::commitments::Column::Id)
        .all(db)
        .await?;
    let commitments = commitments::load_views(db, commitment_rows, crate::time::today()).await?;
    let timeline = timeline::events_for(db, proposal.id, false).await?;
    let documents = document_links_for(db, proposal.id).await?;
    let mut shown = vec![(TargetKind::Proposal, proposal.id)];
    shown.extend(responses.iter().map(|r| (TargetKind::Response, r.id)));
    shown.extend(commitments.iter().map(|c| (TargetKind::Commitment, c.id)));
    let corrected = crate::versions::corrected(db, &shown).await?;
    let mut owners = vec![(crate::files::OwnerKind::Proposal, proposal.id)];
    owners.extend(
        responses
            .iter()
            .map(|r| (crate::files::OwnerKind::Response, r.id)),
    );
    owners.extend(
        commitments
            .iter()
            .flat_map(|c| &c.reports)
            .map(|r| (crate::files::OwnerKind::Report, r.id)),
    );
    let files = crate::attachments::service::listed(db, &owners).await?;

    Ok(ProposalPage {
        status: status.into(),
        channel: Channel::parse(&proposal.channel).map_or("", Channel::label),
        topics: string_list(&proposal.topics),
        author,
        cosigners,
        session,
        merged_into,
        assignments,
        responses,
        commitments,
        timeline,
        documents,
        corrected,
        files,
        proposal,
    })
}

async fn document_links_for<C: ConnectionTrait>(
    db: &C,
    proposal_id: i32,
) -> AppResult<Vec<DocumentLinkView>> {
    let links = document_links::Entity::find()
        .filter(document_links::Column::ProposalId.eq(proposal_id))
        .find_also_related(documents::Entity)
        .filter(documents::Column::Published.eq(true))
        .order_by_asc(documents::Column::PublishedOn)
        .order_by_asc(document_links::Column::Id)
        .all(db)
        .await?;
    Ok(links
        .into_iter()
        .filter_map(|(link, doc)| {
            let doc = doc?;
            Some(DocumentLinkView {
                document_id: doc.id,
                title: doc.title,
                issuer: doc.issuer,
                kind: doc.kind,
                published_on: doc.published_on,
                note: link.note,
                source_quote: link.source_quote,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ascii_words_and_hyphens() {
        assert!(is_plausible_code("TS-2023-027-01"));
        for bad in ["", "TS\0", "TS 1", "代码", "../x", &"9".repeat(65)] {
            assert!(!is_plausible_code(bad), "{bad:?}");
        }
    }
}
