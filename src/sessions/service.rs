//! The session list and the session page.
use std::collections::HashMap;

use entity::{commitments, people, proposals, session_participants, sessions};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::db::string_list;
use crate::directory::PersonKind;
use crate::error::{AppError, AppResult};
use crate::followup::commitments::{load_views, CommitmentView};
use crate::proposals::service::{summarize_with, ProposalSummary, SummaryRow};
use crate::responses::service::{responses_for_proposals, ResponseView};
use crate::statistics::facts::load_items;
use crate::statistics::measures::{tally, CommitmentFacts, Selection, Tally};
use crate::visibility::{public_proposals, public_sessions, published_session};
use chrono::Datelike;

/// One entry of a session's `media_links` JSON column.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaLink {
    pub label: String,
    pub url: Option<String>,
    pub document_id: Option<i32>,
    pub note: Option<String>,
}

#[derive(Serialize)]
pub struct SessionListItem {
    pub session: sessions::Model,
    pub organisers: Vec<String>,
    pub proposal_count: usize,
}

/// Published sessions, newest first, with `limit` when given.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    limit: Option<u64>,
) -> AppResult<Vec<SessionListItem>> {
    let mut query = sessions::Entity::find()
        .filter(public_sessions())
        .order_by_desc(sessions::Column::HeldOn);
    if let Some(limit) = limit {
        query = query.limit(limit);
    }
    let rows = query.all(db).await?;
    let ids: Vec<i32> = rows.iter().map(|s| s.id).collect();
    let counts = crate::db::count_by(
        db,
        proposals::Entity::find()
            .filter(public_proposals())
            .filter(proposals::Column::SessionId.is_in(ids)),
        proposals::Column::SessionId,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|session| SessionListItem {
            organisers: string_list(&session.organisers),
            proposal_count: counts.get(&session.id).copied().unwrap_or(0),
            session,
        })
        .collect())
}

#[derive(Serialize)]
pub struct Participant {
    pub person_id: i32,
    pub name: String,
    pub post_as_printed: String,
}

#[derive(Serialize)]
pub struct ParticipantGroup {
    pub role: &'static str,
    pub role_label: &'static str,
    pub participants: Vec<Participant>,
}

#[derive(Serialize)]
pub struct SessionPage {
    pub session: sessions::Model,
    pub organisers: Vec<String>,
    pub media: Vec<MediaLink>,
    pub groups: Vec<ParticipantGroup>,
    pub proposals: Vec<ProposalSummary>,
    /// Each proposal's responses, keyed by proposal code.
    pub responses_by_code: HashMap<String, Vec<ResponseView>>,
    /// A response answering several of the session's proposals is shown whole under the first of
    /// them (by response id, as text): the others link to it, so each anchor exists once.
    pub shown_under: HashMap<String, String>,
    pub commitments: Vec<CommitmentView>,
    /// The follow-up summary, counted from the current states of the items.
    pub summary: Tally,
    /// The session's own text was corrected after publication (its history says how).
    pub corrected: bool,
    /// The session's files (minutes, photos).
    pub files: Vec<crate::attachments::service::Listed>,
}

/// [`page`] read in one read transaction: one snapshot and one pooled connection.
pub async fn page_snapshot(db: &DatabaseConnection, number: i32) -> AppResult<SessionPage> {
    let snapshot = db.begin().await?;
    let page = page(&snapshot, number).await?;
    snapshot.commit().await?;
    Ok(page)
}

pub async fn page<C: ConnectionTrait>(db: &C, number: i32) -> AppResult<SessionPage> {
    let session = published_session(db, number)
        .await?
        .ok_or(AppError::NotFound)?;

    let rows = session_participants::Entity::find()
        .filter(session_participants::Column::SessionId.eq(session.id))
        .find_also_related(people::Entity)
        .order_by_asc(session_participants::Column::SortOrder)
        .order_by_asc(session_participants::Column::Id)
        .all(db)
        .await?;
    let groups = PersonKind::ALL
        .iter()
        .map(|role| ParticipantGroup {
            role: role.as_str(),
            role_label: role.label(),
            participants: rows
                .iter()
                .filter(|(p, _)| p.role == role.as_str())
                .filter_map(|(p, person)| {
                    person.as_ref().map(|person| Participant {
                        person_id: person.id,
                        name: person.name.clone(),
                        post_as_printed: p.post_as_printed.clone(),
                    })
                })
                .collect(),
        })
        .filter(|g| !g.participants.is_empty())
        .collect();

    // The session's public proposals and their responses, loaded once for both the list and
    // the responses shown under each proposal.
    let rows: Vec<SummaryRow> = proposals::Entity::find()
        .filter(public_proposals())
        .filter(proposals::Column::SessionId.eq(session.id))
        .order_by_asc(proposals::Column::Code)
        .into_partial_model()
        .all(db)
        .await?;
    let ids: Vec<i32> = rows.iter().map(|p| p.id).collect();
    let responses = responses_for_proposals(db, &ids, true).await?;
    let code_by_id: HashMap<i32, String> = rows.iter().map(|p| (p.id, p.code.clone())).collect();
    let mut shown_under = HashMap::new();
    for row in &rows {
        for r in responses.get(&row.id).into_iter().flatten() {
            shown_under
                .entry(r.id.to_string())
                .or_insert_with(|| row.code.clone());
        }
    }
    let proposals = summarize_with(db, rows, &responses).await?;
    let responses_by_code = responses
        .into_iter()
        .filter_map(|(id, list)| code_by_id.get(&id).map(|code| (code.clone(), list)))
        .collect();

    let selection = Selection {
        session_id: Some(session.id),
        ..Default::default()
    };
    let items = load_items(db, &selection).await?;
    let ids: Vec<i32> = items.iter().map(|p| p.id).collect();
    let commitment_rows = commitments::Entity::find()
        .filter(commitments::Column::ProposalId.is_in(ids))
        .order_by_asc(commitments::Column::Id)
        .all(db)
        .await?;
    let commitments = load_views(db, commitment_rows, crate::time::today()).await?;
    let commitment_facts: Vec<CommitmentFacts> = commitments
        .iter()
        .map(|c| CommitmentFacts {
            id: c.id,
            agency_id: c.agency_id,
            session_id: Some(session.id),
            channel: None,
            year: c.target_date.map(|d| d.year()),
            status: c.status,
        })
        .collect();
    let summary = tally(&items, &commitment_facts, &selection, crate::time::today());

    let corrected =
        !crate::versions::corrected(db, &[(crate::versions::TargetKind::Session, session.id)])
            .await?
            .is_empty();
    let files =
        crate::attachments::service::listed(db, &[(crate::files::OwnerKind::Session, session.id)])
            .await?
            .remove(&format!("session:{}", session.id))
            .unwrap_or_default();
    Ok(SessionPage {
        summary,
        corrected,
        files,

        organisers: string_list(&session.organisers),
        media: serde_json::from_str(&session.media_links).unwrap_or_default(),
        groups,
        proposals,
        responses_by_code,
        shown_under,
        commitments,
        session,
    })
}
