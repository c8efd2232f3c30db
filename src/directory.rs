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
