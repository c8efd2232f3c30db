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
/// without a query; it is loaded before the server answers and reloaded by the indexer's loop
/// (and at once after an import), so a document imported on another instance shows by name
/// within [`SOURCES_REFRESH`]; until then its citation shows the file name.
#[derive(Default)]
pub struct SourceDocuments(std::sync::RwLock<std::sync::Arc<HashMap<String, SourceDocument>>>);

pub const SOURCES_REFRESH: std::time::Duration = std::time::Duration::from_secs(30);

impl SourceDocuments {
    pub async fn reload<C: ConnectionTrait>(&self, db: &C) -> AppResult<()> {
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
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(map);
        Ok(())
    }

    pub fn get(&self, file: &str) -> Option<SourceDocument> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(file)
            .cloned()
    }
}
