//! The attachments worker: extracts each new file's text (and an image's thumbnail) off the
//! request path, keeps the pages, and queues what the file belongs to for reindexing, so a
//! phrase inside an attached reply finds its proposal on either search backend. A file that
//! cannot be read is marked failed with the reason; nothing waits on it.
use std::time::{Duration, Instant};

use chrono::Utc;
use entity::{attachment_pages, attachments, response_proposals};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use tokio::sync::watch;

use super::service::Extraction;
use crate::config::Config;
use crate::files::{extract, thumbnail, FileStore, Kind, OwnerKind};

/// How long a claimed file stays with the worker that claimed it (a killed instance's file is
/// taken up again after this).
const LEASE: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_secs(1);
/// Longest an extraction may take; a file that takes longer is marked failed (the blocking
/// thread is left to finish on its own).
const EXTRACTION_LIMIT: Duration = Duration::from_secs(120);
/// A file taken up this many times without finishing (its worker died on it, say) is failed
/// rather than taken up again.
const MAX_ATTEMPTS: i32 = 3;

/// What one pass did: files processed and pages extracted, and the time spent extracting.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Pass {
    pub files: usize,
    pub pages: usize,
    pub extracting: Duration,
}

/// Claims the oldest pending file not held by another worker: its lease and one more attempt.
/// Returns the row as claimed (`leased_until` is the claim's own, checked when saving).
async fn claim(db: &DatabaseConnection) -> anyhow::Result<Option<attachments::Model>> {
    let now = Utc::now().fixed_offset();
    let free = || {
        Condition::any()
            .add(attachments::Column::LeasedUntil.is_null())
            .add(attachments::Column::LeasedUntil.lt(now))
    };
    let Some(candidate) = attachments::Entity::find()
        .filter(attachments::Column::Extraction.eq(Extraction::Pending.as_str()))
        .filter(free())
        .order_by_asc(attachments::Column::Id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let until = now + chrono::Duration::from_std(LEASE)?;
    let claimed = attachments::Entity::update_many()
        .col_expr(attachments::Column::LeasedUntil, Expr::value(until))
        .col_expr(
            attachments::Column::Attempts,
            Expr::col(attachments::Column::Attempts).add(1),
        )
        .filter(attachments::Column::Id.eq(candidate.id))
        .filter(attachments::Column::Extraction.eq(Extraction::Pending.as_str()))
        .filter(free())
        .exec(db)
        .await?;
    Ok((claimed.rows_affected == 1).then(|| attachments::Model {
        leased_until: Some(until),
        attempts: candidate.attempts + 1,
        ..candidate
    }))
}

/// Processes pending files until none is left; returns what it did.
pub async fn run_once(db: &DatabaseConnection, config: &Config) -> anyhow::Result<Pass> {
    let store = FileStore::new(&config.files_dir);
    let mut pass = Pass::default();
    while let Some(file) = claim(db).await? {
        let started = Instant::now();
        let (pages, thumb, error) = if file.attempts > MAX_ATTEMPTS {
            (
                Vec::new(),
                None,
                Some("多次提取未能完成(文件可能损坏或过于复杂)".to_owned()),
            )
        } else {
            process(&store, &file).await
        };
        pass.extracting += started.elapsed();
        pass.files += 1;
        pass.pages += pages.len();
        save(db, &file, pages, thumb, error).await?;
    }
    Ok(pass)
}

/// The file's pages, its thumbnail's digest, and the reason it failed, if it did.
async fn process(
    store: &FileStore,
    file: &attachments::Model,
) -> (Vec<String>, Option<String>, Option<String>) {
    let Some(kind) = Kind::parse(&file.kind) else {
        return (Vec::new(), None, Some(format!("未知类型 {}", file.kind)));
    };
    let store = store.clone();
    let sha256 = file.sha256.clone();
    let work = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let bytes = store
            .read(&sha256)
            .map_err(|e| format!("文件无法读取:{e}"))?;
        let pages = if kind.has_text() {
            extract::pages(kind, &bytes)?
        } else {
            Vec::new()
        };
        let thumb = if kind.is_image() {
            let png = thumbnail::make(&bytes)?;
            Some(store.put(&png).map_err(|e| format!("缩略图无法保存:{e}"))?)
        } else {
            None
        };
        Ok((pages, thumb))
    });
    match tokio::time::timeout(EXTRACTION_LIMIT, work).await {
        Ok(Ok(Ok((pages, thumb)))) => (pages, thumb, None),
        Ok(Ok(Err(reason))) => (Vec::new(), None, Some(reason)),
        Ok(Err(_)) => (Vec::new(), None, Some("提取时出错".to_owned())),
        Err(_) => (
            Vec::new(),
            None,
            Some(format!("提取超过 {} 秒,已放弃", EXTRACTION_LIMIT.as_secs())),
        ),
    }
}

/// Keeps the outcome and queues the owner's search documents, in one transaction. The indexed
/// text goes through the personal-information detector and the redaction rules that reach the
/// file first: what they find is replaced by the redaction mark, as in every other published
/// text, and the file is withheld from the public.
async fn save(
    db: &DatabaseConnection,
    file: &attachments::Model,
    pages: Vec<String>,
    thumb: Option<String>,
    error: Option<String>,
) -> anyhow::Result<()> {
    let txn = crate::db::begin_write(db).await?;
    // Only the claim that still holds the file saves it (a slow extraction whose lease ran out
    // may have been taken up by another worker, which then saves instead).
    let held = attachments::Entity::update_many()
        .col_expr(
            attachments::Column::LeasedUntil,
            Expr::value(file.leased_until),
        )
        .filter(attachments::Column::Id.eq(file.id))
        .filter(attachments::Column::LeasedUntil.eq(file.leased_until))
        .exec(&txn)
        .await?;
    if held.rows_affected != 1 {
        tracing::info!(
            attachment = file.id,
            "lease lost while extracting; another worker saves it"
        );
        return Ok(());
    }
    let names = private_names(&txn, file).await?;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let hidden =
        crate::redaction::service::values_hidden_in_files_of(&txn, &file.owner_kind, file.owner_id)
            .await?;
    attachment_pages::Entity::delete_many()
        .filter(attachment_pages::Column::AttachmentId.eq(file.id))
        .exec(&txn)
        .await?;
    let count = pages.len();
    // A file whose text held anything to hide is withheld: its original still holds it.
    let mut withheld = file.withheld;
    let pages: Vec<String> = pages
        .into_iter()
        .map(|text| {
            let mut public = crate::privacy::redact(&text, &crate::privacy::detect(&text, &names));
            for value in &hidden {
                public = public.replace(value.as_str(), crate::privacy::REDACTED);
            }
            withheld |= public != text;
            public
        })
        .collect();
    if !pages.is_empty() {
        attachment_pages::Entity::insert_many(pages.into_iter().enumerate().map(|(i, text)| {
            attachment_pages::ActiveModel {
                attachment_id: Set(file.id),
                page: Set(i as i32 + 1),
                text: Set(text),
                ..Default::default()
            }
        }))
        .exec(&txn)
        .await?;
    }
    let state = match &error {
        Some(_) => Extraction::Failed,
        None if Kind::parse(&file.kind).is_some_and(Kind::has_text) => Extraction::Done,
        None => Extraction::Skipped,
    };
    if let Some(reason) = &error {
        tracing::warn!(attachment = file.id, name = %file.name, %reason, "attachment text not extracted");
    }
    attachments::Entity::update(attachments::ActiveModel {
        id: Set(file.id),
        extraction: Set(state.as_str().to_owned()),
        extraction_error: Set(error),
        page_count: Set(Some(count as i32).filter(|_| file.kind == Kind::Pdf.as_str())),
        thumbnail_sha256: Set(thumb),
        extracted_at: Set(Some(Utc::now().fixed_offset())),
        leased_until: Set(None),
        withheld: Set(withheld),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    crate::search::outbox::enqueue_files_owner(&txn, &file.owner_kind, file.owner_id).await?;
    // The pages list the file's state and thumbnail.
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// The callers' names recorded for the proposals the file belongs to (private: the indexed text
/// must not show them).
async fn private_names<C: sea_orm::ConnectionTrait>(
    db: &C,
    file: &attachments::Model,
) -> anyhow::Result<Vec<String>> {
    let proposals: Vec<i32> = match OwnerKind::parse(&file.owner_kind) {
        Some(OwnerKind::Proposal) => vec![file.owner_id],
        Some(OwnerKind::Response) => response_proposals::Entity::find()
            .filter(response_proposals::Column::ResponseId.eq(file.owner_id))
            .all(db)
            .await?
            .into_iter()
            .map(|l| l.proposal_id)
            .collect(),
        _ => Vec::new(),
    };
    if proposals.is_empty() {
        return Ok(Vec::new());
    }
    Ok(entity::callers::Entity::find()
        .filter(entity::callers::Column::ProposalId.is_in(proposals))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|c| c.name)
        .collect())
}

/// Runs until `shutdown` says so, a pass every second.
pub async fn run(
    db: DatabaseConnection,
    config: std::sync::Arc<Config>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match run_once(&db, &config).await {
            Ok(pass) if pass.files > 0 => tracing::info!(
                files = pass.files,
                pages = pass.pages,
                seconds = pass.extracting.as_secs_f64(),
                "attachments extracted"
            ),
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %format!("{err:#}"), "attachments worker failed; will retry")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
