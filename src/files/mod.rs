//! Files kept with the record: the content-addressed store ([`store`]), what a file is
//! ([`kinds`]), the text inside it ([`extract`]) and image thumbnails ([`thumbnail`]). Below the
//! capabilities: the attachments capability writes through it, search reads the extracted text
//! with [`texts_of`] and [`found_in`].
pub mod extract;
pub mod kinds;
pub mod store;
pub mod thumbnail;

use std::collections::HashMap;

use entity::{attachment_pages, attachments};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

pub use kinds::Kind;
pub use store::FileStore;

crate::vocabulary! {
    /// What an attachment belongs to: a proposal (a draft's files), a reply, a session, a source
    /// document (跟踪材料), or a reported actual (the evidence behind the figure).
    pub enum OwnerKind {
        Proposal = "proposal" => "建议",
        Response = "response" => "答复",
        Session = "session" => "协商活动",
        Document = "document" => "跟踪材料",
        Report = "report" => "完成情况报告",
    }
}

/// The download path of a stored file under its name.
pub fn file_url(sha256: &str, name: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("/files/{sha256}/{encoded}")
}

/// The name a thumbnail is served under.
pub fn thumbnail_name(name: &str) -> String {
    format!("{name}.thumbnail.png")
}

/// Attachments of any of `owners`.
pub fn owned_by(owners: &[(OwnerKind, i32)]) -> Condition {
    crate::db::any_kind_and_id(
        owners,
        attachments::Column::OwnerKind,
        attachments::Column::OwnerId,
        OwnerKind::as_str,
    )
}

/// The reported actuals of each proposal's commitments: proposal id → report ids.
pub async fn reports_of_proposals<C: ConnectionTrait>(
    db: &C,
    proposal_ids: &[i32],
) -> Result<HashMap<i32, Vec<i32>>, sea_orm::DbErr> {
    use entity::{commitment_reports, commitments};
    let mut out: HashMap<i32, Vec<i32>> = HashMap::new();
    if proposal_ids.is_empty() {
        return Ok(out);
    }
    let rows = commitment_reports::Entity::find()
        .find_also_related(commitments::Entity)
        .filter(commitments::Column::ProposalId.is_in(proposal_ids.iter().copied()))
        .all(db)
        .await?;
    for (report, commitment) in rows {
        if let Some(p) = commitment.and_then(|c| c.proposal_id) {
            out.entry(p).or_default().push(report.id);
        }
    }
    Ok(out)
}

/// One page of text from an attachment.
#[derive(Debug, Clone)]
pub struct PageText {
    pub attachment_id: i32,
    pub name: String,
    pub page: i32,
    pub text: String,
}

/// The extracted text of the attachments of `owners`, by owner, in upload and page order. The
/// caller decides which owners are public.
pub async fn texts_of<C: ConnectionTrait>(
    db: &C,
    owners: &[(OwnerKind, i32)],
) -> Result<HashMap<(OwnerKind, i32), Vec<PageText>>, sea_orm::DbErr> {
    let mut out: HashMap<(OwnerKind, i32), Vec<PageText>> = HashMap::new();
    if owners.is_empty() {
        return Ok(out);
    }
    let rows = attachments::Entity::find()
        .filter(owned_by(owners))
        .order_by_asc(attachments::Column::Id)
        .find_with_related(attachment_pages::Entity)
        .all(db)
        .await?;
    for (file, mut pages) in rows {
        let Some(kind) = OwnerKind::parse(&file.owner_kind) else {
            continue;
        };
        pages.sort_by_key(|p| p.page);
        out.entry((kind, file.owner_id))
            .or_default()
            .extend(pages.into_iter().map(|p| PageText {
                attachment_id: file.id,
                name: file.name.clone(),
                page: p.page,
                text: p.text,
            }));
    }
    Ok(out)
}

/// Where in the attachments of `owners` the text `needle` first occurs: (file name, page,
/// digest).
/// The needle is matched literally (its `%` and `_` escaped), never as a pattern.
/// The first file page of an owner that holds the searched text.
pub struct FoundIn {
    pub name: String,
    pub page: i32,
    /// None for a withheld file (its original is not public).
    pub url: Option<String>,
}

pub async fn found_in<C: ConnectionTrait>(
    db: &C,
    owners: &[(OwnerKind, i32)],
    needle: &str,
) -> Result<HashMap<(OwnerKind, i32), FoundIn>, sea_orm::DbErr> {
    let needle = needle.trim();
    let mut found = HashMap::new();
    if needle.is_empty() || owners.is_empty() {
        return Ok(found);
    }
    let rows = attachment_pages::Entity::find()
        .find_also_related(attachments::Entity)
        .filter(owned_by(owners))
        .filter(attachment_pages::Column::Text.like(crate::db::contains_literal(needle)))
        .order_by_asc(attachments::Column::Id)
        .order_by_asc(attachment_pages::Column::Page)
        .all(db)
        .await?;
    for (page, file) in rows {
        let Some(file) = file else { continue };
        // LIKE folds ASCII case on SQLite; the hit must hold the text as typed.
        if !page.text.contains(needle) {
            continue;
        }
        if let Some(kind) = OwnerKind::parse(&file.owner_kind) {
            found.entry((kind, file.owner_id)).or_insert(FoundIn {
                url: (!file.withheld).then(|| file_url(&file.sha256, &file.name)),
                name: file.name,
                page: page.page,
            });
        }
    }
    Ok(found)
}
