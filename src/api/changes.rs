//! `/api/v1/changes`: the public change log (`crate::changes`) for mirrors. A mirror takes the
//! cursor (`latest`) before it downloads the archive export, then asks for the changes after it
//! and reads again what changed: `created` and `updated` items at their `url`, `deleted` ones
//! (no longer public) it drops.
use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, FixedOffset};
use entity::{documents, proposals, sessions};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::search::documents::{DOCUMENT, PROPOSAL, SESSION};
use crate::visibility::{public_documents, public_sessions};
use crate::web::query::Params;

const DEFAULT_LIMIT: u64 = 500;
const MAX_LIMIT: u64 = 5000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The cursor from a previous answer (`next_since`), or 0 for the whole log.
    #[param(minimum = 0)]
    pub since: Option<i64>,
    /// Log rows to read, 1 to 5000 (default 500).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeItem {
    pub seq: i64,
    /// proposal, session or document.
    pub kind: String,
    /// created (first logged after `since`), updated, or deleted (no longer public).
    pub change: String,
    pub changed_at: DateTime<FixedOffset>,
    /// The item's key in the API: a proposal's code, a session's number, a document's id.
    pub key: String,
    /// Where to read it now; absent when deleted.
    pub url: Option<String>,
}

/// Changes after a cursor. A cursor list, so no `total` or `page`: follow `next_since` while
/// `more` is true.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    pub items: Vec<ChangeItem>,
    pub since: i64,
    pub next_since: i64,
    pub more: bool,
}

#[utoipa::path(get, path = "/api/v1/changes", tag = "archive", operation_id = "list_changes",
    summary = "公开内容的变更记录(供镜像增量同步)", params(ChangesQuery),
    responses((status = 200, description = "Each changed item once, in the order of its latest change", body = ChangePage),
        (status = 400, body = super::schema::Problem, content_type = "application/problem+json")))]
pub async fn changes(
    State(state): State<AppState>,
    Params(query): Params<ChangesQuery>,
) -> AppResult<Json<ChangePage>> {
    let since = query.since.unwrap_or(0);
    if since < 0 {
        return Err(AppError::bad_request("参数 since 不能为负数。"));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::bad_request(format!(
            "参数 limit 应在 1 到 {MAX_LIMIT} 之间。"
        )));
    }
    let page = crate::changes::after(&state.db, since, limit).await?;
    let keys = Keys::load(&state.db, &page.items).await?;
    let items = page
        .items
        .into_iter()
        .filter_map(|c| {
            let (key, public) = keys.of(&c.kind, c.entity_id)?;
            // Never public since the cursor: nothing the mirror holds or should hold.
            if !public && c.first_seen {
                return None;
            }
            let url = public.then(|| match c.kind.as_str() {
                PROPOSAL => format!("/api/v1/proposals/{key}"),
                SESSION => format!("/api/v1/sessions/{key}"),
                _ => format!("/api/v1/documents/{key}"),
            });
            let change = match (public, c.first_seen) {
                (false, _) => "deleted",
                (true, true) => "created",
                (true, false) => "updated",
            };
            Some(ChangeItem {
                seq: c.seq,
                kind: c.kind,
                change: change.to_owned(),
                changed_at: c.changed_at,
                key,
                url,
            })
        })
        .collect();
    Ok(Json(ChangePage {
        items,
        since,
        next_since: page.cursor,
        more: page.more,
    }))
}

/// The current key of each changed item and whether it is public now.
#[derive(Default)]
struct Keys {
    by_item: HashMap<(&'static str, i32), (String, bool)>,
}

impl Keys {
    async fn load(
        db: &DatabaseConnection,
        items: &[crate::changes::Changed],
    ) -> Result<Self, sea_orm::DbErr> {
        let ids = |kind: &str| -> Vec<i32> {
            items
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.entity_id)
                .collect()
        };
        let mut keys = Self::default();
        let all: Vec<(i32, String)> = proposals::Entity::find()
            .select_only()
            .columns([proposals::Column::Id, proposals::Column::Code])
            .filter(proposals::Column::Id.is_in(ids(PROPOSAL)))
            .into_tuple()
            .all(db)
            .await?;
        let public = crate::visibility::public_proposal_ids(db, Some(ids(PROPOSAL))).await?;
        for (id, code) in all {
            keys.by_item
                .insert((PROPOSAL, id), (code, public.contains(&id)));
        }
        let all: Vec<(i32, i32)> = sessions::Entity::find()
            .select_only()
            .columns([sessions::Column::Id, sessions::Column::Number])
            .filter(sessions::Column::Id.is_in(ids(SESSION)))
            .into_tuple()
            .all(db)
            .await?;
        let public: HashSet<i32> = sessions::Entity::find()
            .select_only()
            .column(sessions::Column::Id)
            .filter(sessions::Column::Id.is_in(ids(SESSION)))
            .filter(public_sessions())
            .into_tuple::<i32>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for (id, number) in all {
            keys.by_item
                .insert((SESSION, id), (number.to_string(), public.contains(&id)));
        }
        let public: HashSet<i32> = documents::Entity::find()
            .select_only()
            .column(documents::Column::Id)
            .filter(documents::Column::Id.is_in(ids(DOCUMENT)))
            .filter(public_documents())
            .into_tuple::<i32>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        for id in ids(DOCUMENT) {
            keys.by_item
                .insert((DOCUMENT, id), (id.to_string(), public.contains(&id)));
        }
        Ok(keys)
    }

    /// `None` for an item whose row is gone and whose key is no longer known (not logged).
    fn of(&self, kind: &str, id: i32) -> Option<(String, bool)> {
        let kind = match kind {
            PROPOSAL => PROPOSAL,
            SESSION => SESSION,
            DOCUMENT => DOCUMENT,
            _ => return None,
        };
        self.by_item.get(&(kind, id)).cloned()
    }
}
