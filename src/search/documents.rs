//! Builds search documents from the database — the only source of the index. Batched: each builder
//! takes many ids and runs a fixed number of queries. Unpublished content yields no document (and
//! the outbox then deletes it from the index).
use std::collections::{HashMap, HashSet};

use chrono::Datelike;
use entity::{
    agencies, assignments, documents, people, proposal_cosigners, proposals, session_participants,
    sessions,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::text::plain_text;
use super::SearchDoc;
use crate::db::string_list;
use crate::error::AppResult;
use crate::files::OwnerKind;
use crate::responses::service::responses_for_proposals;
use crate::time::china;
use crate::visibility::{public_assignments, public_proposals, public_sessions};

pub const PROPOSAL: &str = "proposal";
pub const SESSION: &str = "session";
pub const DOCUMENT: &str = "document";

pub fn doc_id(kind: &str, id: i32) -> String {
    format!("{kind}-{id}")
}

fn agency_names(agency: &agencies::Model) -> Vec<String> {
    let mut names = vec![agency.full_name.clone(), agency.short_name.clone()];
    names.extend(string_list(&agency.aliases));
    names
}

/// The synonym groups queries expand with: the secretariat's list first, then each agency's
/// names and aliases.
pub async fn synonyms<C: ConnectionTrait>(db: &C) -> AppResult<Vec<Vec<String>>> {
    let mut groups: Vec<Vec<String>> = entity::search_synonyms::Entity::find()
        .order_by_asc(entity::search_synonyms::Column::Id)
        .all(db)
        .await?
        .iter()
        .map(|row| synonym_words(&row.words))
        .collect();
    groups.extend(
        agencies::Entity::find()
            .all(db)
            .await?
            .iter()
            .map(agency_names),
    );
    Ok(groups)
}

/// A stored group's words ("高企 = 高新技术企业").
pub fn synonym_words(stored: &str) -> Vec<String> {
    stored
        .split(['=', '＝', '\n'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn build_proposals<C: ConnectionTrait>(db: &C, ids: &[i32]) -> AppResult<Vec<SearchDoc>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = proposals::Entity::find()
        .filter(public_proposals())
        .filter(proposals::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let ids: Vec<i32> = rows.iter().map(|p| p.id).collect();
    let cosigners = proposal_cosigners::Entity::find()
        .filter(proposal_cosigners::Column::ProposalId.is_in(ids.clone()))
        .all(db)
        .await?;
    let person_ids: HashSet<i32> = rows
        .iter()
        .filter_map(|p| p.author_id)
        .chain(cosigners.iter().map(|c| c.person_id))
        .collect();
    let people: HashMap<i32, String> = people::Entity::find()
        .filter(people::Column::Id.is_in(person_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let session_ids: HashSet<i32> = rows.iter().filter_map(|p| p.session_id).collect();
    let sessions: HashMap<i32, sessions::Model> = sessions::Entity::find()
        .filter(public_sessions())
        .filter(sessions::Column::Id.is_in(session_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let responses = responses_for_proposals(db, &ids, true).await?;
    let assigned = assignments::Entity::find()
        .filter(assignments::Column::ProposalId.is_in(ids.clone()))
        .filter(public_assignments())
        .all(db)
        .await?;
    let agency_ids: HashSet<i32> = assigned
        .iter()
        .map(|a| a.agency_id)
        .chain(responses.values().flatten().map(|r| r.agency_id))
        .collect();
    let agencies: HashMap<i32, agencies::Model> = agencies::Entity::find()
        .filter(agencies::Column::Id.is_in(agency_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    // The text of the proposals' own files, of their published replies' files and of the
    // evidence behind their commitments' reported actuals.
    let mut owners: Vec<(OwnerKind, i32)> =
        ids.iter().map(|id| (OwnerKind::Proposal, *id)).collect();
    owners.extend(
        responses
            .values()
            .flatten()
            .map(|r| (OwnerKind::Response, r.id)),
    );
    let reports_of = crate::files::reports_of_proposals(db, &ids).await?;
    owners.extend(
        reports_of
            .values()
            .flatten()
            .map(|r| (OwnerKind::Report, *r)),
    );
    let files = crate::files::texts_of(db, &owners).await?;

    Ok(rows
        .into_iter()
        .map(|p| {
            let session = p.session_id.and_then(|id| sessions.get(&id));
            let answers = responses.get(&p.id).map(Vec::as_slice).unwrap_or_default();
            let mut agency_set: Vec<i32> = assigned
                .iter()
                .filter(|a| a.proposal_id == p.id)
                .map(|a| a.agency_id)
                .collect();
            agency_set.extend(answers.iter().map(|r| r.agency_id));
            agency_set.sort_unstable();
            agency_set.dedup();
            let mut members: Vec<String> = p
                .author_id
                .and_then(|id| people.get(&id).cloned())
                .into_iter()
                .collect();
            members.extend(
                cosigners
                    .iter()
                    .filter(|c| c.proposal_id == p.id)
                    .filter_map(|c| people.get(&c.person_id).cloned()),
            );
            let mut names = members.clone();
            for id in &agency_set {
                if let Some(a) = agencies.get(id) {
                    names.extend(agency_names(a));
                }
            }
            names.extend(answers.iter().filter_map(|r| r.responder_name.clone()));
            let mut body = plain_text(&p.body_md);
            if let Some(s) = session {
                body.push_str(&format!("\n第{}期 {}", s.number, s.topic));
            }
            for r in answers {
                body.push_str(&format!(
                    "\n{} {}:{}",
                    r.agency_name,
                    r.kind_label,
                    plain_text(&r.body_md)
                ));
            }
            let owned = std::iter::once((OwnerKind::Proposal, p.id))
                .chain(answers.iter().map(|r| (OwnerKind::Response, r.id)))
                .chain(
                    reports_of
                        .get(&p.id)
                        .into_iter()
                        .flatten()
                        .map(|r| (OwnerKind::Report, *r)),
                );
            for owner in owned {
                append_files(&mut body, files.get(&owner));
            }
            let when = p
                .submitted_at
                .map(|t| t.with_timezone(&china()))
                .or_else(|| {
                    session.map(|s| crate::time::start_of_day(s.held_on).with_timezone(&china()))
                });
            SearchDoc {
                id: doc_id(PROPOSAL, p.id),
                kind: PROPOSAL.into(),
                url: crate::web::paths::proposal(&p.code),
                title: p.title,
                code: Some(p.code),
                body,
                names,
                status: Some(p.status),
                agencies: agency_set
                    .iter()
                    .filter_map(|id| agencies.get(id).map(|a| a.short_name.clone()))
                    .collect(),
                session: session.map(|s| s.number),
                year: when.map(|t| t.year()),
                channel: Some(p.channel),
                topics: string_list(&p.topics),
                members,
                date: when.map_or(0, |t| t.timestamp()),
            }
        })
        .collect())
}

pub async fn build_sessions<C: ConnectionTrait>(db: &C, ids: &[i32]) -> AppResult<Vec<SearchDoc>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sessions::Entity::find()
        .filter(public_sessions())
        .filter(sessions::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let participants = session_participants::Entity::find()
        .filter(session_participants::Column::SessionId.is_in(rows.iter().map(|s| s.id)))
        .find_also_related(people::Entity)
        .all(db)
        .await?;
    let owners: Vec<(OwnerKind, i32)> = rows.iter().map(|s| (OwnerKind::Session, s.id)).collect();
    let files = crate::files::texts_of(db, &owners).await?;
    Ok(rows
        .into_iter()
        .map(|s| {
            let mut names = string_list(&s.organisers);
            let mut roster = String::new();
            for (p, person) in participants.iter().filter(|(p, _)| p.session_id == s.id) {
                if let Some(person) = person {
                    names.push(person.name.clone());
                    roster.push_str(&format!("\n{} {}", person.name, p.post_as_printed));
                }
            }
            let when = crate::time::start_of_day(s.held_on);
            let mut body = format!("{}{roster}", plain_text(&s.summary_md));
            append_files(&mut body, files.get(&(OwnerKind::Session, s.id)));
            SearchDoc {
                id: doc_id(SESSION, s.id),
                kind: SESSION.into(),
                url: crate::web::paths::session(s.number),
                title: format!("第{}期 {}", s.number, s.topic),
                code: None,
                body,
                names,
                session: Some(s.number),
                year: Some(s.held_on.year()),
                date: when.timestamp(),
                ..Default::default()
            }
        })
        .collect())
}

/// The extracted text of an item's files, each page after a line naming the file and page (so
/// a highlighted excerpt says where it came from).
/// At most this much attached text goes into one search document.
const MAX_FILE_TEXT_BYTES: usize = 1024 * 1024;

fn append_files(body: &mut String, pages: Option<&Vec<crate::files::PageText>>) {
    let mut added = 0;
    for page in pages.into_iter().flatten() {
        if page.text.is_empty() {
            continue;
        }
        // A file's name is published text too: what the detector finds in it is not indexed.
        let name = crate::privacy::redact(&page.name, &crate::privacy::detect(&page.name, &[]));
        let line = format!("\n附件《{name}》第{}页:{}", page.page, page.text);
        if added + line.len() > MAX_FILE_TEXT_BYTES {
            break;
        }
        added += line.len();
        body.push_str(&line);
    }
}

pub async fn build_documents<C: ConnectionTrait>(db: &C, ids: &[i32]) -> AppResult<Vec<SearchDoc>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = documents::Entity::find()
        .filter(documents::Column::Published.eq(true))
        .filter(documents::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let owners: Vec<(OwnerKind, i32)> = rows.iter().map(|d| (OwnerKind::Document, d.id)).collect();
    let files = crate::files::texts_of(db, &owners).await?;
    Ok(rows
        .into_iter()
        .map(|d| SearchDoc {
            id: doc_id(DOCUMENT, d.id),
            kind: DOCUMENT.into(),
            url: format!("/documents/{}", d.id),
            title: d.title,
            code: d.doc_number,
            body: {
                let mut body = plain_text(&d.body_md);
                append_files(&mut body, files.get(&(OwnerKind::Document, d.id)));
                body
            },
            names: vec![d.issuer],
            year: d.published_on.map(|p| p.year()),
            date: d
                .published_on
                .map_or(0, |p| crate::time::start_of_day(p).timestamp()),
            ..Default::default()
        })
        .collect())
}

/// Ids of everything that may be indexed: (proposals, sessions, documents).
pub async fn indexable_ids<C: ConnectionTrait>(
    db: &C,
) -> AppResult<(Vec<i32>, Vec<i32>, Vec<i32>)> {
    let proposals: Vec<i32> = proposals::Entity::find()
        .filter(public_proposals())
        .select_only()
        .column(proposals::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let sessions: Vec<i32> = sessions::Entity::find()
        .filter(public_sessions())
        .select_only()
        .column(sessions::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let documents: Vec<i32> = documents::Entity::find()
        .filter(documents::Column::Published.eq(true))
        .select_only()
        .column(documents::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    Ok((proposals, sessions, documents))
}
