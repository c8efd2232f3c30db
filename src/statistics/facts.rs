//! Loads [`ItemFacts`] and [`CommitmentFacts`] for a selection in a fixed number of narrow queries
//! (only the columns the figures need, never proposal bodies), whatever the number of items.
use std::collections::HashMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use entity::{assignments, commitment_reports, commitments, evaluations, proposals};
use entity::{response_proposals, responses};
use sea_orm::sea_query::{Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use sea_orm::{QuerySelect, QueryTrait};

use super::measures::{CommitmentFacts, ItemFacts, Selection};
use crate::followup::{assess, Comparison};
use crate::time::{china, start_of_day};
use crate::visibility::{public_assignments, public_proposals};
use crate::workflow::Rating;
use crate::workflow::{AssignmentRole, Channel, ProposalStatus};
use crate::workflow::{Grade, ResponseKind};

fn local_date(at: DateTime<FixedOffset>) -> NaiveDate {
    at.with_timezone(&china()).date_naive()
}

/// The SQL side of a selection: published proposals of the session, channel, year and agency.
fn condition(selection: &Selection) -> Condition {
    let mut condition = public_proposals();
    if let Some(id) = selection.session_id {
        condition = condition.add(proposals::Column::SessionId.eq(id));
    }
    if let Some(channel) = selection.channel {
        condition = condition.add(proposals::Column::Channel.eq(channel.as_str()));
    }
    if let Some(year) = selection.year {
        let from = NaiveDate::from_ymd_opt(year, 1, 1);
        let to = NaiveDate::from_ymd_opt(year + 1, 1, 1);
        if let (Some(from), Some(to)) = (from, to) {
            condition = condition
                .add(proposals::Column::SubmittedAt.gte(start_of_day(from)))
                .add(proposals::Column::SubmittedAt.lt(start_of_day(to)));
        }
    }
    if let Some(agency) = selection.agency_id {
        condition = condition.add(
            proposals::Column::Id.in_subquery(
                Query::select()
                    .column(assignments::Column::ProposalId)
                    .from(assignments::Entity)
                    .and_where(assignments::Column::AgencyId.eq(agency))
                    .cond_where(public_assignments())
                    .to_owned(),
            ),
        );
    }
    condition
}

fn selected_ids(selection: &Selection) -> SelectStatement {
    proposals::Entity::find()
        .filter(condition(selection))
        .select_only()
        .column(proposals::Column::Id)
        .into_query()
}

type ProposalRow = (
    i32,
    String,
    String,
    Option<i32>,
    Option<i32>,
    String,
    bool,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<DateTime<FixedOffset>>,
    Option<DateTime<FixedOffset>>,
    Option<DateTime<FixedOffset>>,
);

/// Facts about the published proposals in `selection`, newest submission first.
pub async fn load_items<C: ConnectionTrait>(
    db: &C,
    selection: &Selection,
) -> Result<Vec<ItemFacts>, sea_orm::DbErr> {
    use proposals::Column as P;
    let rows: Vec<ProposalRow> = proposals::Entity::find()
        .filter(condition(selection))
        .select_only()
        .columns([P::Id, P::Code, P::Channel, P::SessionId, P::AuthorId])
        .columns([P::Status, P::Supervised, P::PausedOn])
        .columns([P::DueOn, P::SubmittedAt, P::AssignedAt, P::AnsweredAt])
        .order_by_desc(P::SubmittedAt)
        .order_by_asc(P::Code)
        .into_tuple()
        .all(db)
        .await?;

    let in_selection = || selected_ids(selection);
    let assignment_rows: Vec<(i32, i32, String)> = assignments::Entity::find()
        .filter(assignments::Column::ProposalId.in_subquery(in_selection()))
        .filter(public_assignments())
        .select_only()
        .columns([
            assignments::Column::ProposalId,
            assignments::Column::AgencyId,
            assignments::Column::Role,
        ])
        .order_by_asc(assignments::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut lead: HashMap<i32, i32> = HashMap::new();
    let mut co: HashMap<i32, Vec<i32>> = HashMap::new();
    for (proposal, agency, role) in assignment_rows {
        if role == AssignmentRole::Lead.as_str() {
            lead.insert(proposal, agency);
        } else {
            let list = co.entry(proposal).or_default();
            if !list.contains(&agency) {
                list.push(agency);
            }
        }
    }

    // The latest rating wins: a later 不满意 supersedes an earlier 满意 and vice versa.
    let rating_rows: Vec<(i32, String)> = evaluations::Entity::find()
        .filter(evaluations::Column::ProposalId.in_subquery(in_selection()))
        .select_only()
        .columns([evaluations::Column::ProposalId, evaluations::Column::Rating])
        .order_by_asc(evaluations::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let ratings: HashMap<i32, Rating> = rating_rows
        .into_iter()
        .filter_map(|(p, r)| Some((p, Rating::parse(&r)?)))
        .collect();

    let grade_rows: Vec<(i32, String)> = response_proposals::Entity::find()
        .filter(response_proposals::Column::ProposalId.in_subquery(in_selection()))
        .inner_join(responses::Entity)
        .filter(responses::Column::Kind.eq(ResponseKind::Written.as_str()))
        .filter(responses::Column::Published.eq(true))
        .filter(responses::Column::Grade.is_not_null())
        .select_only()
        .column(response_proposals::Column::ProposalId)
        .column(responses::Column::Grade)
        .order_by_asc(responses::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let grades: HashMap<i32, Grade> = grade_rows
        .into_iter()
        .filter_map(|(p, g)| Some((p, Grade::parse(&g)?)))
        .collect();

    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                code,
                channel,
                session_id,
                author_id,
                status,
                supervised,
                paused_on,
                due_on,
                submitted,
                assigned,
                answered,
            )| {
                ItemFacts {
                    year: submitted.map(|t| local_date(t).year()),
                    channel: Channel::parse(&channel),
                    session_id,
                    author_id,
                    status: ProposalStatus::parse(&status).unwrap_or(ProposalStatus::Draft),
                    supervised,
                    paused: paused_on.is_some(),
                    due_on,
                    assigned_on: assigned.map(local_date),
                    answered_on: answered.map(local_date),
                    rating: ratings.get(&id).copied(),
                    grade: grades.get(&id).copied(),
                    lead: lead.get(&id).copied(),
                    co: co.remove(&id).unwrap_or_default(),
                    id,
                    code,
                }
            },
        )
        .collect())
}

type CommitmentRow = (
    i32,
    i32,
    Option<i32>,
    f64,
    String,
    Option<NaiveDate>,
    Option<i32>,
    Option<String>,
);

/// Facts about every commitment (each with its status derived from its latest report).
pub async fn load_commitments<C: ConnectionTrait>(
    db: &C,
    today: NaiveDate,
) -> Result<Vec<CommitmentFacts>, sea_orm::DbErr> {
    use commitments::Column as K;
    let rows: Vec<CommitmentRow> = commitments::Entity::find()
        .left_join(proposals::Entity)
        .select_only()
        .columns([
            K::Id,
            K::AgencyId,
            K::ProposalId,
            K::TargetValue,
            K::Comparison,
        ])
        .column(K::TargetDate)
        .column(proposals::Column::SessionId)
        .column(proposals::Column::Channel)
        .order_by_asc(K::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut reports: Vec<(i32, f64, Option<String>, Option<chrono::NaiveDate>)> =
        commitment_reports::Entity::find()
            .select_only()
            .columns([
                commitment_reports::Column::CommitmentId,
                commitment_reports::Column::Value,
                commitment_reports::Column::PeriodLabel,
                commitment_reports::Column::ReportedOn,
            ])
            .order_by_asc(commitment_reports::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
    // The same order as the commitment pages: the last figure to stand is the latest.
    reports.sort_by_key(|(_, _, period, on)| {
        crate::followup::commitments::stands_at(period.as_deref(), *on)
    });
    let latest: HashMap<i32, f64> = reports
        .into_iter()
        .map(|(id, value, _, _)| (id, value))
        .collect();
    Ok(rows
        .into_iter()
        .map(
            |(id, agency_id, _proposal, target, comparison, target_date, session_id, channel)| {
                let comparison = Comparison::parse(&comparison).unwrap_or(Comparison::AtLeast);
                CommitmentFacts {
                    id,
                    agency_id,
                    session_id,
                    channel: channel.as_deref().and_then(Channel::parse),
                    year: target_date.map(|d| d.year()),
                    status: assess(
                        target,
                        comparison,
                        target_date,
                        latest.get(&id).copied(),
                        today,
                    )
                    .status,
                }
            },
        )
        .collect())
}
