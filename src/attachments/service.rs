//! Who may attach files to what, who may see them, and writing them: the file is stored (and
//! synced) before the row that names it commits, all rows of one upload in one transaction.
use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, Utc};
use entity::{
    assignments, attachments, commitment_reports, commitments, documents, proposals,
    response_proposals, responses, sessions,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::accounts::policy::{self, Action, Object};
use crate::accounts::Actor;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::files::{file_url, kinds, thumbnail_name, FileStore, Kind, OwnerKind};
use crate::visibility::{public_proposals, public_sessions};
use crate::workflow::{AssignmentRole, AssignmentState, ProposalStatus};

crate::vocabulary! {
    /// Where the extraction of an attachment's text stands.
    pub enum Extraction {
        Pending = "pending" => "正在提取文字",
        Done = "done" => "文字已收入检索",
        Failed = "failed" => "文字提取失败",
        Skipped = "none" => "无需提取文字",
    }
}

/// What files are attached to, once the actor may attach to it.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: OwnerKind,
    pub id: i32,
    /// Where the upload form is, to go back to.
    pub return_to: String,
}

/// The target (`kind`, `id`) if this actor may add files to it (and remove them): the author
/// to a draft, an agency's staff to their agency's replies, the secretariat to sessions.
pub async fn may_attach<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    kind: OwnerKind,
    id: i32,
) -> AppResult<Target> {
    let return_to = match kind {
        OwnerKind::Proposal => {
            let p = proposals::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            let relation = policy::relation(Some(actor), p.author_id, &[]);
            // An unknown status is no draft: refused, never taken as editable.
            let status = ProposalStatus::parse(&p.status).ok_or(AppError::Forbidden)?;
            if !policy::may_edit_draft(relation, status) {
                return Err(AppError::Forbidden);
            }
            format!("/work/proposals/{id}")
        }
        OwnerKind::Response => {
            let r = responses::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            policy::require_on(actor, Action::AttachEvidence, Object::OfAgency(r.agency_id))?;
            let answered = response_proposals::Entity::find()
                .filter(response_proposals::Column::ResponseId.eq(id))
                .order_by_asc(response_proposals::Column::ProposalId)
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            format!("/work/proposals/{}#response-{id}", answered.proposal_id)
        }
        OwnerKind::Session => {
            let s = sessions::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            policy::require(actor, Action::RunSessions)?;
            format!("/admin/sessions/{}", s.number)
        }
        OwnerKind::Document => {
            documents::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            // The source documents are the archive's: the secretariat keeps them.
            policy::require(actor, Action::ImportArchive)?;
            format!("/admin/documents#document-{id}")
        }
        OwnerKind::Report => {
            let (report, commitment) = report_and_commitment(db, id).await?;
            // Whoever may report the figure may attach the evidence behind it.
            policy::require_on(
                actor,
                Action::ReportActuals,
                Object::OfAgency(commitment.agency_id),
            )?;
            match commitment.proposal_id {
                Some(p) => format!("/work/proposals/{p}#report-{}", report.commitment_id),
                None => "/work/actuals".to_owned(),
            }
        }
    };
    Ok(Target {
        kind,
        id,
        return_to,
    })
}

async fn report_and_commitment<C: ConnectionTrait>(
    db: &C,
    id: i32,
) -> AppResult<(commitment_reports::Model, commitments::Model)> {
    let report = commitment_reports::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let commitment = commitments::Entity::find_by_id(report.commitment_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((report, commitment))
}

/// Whether the public sees what the files belong to (then it sees the files).
pub async fn owner_is_public<C: ConnectionTrait>(
    db: &C,
    kind: OwnerKind,
    id: i32,
) -> AppResult<bool> {
    Ok(match kind {
        OwnerKind::Proposal => proposals::Entity::find_by_id(id)
            .filter(public_proposals())
            .one(db)
            .await?
            .is_some(),
        OwnerKind::Response => {
            responses::Entity::find_by_id(id)
                .filter(responses::Column::Published.eq(true))
                .one(db)
                .await?
                .is_some()
                && proposals::Entity::find()
                    .inner_join(response_proposals::Entity)
                    .filter(response_proposals::Column::ResponseId.eq(id))
                    .filter(public_proposals())
                    .one(db)
                    .await?
                    .is_some()
        }
        OwnerKind::Session => sessions::Entity::find_by_id(id)
            .filter(public_sessions())
            .one(db)
            .await?
            .is_some(),
        OwnerKind::Document => documents::Entity::find_by_id(id)
            .filter(crate::visibility::public_documents())
            .one(db)
            .await?
            .is_some(),
        // A reported actual is public where its commitment is: with its public proposal, or
        // always for a commitment of no proposal (from a policy document).
        OwnerKind::Report => match report_and_commitment(db, id).await {
            Ok((_, commitment)) => match (commitment.proposal_id, commitment.document_id) {
                (Some(p), _) => proposals::Entity::find_by_id(p)
                    .filter(public_proposals())
                    .one(db)
                    .await?
                    .is_some(),
                (None, Some(d)) => documents::Entity::find_by_id(d)
                    .filter(crate::visibility::public_documents())
                    .one(db)
                    .await?
                    .is_some(),
                (None, None) => true,
            },
            Err(AppError::NotFound) => false,
            Err(other) => return Err(other),
        },
    })
}

/// Whether this viewer may see a proposal's working page (and so its files).
async fn sees_proposal<C: ConnectionTrait>(db: &C, actor: &Actor, id: i32) -> AppResult<bool> {
    let Some(p) = proposals::Entity::find_by_id(id).one(db).await? else {
        return Ok(false);
    };
    let active: Vec<(i32, AssignmentRole)> = assignments::Entity::find()
        .filter(assignments::Column::ProposalId.eq(id))
        .filter(assignments::Column::State.eq(AssignmentState::Active.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|a| AssignmentRole::parse(&a.role).map(|r| (a.agency_id, r)))
        .collect();
    let relation = policy::relation(Some(actor), p.author_id, &active);
    let Some(status) = ProposalStatus::parse(&p.status) else {
        return Ok(false);
    };
    Ok(policy::can_see(relation, status, p.published))
}

/// The one rule for a file: seen by whoever sees what it belongs to — the public when that is
/// public, otherwise those who see its working page (the same rule as the page).
pub async fn may_view<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    file: &attachments::Model,
) -> AppResult<bool> {
    let Some(kind) = OwnerKind::parse(&file.owner_kind) else {
        return Ok(false);
    };
    if file.withheld && !policy::may_open_withheld(actor, file.uploaded_by_user_id) {
        return Ok(false);
    }
    if owner_is_public(db, kind, file.owner_id).await? {
        return Ok(true);
    }
    let Some(actor) = actor else {
        return Ok(false);
    };
    Ok(match kind {
        OwnerKind::Proposal => sees_proposal(db, actor, file.owner_id).await?,
        OwnerKind::Response => {
            let Some(r) = responses::Entity::find_by_id(file.owner_id).one(db).await? else {
                return Ok(false);
            };
            if policy::allows(actor, Action::AttachEvidence, Object::OfAgency(r.agency_id)) {
                return Ok(true);
            }
            let answered: Vec<i32> = response_proposals::Entity::find()
                .filter(response_proposals::Column::ResponseId.eq(r.id))
                .all(db)
                .await?
                .into_iter()
                .map(|l| l.proposal_id)
                .collect();
            let mut seen = false;
            for id in answered {
                seen |= sees_proposal(db, actor, id).await?;
            }
            seen
        }
        OwnerKind::Session => policy::allows(actor, Action::RunSessions, Object::Any),
        OwnerKind::Document => policy::allows(actor, Action::ImportArchive, Object::Any),
        OwnerKind::Report => {
            let (_, commitment) = report_and_commitment(db, file.owner_id).await?;
            policy::allows(
                actor,
                Action::ReportActuals,
                Object::OfAgency(commitment.agency_id),
            ) || match commitment.proposal_id {
                Some(p) => sees_proposal(db, actor, p).await?,
                None => false,
            }
        }
    })
}

/// One uploaded file, as read from the request (bounded by the route while streaming).
pub struct Upload {
    pub name: String,
    pub bytes: axum::body::Bytes,
}

/// Reads a multipart upload: with a form's `expected_csrf`, the token must come first (nothing
/// else is read before it is checked; the API's bearer token needs none); then at most
/// `max_files_per_item` files of at most `max_file_bytes` each — a 413 as soon as a limit is
/// passed, before the rest of the body is read.
pub async fn read_uploads(
    config: &Config,
    expected_csrf: Option<&str>,
    multipart: axum::extract::Multipart,
) -> AppResult<Vec<Upload>> {
    Ok(read_multipart(config, expected_csrf, multipart)
        .await?
        .files)
}

/// A multipart request as the API takes it: its `json` part (the body the endpoint takes as
/// JSON) and its files.
pub struct Uploaded {
    pub json: Option<String>,
    pub files: Vec<Upload>,
}

/// Longest `json` part read.
const MAX_JSON_PART_BYTES: usize = 256 * 1024;

/// [`read_uploads`], keeping a `json` part too (at most 256 KB).
pub async fn read_multipart(
    config: &Config,
    expected_csrf: Option<&str>,
    mut multipart: axum::extract::Multipart,
) -> AppResult<Uploaded> {
    let mut json: Option<String> = None;
    let unreadable = |_| AppError::bad_request("上传的内容无法读取。");
    let mut uploads = Vec::new();
    let mut csrf_checked = expected_csrf.is_none();
    // Other parts are skipped (read and dropped), but not without end.
    let mut others = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("csrf") if !csrf_checked => {
                let mut given = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    given.extend_from_slice(&chunk);
                    if given.len() > 256 {
                        return Err(AppError::Csrf);
                    }
                }
                let given = String::from_utf8(given).map_err(|_| AppError::Csrf)?;
                crate::accounts::extract::check_csrf(expected_csrf.unwrap_or_default(), &given)?;
                csrf_checked = true;
            }
            _ if !csrf_checked => return Err(AppError::Csrf),
            Some("json") if json.is_none() => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    if bytes.len() + chunk.len() > MAX_JSON_PART_BYTES {
                        return Err(AppError::PayloadTooLarge);
                    }
                    bytes.extend_from_slice(&chunk);
                }
                json = Some(
                    String::from_utf8(bytes)
                        .map_err(|_| AppError::bad_request("json 部分须为 UTF-8 文本。"))?,
                );
            }
            Some("file") if uploads.len() >= config.max_files_per_item => {
                // One file more than an item may hold: refused before it is read.
                return Err(AppError::PayloadTooLarge);
            }
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    if bytes.len() + chunk.len() > config.max_file_bytes {
                        return Err(AppError::PayloadTooLarge);
                    }
                    bytes.extend_from_slice(&chunk);
                }
                // A form submitted without choosing a file sends one empty part.
                if name.is_empty() && bytes.is_empty() {
                    continue;
                }
                uploads.push(Upload {
                    name,
                    bytes: bytes.into(),
                });
            }
            _ => {
                others += 1;
                if others > 16 {
                    return Err(AppError::bad_request("上传的内容中有过多无关字段。"));
                }
            }
        }
    }
    if !csrf_checked {
        return Err(AppError::Csrf);
    }
    Ok(Uploaded {
        json,
        files: uploads,
    })
}

/// A file checked and stored, waiting for its row.
#[derive(Debug, Clone)]
pub struct Stored {
    pub name: String,
    pub kind: Kind,
    pub size: i64,
    pub sha256: String,
}

/// Checks every uploaded file (type from its bytes, size) and refuses the upload with the first
/// bad file's name; then stores them all (durably, before any row names them).
pub async fn prepare(
    config: &Config,
    uploads: Vec<Upload>,
) -> AppResult<Result<Vec<Stored>, String>> {
    let mut checked = Vec::new();
    for upload in uploads {
        let name = kinds::clean_name(&upload.name);
        if upload.bytes.is_empty() {
            return Ok(Err(format!("“{name}”是空文件。")));
        }
        if upload.bytes.len() > config.max_file_bytes {
            return Ok(Err(format!(
                "“{name}”超过 {} MB 的上限。",
                config.max_file_bytes / (1024 * 1024)
            )));
        }
        // Sniffing unpacks office documents (up to 200 MB): off the async threads.
        let (bytes, sniff_name) = (upload.bytes.clone(), name.clone());
        let sniffed = tokio::task::spawn_blocking(move || kinds::sniff(&bytes, &sniff_name))
            .await
            .map_err(anyhow::Error::from)?;
        match sniffed {
            Ok(kind) => checked.push((name, kind, upload.bytes)),
            Err(message) => return Ok(Err(format!("“{name}”:{message}"))),
        }
    }
    let store = FileStore::new(&config.files_dir);
    let mut stored = Vec::new();
    for (name, kind, bytes) in checked {
        let store = store.clone();
        let size = bytes.len() as i64;
        let sha256 = tokio::task::spawn_blocking(move || store.put(&bytes))
            .await
            .map_err(anyhow::Error::from)?
            .map_err(|e| AppError::Unavailable(format!("附件无法保存:{e}")))?;
        stored.push(Stored {
            name,
            kind,
            size,
            sha256,
        });
    }
    Ok(Ok(stored))
}

/// Writes the rows of stored files for the target inside the caller's transaction, within the
/// target's limit; returns their ids, or why not (nothing written then).
pub async fn insert_rows<C: ConnectionTrait>(
    txn: &C,
    config: &Config,
    actor: &Actor,
    target: &Target,
    stored: Vec<Stored>,
    ip: &str,
) -> AppResult<Result<Vec<i32>, String>> {
    let existing = attachments::Entity::find()
        .filter(attachments::Column::OwnerKind.eq(target.kind.as_str()))
        .filter(attachments::Column::OwnerId.eq(target.id))
        .count(txn)
        .await? as usize;
    if existing + stored.len() > config.max_files_per_item {
        return Ok(Err(format!(
            "每项最多 {} 个附件(已有 {existing} 个)。",
            config.max_files_per_item
        )));
    }
    let now = Utc::now().fixed_offset();
    let mut ids = Vec::with_capacity(stored.len());
    let public_name = |name: &str| crate::privacy::redact(name, &crate::privacy::detect(name, &[]));
    // The audit log is no place for a private person's details either.
    let names: Vec<String> = stored.iter().map(|f| public_name(&f.name)).collect();
    for file in stored {
        let extraction = if file.kind.has_text() || file.kind.is_image() {
            Extraction::Pending
        } else {
            Extraction::Skipped
        };
        // A file named after a private person's details is named without them, and its
        // content most likely holds them too.
        let name = public_name(&file.name);
        let withheld = name != file.name;
        let inserted = attachments::Entity::insert(attachments::ActiveModel {
            sha256: Set(file.sha256),
            name: Set(name),
            withheld: Set(withheld),
            kind: Set(file.kind.as_str().to_owned()),
            size: Set(file.size),
            owner_kind: Set(target.kind.as_str().to_owned()),
            owner_id: Set(target.id),
            uploaded_by_user_id: Set(Some(actor.user_id)),
            created_at: Set(now),
            extraction: Set(extraction.as_str().to_owned()),
            ..Default::default()
        })
        .exec(txn)
        .await?;
        ids.push(inserted.last_insert_id);
    }
    crate::audit::record(
        txn,
        Some(actor),
        "attachment_add",
        Some(format!("{}:{}", target.kind, target.id)),
        Some(names.join("、")),
        Some(ip),
    )
    .await?;
    if owner_is_public(txn, target.kind, target.id).await? {
        crate::revision::bump(txn).await?;
    }
    Ok(Ok(ids))
}

/// Adds the uploaded files to the target: every file is checked first (type from its bytes,
/// size, the target's limit) and refused with its name, then stored, then all rows are written
/// in one transaction — or nothing. The text is extracted later by the worker.
pub async fn add(
    db: &DatabaseConnection,
    config: &Config,
    actor: &Actor,
    target: &Target,
    uploads: Vec<Upload>,
    ip: &str,
) -> AppResult<Result<Vec<i32>, String>> {
    if uploads.is_empty() {
        return Ok(Err("请选择要上传的文件。".to_owned()));
    }
    let stored = match prepare(config, uploads).await? {
        Ok(stored) => stored,
        Err(message) => return Ok(Err(message)),
    };
    let txn = crate::db::begin_write(db).await?;
    // Asked again inside the transaction: the draft may have been submitted while the files
    // streamed in.
    may_attach(&txn, actor, target.kind, target.id).await?;
    let ids = match insert_rows(&txn, config, actor, target, stored, ip).await? {
        Ok(ids) => ids,
        Err(message) => return Ok(Err(message)),
    };
    txn.commit().await?;
    Ok(Ok(ids))
}

/// Removes a file from what it belongs to while that is not public (a draft's files until it is
/// submitted). A published file stays in the record, unless the secretariat takes it down (a
/// file that should never have been published: it is audited as a takedown). The stored content
/// goes with `files gc` once nothing names it.
pub async fn remove(
    db: &DatabaseConnection,
    actor: &Actor,
    id: i32,
    ip: &str,
) -> AppResult<String> {
    let txn = crate::db::begin_write(db).await?;
    let file = attachments::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let kind = OwnerKind::parse(&file.owner_kind).ok_or(AppError::NotFound)?;
    let public = owner_is_public(&txn, kind, file.owner_id).await?;
    let takedown = public && policy::allows(actor, Action::ReviewPersonalInfo, Object::Any);
    let back = if takedown {
        "/me?notice=detached".to_owned()
    } else {
        may_attach(&txn, actor, kind, file.owner_id)
            .await?
            .return_to
    };
    if public && !takedown {
        return Err(AppError::Conflict(
            "已公开的附件留在公开记录中,不能删除;如须撤下(如含个人信息),请联系秘书处。".to_owned(),
        ));
    }
    entity::attachment_pages::Entity::delete_many()
        .filter(entity::attachment_pages::Column::AttachmentId.eq(id))
        .exec(&txn)
        .await?;
    attachments::Entity::delete_by_id(id).exec(&txn).await?;
    crate::audit::record(
        &txn,
        Some(actor),
        if takedown {
            "attachment_takedown"
        } else {
            "attachment_remove"
        },
        Some(format!("{}:{}", file.owner_kind, file.owner_id)),
        Some(file.name),
        Some(ip),
    )
    .await?;
    if public {
        crate::search::outbox::enqueue_files_owner(&txn, &file.owner_kind, file.owner_id).await?;
        crate::revision::bump(&txn).await?;
    }
    txn.commit().await?;
    Ok(back)
}

/// An attachment as the pages list it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: i32,
    pub name: String,
    pub kind: Kind,
    pub kind_label: &'static str,
    pub size: i64,
    pub size_label: String,
    pub created_at: DateTime<FixedOffset>,
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub page_count: Option<i32>,
    pub extraction: Option<Extraction>,
    pub extraction_label: &'static str,
    /// The original holds personal information (see `may_view`): the list names it without a
    /// link, whoever looks (those who may open it do so from the review page).
    pub withheld: bool,
}

/// 1.2 MB, 340 KB, 12 B.
fn size_label(size: i64) -> String {
    match size {
        s if s >= 1024 * 1024 => format!("{:.1} MB", s as f64 / (1024.0 * 1024.0)),
        s if s >= 1024 => format!("{} KB", s / 1024),
        s => format!("{s} B"),
    }
}

/// The files of each owner ("kind:id" → files, oldest first). The caller decides visibility.
pub async fn listed<C: ConnectionTrait>(
    db: &C,
    owners: &[(OwnerKind, i32)],
) -> AppResult<HashMap<String, Vec<Listed>>> {
    let mut out: HashMap<String, Vec<Listed>> = HashMap::new();
    if owners.is_empty() {
        return Ok(out);
    }
    let rows = attachments::Entity::find()
        .filter(crate::files::owned_by(owners))
        .order_by_asc(attachments::Column::Id)
        .all(db)
        .await?;
    for a in rows {
        let Some(kind) = Kind::parse(&a.kind) else {
            continue;
        };
        let extraction = Extraction::parse(&a.extraction);
        out.entry(format!("{}:{}", a.owner_kind, a.owner_id))
            .or_default()
            .push(Listed {
                id: a.id,
                url: file_url(&a.sha256, &a.name),
                // A page's picture shows what the text hides.
                thumbnail_url: a
                    .thumbnail_sha256
                    .as_deref()
                    .filter(|_| !a.withheld)
                    .map(|t| file_url(t, &thumbnail_name(&a.name))),
                name: a.name,
                kind,
                kind_label: kind.label(),
                size: a.size,
                size_label: size_label(a.size),
                created_at: a.created_at,
                page_count: a.page_count,
                extraction,
                extraction_label: extraction.map_or("", Extraction::label),
                withheld: a.withheld,
            });
    }
    Ok(out)
}

/// Removes stored files no attachment (nor thumbnail) names and older than `grace`; returns how
/// many and their bytes. The names are read first: a row committed after that read names a file
/// younger than the grace period, which is kept.
pub async fn collect_garbage(
    db: &DatabaseConnection,
    store: &FileStore,
    grace: std::time::Duration,
    dry_run: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<(usize, u64)> {
    let rows = attachments::Entity::find().all(db).await?;
    let referenced: std::collections::HashSet<String> = rows
        .into_iter()
        .flat_map(|a| std::iter::once(a.sha256).chain(a.thumbnail_sha256))
        .collect();
    let store = store.clone();
    let orphans = tokio::task::spawn_blocking(move || store.orphans(&referenced, grace)).await??;
    let total = orphans.len();
    let (mut removed, mut bytes) = (0, 0);
    for (i, path) in orphans.iter().enumerate() {
        progress(i + 1, total);
        // A row may have come to name it since the names were read: look again, just before.
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let named = attachments::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(attachments::Column::Sha256.eq(name))
                    .add(attachments::Column::ThumbnailSha256.eq(name)),
            )
            .one(db)
            .await?
            .is_some();
        if named {
            continue;
        }
        bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        removed += 1;
        if !dry_run {
            std::fs::remove_file(path)?;
        }
    }
    Ok((removed, bytes))
}
