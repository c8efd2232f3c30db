//! Names by id for everything that lists agencies and people beside its own rows (one query per
//! list, never one per row), and what a person is in the record. Below the capabilities: proposals,
//! responses, sessions and the pages of agencies and people all read it.
use std::collections::HashMap;

use entity::{agencies, people};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::AppResult;

/// Short names (市科技局) by id.
pub async fn agency_short_names<C: ConnectionTrait>(
    db: &C,
    ids: Vec<i32>,
) -> AppResult<HashMap<i32, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(agencies::Entity::find()
        .filter(agencies::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.short_name))
        .collect())
}

/// Names (邢占军) by id.
pub async fn person_names<C: ConnectionTrait>(
    db: &C,
    ids: Vec<i32>,
) -> AppResult<HashMap<i32, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(people::Entity::find()
        .filter(people::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect())
}

crate::vocabulary! {
    /// What a person is in the record; also a participant's role at a session.
    pub enum PersonKind {
        CommitteeMember = "committee_member" => "政协委员",
        Expert = "expert" => "专家",
        AgencyOfficial = "agency_official" => "职能部门负责人",
        Guest = "guest" => "嘉宾",
        Host = "host" => "主持人",
        Reporter = "reporter" => "记者",
    }
}

/// Session numbers (第27期) by id, among the sessions `condition` admits (the public ones for a
/// public list, all of them for the secretariat).
pub async fn session_numbers<C: ConnectionTrait>(
    db: &C,
    ids: Vec<i32>,
    condition: sea_orm::Condition,
) -> AppResult<HashMap<i32, i32>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(entity::sessions::Entity::find()
        .filter(condition)
        .filter(entity::sessions::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.number))
        .collect())
}

/// A source file's document as a citation names it ("出处:《…》,市科技局,2024年11月"), instead
/// of the file name the seed recorded.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SourceDocument {
    pub id: i32,
    pub title: String,
    pub issuer: String,
    /// As precise as the source dates it (a year, a month or a day).
    pub date: Option<String>,
    pub file: String,
}

/// The published documents by source file, for every page that cites one. Templates read it
/// without a query; [`SourceDocuments::refresh`] (before each page) reloads it when the content
/// revision moved, so a document imported anywhere is cited by name on the next page.
#[derive(Default)]
pub struct SourceDocuments(
    std::sync::RwLock<(Option<i64>, std::sync::Arc<HashMap<String, SourceDocument>>)>,
);

impl SourceDocuments {
    /// Reloads the documents when the content revision is not the one they were loaded at (one
    /// single-row read otherwise).
    pub async fn refresh<C: ConnectionTrait>(&self, db: &C) -> AppResult<()> {
        let revision = crate::revision::current(db).await?;
        if self.0.read().unwrap_or_else(|e| e.into_inner()).0 == Some(revision) {
            return Ok(());
        }
        let rows = entity::documents::Entity::find()
            .filter(crate::visibility::public_documents())
            .filter(entity::documents::Column::SourceFile.is_not_null())
            .all(db)
            .await?;
        let map = rows
            .into_iter()
            .filter_map(|d| {
                let file = d.source_file?;
                let precision = crate::time::Precision::parse(&d.date_precision)
                    .unwrap_or(crate::time::Precision::Day);
                Some((
                    file.clone(),
                    SourceDocument {
                        id: d.id,
                        title: d.title,
                        issuer: d.issuer,
                        date: d
                            .published_on
                            .map(|on| crate::time::format_date(on, precision)),
                        file,
                    },
                ))
            })
            .collect();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) =
            (Some(revision), std::sync::Arc::new(map));
        Ok(())
    }

    pub fn get(&self, file: &str) -> Option<SourceDocument> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .get(file)
            .cloned()
    }
}
