//! Work lists: a member's own proposals, an agency's inbox, the secretariat's queues. Sorted by
//! what needs attention first (due date), with overdue items flagged.
use chrono::NaiveDate;
use entity::{assignments, proposals};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use crate::error::AppResult;
use crate::workflow::{is_overdue, StatusBadge};
use crate::workflow::{AssignmentRole, AssignmentState, ProposalStatus};

#[derive(Debug, Serialize)]
pub struct WorkItem {
    pub id: i32,
    pub code: String,
    pub title: String,
    pub status: StatusBadge,
    pub due_on: Option<NaiveDate>,
    pub overdue: bool,
    pub due_soon: bool,
    pub role: Option<&'static str>,
    pub supervised: bool,
    pub paused: bool,
}

fn item(p: proposals::Model, role: Option<AssignmentRole>, today: NaiveDate) -> WorkItem {
    let status = ProposalStatus::parse(&p.status).unwrap_or(ProposalStatus::Draft);
    let paused = p.paused_on.is_some();
    let overdue = is_overdue(status, p.due_on, paused, today);
    let due_soon =
        !overdue && is_overdue(status, p.due_on, paused, today + chrono::Duration::days(7));
    WorkItem {
        id: p.id,
        code: p.code,
        title: p.title,
        status: status.into(),
        due_on: p.due_on,
        overdue,
        due_soon,
        role: role.map(AssignmentRole::label),
        supervised: p.supervised,
        paused: p.paused_on.is_some(),
    }
}

/// The secretariat queue of proposals being handled.
pub const IN_HANDLING: &str = "办理中";

/// Days past due after which an item is "very overdue" (严重逾期).
pub const VERY_OVERDUE_DAYS: i64 = 30;

/// Reminder lists: (due within 7 days, overdue, very overdue), from items in handling.
pub fn reminders(
    items: &[WorkItem],
    today: NaiveDate,
) -> (Vec<&WorkItem>, Vec<&WorkItem>, Vec<&WorkItem>) {
    let very = |w: &WorkItem| {
        w.overdue
            && w.due_on
                .is_some_and(|d| (today - d).num_days() > VERY_OVERDUE_DAYS)
    };
    (
        items.iter().filter(|w| w.due_soon).collect(),
        items.iter().filter(|w| w.overdue && !very(w)).collect(),
        items.iter().filter(|w| very(w)).collect(),
    )
}

fn by_urgency(items: &mut [WorkItem]) {
    items.sort_by(|a, b| {
        (a.due_on.is_none(), a.due_on, a.code.as_str()).cmp(&(
            b.due_on.is_none(),
            b.due_on,
            b.code.as_str(),
        ))
    });
}

pub async fn of_member<C: ConnectionTrait>(
    db: &C,
    person_id: i32,
    today: NaiveDate,
) -> AppResult<Vec<WorkItem>> {
    let rows = proposals::Entity::find()
        .filter(proposals::Column::AuthorId.eq(person_id))
        .order_by_desc(proposals::Column::UpdatedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|p| item(p, None, today)).collect())
}

pub async fn of_agency<C: ConnectionTrait>(
    db: &C,
    agency_id: i32,
    today: NaiveDate,
) -> AppResult<Vec<WorkItem>> {
    let rows = assignments::Entity::find()
        .filter(assignments::Column::AgencyId.eq(agency_id))
        .filter(assignments::Column::State.eq(AssignmentState::Active.as_str()))
        .find_also_related(proposals::Entity)
        .all(db)
        .await?;
    let mut items: Vec<WorkItem> = rows
        .into_iter()
        .filter_map(|(a, p)| p.map(|p| item(p, AssignmentRole::parse(&a.role), today)))
        .collect();
    by_urgency(&mut items);
    Ok(items)
}

/// (submitted awaiting a decision, accepted awaiting assignment, in handling, answered awaiting rating)
pub async fn of_secretariat<C: ConnectionTrait>(
    db: &C,
    today: NaiveDate,
) -> AppResult<Vec<(&'static str, Vec<WorkItem>)>> {
    let mut queues = Vec::new();
    for (label, statuses) in [
        ("待审查", vec![ProposalStatus::Submitted]),
        ("待交办", vec![ProposalStatus::Accepted]),
        (
            IN_HANDLING,
            vec![ProposalStatus::Assigned, ProposalStatus::Rehandling],
        ),
        ("待委员评价", vec![ProposalStatus::Answered]),
    ] {
        let rows = proposals::Entity::find()
            .filter(proposals::Column::Status.is_in(statuses.iter().map(|s| s.as_str())))
            .order_by_asc(proposals::Column::Code)
            .all(db)
            .await?;
        let mut items: Vec<WorkItem> = rows.into_iter().map(|p| item(p, None, today)).collect();
        by_urgency(&mut items);
        queues.push((label, items));
    }
    Ok(queues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn assigned(id: i32, due: NaiveDate, today: NaiveDate) -> WorkItem {
        let p = proposals::Model {
            id,
            code: format!("TS-{id}"),
            status: "assigned".into(),
            due_on: Some(due),
            ..test_model()
        };
        item(p, None, today)
    }

    fn test_model() -> proposals::Model {
        let now = chrono::Utc::now().fixed_offset();
        proposals::Model {
            created_at: now,
            updated_at: now,
            id: 0,
            code: String::new(),
            external_id: None,
            session_id: None,
            channel: "direct".into(),
            title: "t".into(),
            body_md: String::new(),
            author_id: None,
            topics: "[]".into(),
            status: "assigned".into(),
            published: true,
            supervised: false,
            paused_on: None,
            merged_into_id: None,
            decision_reason: None,
            submitted_at: None,
            accepted_at: None,
            assigned_at: None,
            due_on: None,
            answered_at: None,
            closed_at: None,
            version: 0,
            created_by_user_id: None,
            status_basis: None,
            source_file: None,
            source_quote: None,
        }
    }

    #[test]
    fn reminders_split_by_how_late_items_are() {
        let today = date(2026, 11, 23);
        let items = vec![
            assigned(1, date(2026, 11, 27), today),
            assigned(2, date(2026, 12, 31), today),
            assigned(3, date(2026, 11, 20), today),
            assigned(4, date(2026, 10, 1), today),
        ];
        let (soon, overdue, very) = reminders(&items, today);
        let ids = |v: Vec<&WorkItem>| v.iter().map(|w| w.id).collect::<Vec<_>>();
        assert_eq!(
            (ids(soon), ids(overdue), ids(very)),
            (vec![1], vec![3], vec![4])
        );
    }
}
