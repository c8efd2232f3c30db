//! Deadline reminders (催办) as notifications: to each agency still handling a proposal, when its
//! reply is due within 7 days, within 1 day, and on every day it is overdue (mail brings those in
//! the daily digest, until the reply is in). Each is written once: `deadline_reminders` holds one
//! row per proposal, agency and threshold, inserted in the transaction that writes the
//! notification, so a restart or a second instance never repeats one.
use chrono::NaiveDate;
use entity::{assignments, deadline_reminders, proposals};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{notify, Audience, Kind, Notice};
use crate::config::Config;
use crate::error::AppResult;
use crate::workflow::{is_overdue, AssignmentRole, AssignmentState, ProposalStatus};

/// The reminder a proposal due on `due` calls for on `today`, if any: (threshold, kind). The
/// thresholds name the due date, so a new deadline (an extension, re-handling) gets its own.
pub fn threshold(
    status: ProposalStatus,
    due: NaiveDate,
    paused: bool,
    today: NaiveDate,
) -> Option<(String, Kind)> {
    let due_before = |day: NaiveDate| is_overdue(status, Some(due), paused, day);
    if due_before(today) {
        Some((format!("overdue:{today}"), Kind::Overdue))
    } else if due_before(today + chrono::Duration::days(2)) {
        Some((format!("due_in_1:{due}"), Kind::DueSoon))
    } else if due_before(today + chrono::Duration::days(8)) {
        Some((format!("due_in_7:{due}"), Kind::DueSoon))
    } else {
        None
    }
}

/// Records reminder (`proposal`, `agency`, `threshold`) in the transaction that writes it; false
/// when it was written before (by this instance or another, before a restart or not).
async fn first_time<C: sea_orm::ConnectionTrait>(
    txn: &C,
    proposal: i32,
    agency: i32,
    threshold: &str,
) -> Result<bool, sea_orm::DbErr> {
    Ok(
        deadline_reminders::Entity::insert(deadline_reminders::ActiveModel {
            proposal_id: Set(proposal),
            agency_id: Set(agency),
            threshold: Set(threshold.to_owned()),
            created_at: Set(chrono::Utc::now().fixed_offset()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([
                deadline_reminders::Column::ProposalId,
                deadline_reminders::Column::AgencyId,
                deadline_reminders::Column::Threshold,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?
            == 1,
    )
}

/// Writes the reminders due on `today`; returns how many were new.
pub async fn write_due(
    db: &DatabaseConnection,
    config: &Config,
    today: NaiveDate,
) -> AppResult<usize> {
    let handling = proposals::Entity::find()
        .filter(proposals::Column::Status.is_in([
            ProposalStatus::Assigned.as_str(),
            ProposalStatus::Rehandling.as_str(),
        ]))
        .filter(proposals::Column::DueOn.is_not_null())
        .all(db)
        .await?;
    // The proposals a reminder is due for today, then their active assignments in one read.
    let due_today: Vec<(proposals::Model, NaiveDate, String, Kind)> = handling
        .into_iter()
        .filter_map(|proposal| {
            let status = ProposalStatus::parse(&proposal.status).unwrap_or(ProposalStatus::Draft);
            let due = proposal.due_on?;
            let (threshold, kind) = threshold(status, due, proposal.paused_on.is_some(), today)?;
            Some((proposal, due, threshold, kind))
        })
        .collect();
    let mut active: std::collections::HashMap<i32, Vec<assignments::Model>> = Default::default();
    for assignment in assignments::Entity::find()
        .filter(assignments::Column::ProposalId.is_in(due_today.iter().map(|(p, ..)| p.id)))
        .filter(assignments::Column::State.eq(AssignmentState::Active.as_str()))
        .all(db)
        .await?
    {
        active
            .entry(assignment.proposal_id)
            .or_default()
            .push(assignment);
    }
    let mut written = 0;
    for (proposal, due, threshold, kind) in due_today {
        for assignment in active.remove(&proposal.id).unwrap_or_default() {
            let txn = crate::db::begin_write(db).await?;
            if !first_time(&txn, proposal.id, assignment.agency_id, &threshold).await? {
                continue;
            }
            let days = (due - today).num_days();
            let message = if kind == Kind::Overdue {
                format!(
                    "《{}》已逾期 {} 天(答复期限 {due}),请尽快答复。",
                    proposal.title, -days
                )
            } else {
                format!("《{}》的答复期限为 {due},还有 {days} 天。", proposal.title)
            };
            let ids = [assignment.agency_id];
            let lead = assignment.role == AssignmentRole::Lead.as_str();
            let audience = if lead {
                Audience::AgenciesRequired(&ids)
            } else {
                Audience::Agencies(&ids)
            };
            notify(
                &txn,
                config,
                audience,
                None,
                Notice {
                    proposal_id: Some(proposal.id),
                    kind,
                    message: &message,
                },
            )
            .await?;
            txn.commit().await?;
            written += 1;
        }
    }
    Ok(written)
}

/// On Mondays (China time), the secretariat's overdue summary: how many proposals each agency
/// has overdue, most first. Written once a week (a `deadline_reminders` row with no proposal or
/// agency, threshold `weekly:DATE`); nothing when nothing is overdue.
pub async fn weekly_summary(
    db: &DatabaseConnection,
    config: &Config,
    today: NaiveDate,
) -> AppResult<usize> {
    use chrono::Datelike;
    if today.weekday() != chrono::Weekday::Mon {
        return Ok(0);
    }
    let handling = proposals::Entity::find()
        .filter(proposals::Column::Status.is_in([
            ProposalStatus::Assigned.as_str(),
            ProposalStatus::Rehandling.as_str(),
        ]))
        .all(db)
        .await?;
    let overdue: Vec<i32> = handling
        .iter()
        .filter(|p| {
            let status = ProposalStatus::parse(&p.status).unwrap_or(ProposalStatus::Draft);
            is_overdue(status, p.due_on, p.paused_on.is_some(), today)
        })
        .map(|p| p.id)
        .collect();
    if overdue.is_empty() {
        return Ok(0);
    }
    let leads = assignments::Entity::find()
        .filter(assignments::Column::ProposalId.is_in(overdue.clone()))
        .filter(assignments::Column::State.eq(AssignmentState::Active.as_str()))
        .filter(assignments::Column::Role.eq(AssignmentRole::Lead.as_str()))
        .all(db)
        .await?;
    let names =
        crate::directory::agency_short_names(db, leads.iter().map(|a| a.agency_id).collect())
            .await?;
    let mut per_agency: std::collections::BTreeMap<&str, usize> = Default::default();
    for lead in &leads {
        *per_agency
            .entry(
                names
                    .get(&lead.agency_id)
                    .map_or("未知单位", String::as_str),
            )
            .or_default() += 1;
    }
    let mut lines: Vec<(&str, usize)> = per_agency.into_iter().collect();
    lines.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let message = format!(
        "本周逾期未答复的建议共 {} 件:{}。",
        overdue.len(),
        lines
            .iter()
            .map(|(agency, n)| format!("{agency} {n} 件"))
            .collect::<Vec<_>>()
            .join("、")
    );
    let txn = crate::db::begin_write(db).await?;
    if !first_time(&txn, 0, 0, &format!("weekly:{today}")).await? {
        return Ok(0);
    }
    notify(
        &txn,
        config,
        Audience::Secretariat,
        None,
        Notice {
            proposal_id: None,
            kind: Kind::Overdue,
            message: &message,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_the_days_left() {
        let due = NaiveDate::from_ymd_opt(2027, 3, 31).unwrap();
        let on = |m, d| NaiveDate::from_ymd_opt(2027, m, d).unwrap();
        let at = |day| threshold(ProposalStatus::Assigned, due, false, day).map(|t| t.0);
        assert_eq!(at(on(3, 23)), None);
        assert_eq!(at(on(3, 24)).as_deref(), Some("due_in_7:2027-03-31"));
        assert_eq!(at(on(3, 29)).as_deref(), Some("due_in_7:2027-03-31"));
        assert_eq!(at(on(3, 30)).as_deref(), Some("due_in_1:2027-03-31"));
        assert_eq!(at(on(3, 31)).as_deref(), Some("due_in_1:2027-03-31"));
        assert_eq!(at(on(4, 1)).as_deref(), Some("overdue:2027-04-01"));
        assert_eq!(
            threshold(ProposalStatus::Assigned, due, true, on(4, 1)),
            None,
            "paused"
        );
        assert_eq!(
            threshold(ProposalStatus::Answered, due, false, on(4, 1)),
            None,
            "answered"
        );
    }
}
