//! The append-only timeline of a proposal: who did what, when (as precisely as known), why.
use chrono::{DateTime, Utc};
use entity::timeline_events;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::time::Precision;
use crate::workflow::{ProposalStatus, TimelineAction};

/// A new event to append; `append` is the only writer of timeline rows.
pub struct NewEvent<'a> {
    pub proposal_id: i32,
    pub occurred_at: DateTime<Utc>,
    pub precision: Precision,
    pub actor_user_id: Option<i32>,
    pub actor_label: &'a str,
    pub action: TimelineAction,
    pub from_status: Option<ProposalStatus>,
    pub to_status: Option<ProposalStatus>,
    pub note: Option<String>,
    pub public: bool,
    pub source_file: Option<String>,
    pub source_quote: Option<String>,
}

pub async fn append<C: ConnectionTrait>(db: &C, event: NewEvent<'_>) -> Result<(), sea_orm::DbErr> {
    timeline_events::Entity::insert(timeline_events::ActiveModel {
        proposal_id: Set(event.proposal_id),
        occurred_at: Set(event.occurred_at.fixed_offset()),
        precision: Set(event.precision.as_str().to_owned()),
        actor_user_id: Set(event.actor_user_id),
        actor_label: Set(event.actor_label.to_owned()),
        action: Set(event.action.as_str().to_owned()),
        from_status: Set(event.from_status.map(|s| s.as_str().to_owned())),
        to_status: Set(event.to_status.map(|s| s.as_str().to_owned())),
        note: Set(event.note),
        public: Set(event.public),
        created_at: Set(Utc::now().fixed_offset()),
        source_file: Set(event.source_file),
        source_quote: Set(event.source_quote),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct EventView {
    pub occurred_at: String,
    pub precision: String,
    pub actor_label: String,
    pub action: String,
    pub action_label: &'static str,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub note: Option<String>,
    pub source_file: Option<String>,
    pub source_quote: Option<String>,
}

/// The events of one proposal in time order; internal ones only when `include_internal`.
pub async fn events_for<C: ConnectionTrait>(
    db: &C,
    proposal_id: i32,
    include_internal: bool,
) -> Result<Vec<EventView>, sea_orm::DbErr> {
    let mut query =
        timeline_events::Entity::find().filter(timeline_events::Column::ProposalId.eq(proposal_id));
    if !include_internal {
        query = query.filter(timeline_events::Column::Public.eq(true));
    }
    let rows = query
        .order_by_asc(timeline_events::Column::OccurredAt)
        .order_by_asc(timeline_events::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| EventView {
            occurred_at: e.occurred_at.to_rfc3339(),
            action_label: TimelineAction::parse(&e.action).map_or("其他", TimelineAction::label),
            precision: e.precision,
            actor_label: e.actor_label,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            note: e.note,
            source_file: e.source_file,
            source_quote: e.source_quote,
        })
        .collect())
}
