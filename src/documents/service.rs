//! The document list and page.
use entity::{commitments, document_links, documents, proposals};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::followup::commitments::{load_views, CommitmentView};
use crate::visibility::public_proposals;

pub async fn list<C: ConnectionTrait>(db: &C) -> AppResult<Vec<documents::Model>> {
    Ok(documents::Entity::find()
        .filter(documents::Column::Published.eq(true))
        .order_by_desc(documents::Column::PublishedOn)
        .order_by_asc(documents::Column::Id)
        .all(db)
        .await?)
}

/// Every document, published or not, newest first (the secretariat's list).
pub async fn list_all<C: ConnectionTrait>(db: &C) -> AppResult<Vec<documents::Model>> {
    Ok(documents::Entity::find()
        .order_by_desc(documents::Column::PublishedOn)
        .order_by_asc(documents::Column::Id)
        .all(db)
        .await?)
}

#[derive(Serialize)]
pub struct LinkedProposal {
    pub code: String,
    pub title: String,
    pub note: String,
    pub source_quote: Option<String>,
}

#[derive(Serialize)]
pub struct DocumentPage {
    pub document: documents::Model,
    pub proposals: Vec<LinkedProposal>,
    pub commitments: Vec<CommitmentView>,
    /// The files kept with the document (the original, scans).
    pub files: Vec<crate::attachments::service::Listed>,
}

pub async fn page<C: ConnectionTrait>(db: &C, id: i32) -> AppResult<DocumentPage> {
    let document = documents::Entity::find_by_id(id)
        .filter(documents::Column::Published.eq(true))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let proposals = document_links::Entity::find()
        .filter(document_links::Column::DocumentId.eq(id))
        .find_also_related(proposals::Entity)
        .filter(public_proposals())
        .order_by_asc(proposals::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(link, p)| {
            p.map(|p| LinkedProposal {
                code: p.code,
                title: p.title,
                note: link.note,
                source_quote: link.source_quote,
            })
        })
        .collect();
    let commitment_rows = commitments::Entity::find()
        .filter(commitments::Column::DocumentId.eq(id))
        .order_by_asc(commitments::Column::Id)
        .all(db)
        .await?;
    let commitments = load_views(db, commitment_rows, crate::time::today()).await?;
    let files = crate::attachments::service::listed(
        db,
        &[(crate::files::OwnerKind::Document, document.id)],
    )
    .await?
    .remove(&format!("document:{}", document.id))
    .unwrap_or_default();
    Ok(DocumentPage {
        document,
        proposals,
        commitments,
        files,
    })
}
