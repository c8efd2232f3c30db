//! Commitments: measurable promises (target vs. reported actual). Their status is derived from the
//! reports and today's date by [`assess`], never typed in; `load_views` gathers everything a page
//! shows about a set of commitments in a fixed number of queries.
use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{agencies, commitment_reports, commitments, documents, proposals};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

crate::vocabulary! {
    pub enum CommitmentStatus {
        OnTrack = "on_track" => "进行中",
        Met = "met" => "已达成",
        Exceeded = "exceeded" => "超额完成",
        Missed = "missed" => "未达成",
        NoReport = "no_report" => "暂无报告",
        OverdueReport = "overdue_report" => "逾期未报告",
    }
}

crate::vocabulary! {
    /// How the target is phrased: 达到/以上 (at least), 超过/突破 (more than), 左右 (about).
    pub enum Comparison {
        AtLeast = "at_least" => "达到",
        MoreThan = "more_than" => "超过",
        About = "about" => "左右",
    }
}

/// Tolerance for "about" (左右) targets.
const ABOUT_TOLERANCE: f64 = 0.10;

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Assessment {
    pub status: CommitmentStatus,
    /// Latest actual as a percentage of the target, capped at 100 (for the progress bar).
    pub progress_percent: Option<f64>,
}

/// When a reported figure stands: the end of the period it is for (a figure for 2024年 stands at
/// 2024-12-31 however late it was reported; 2025年1-6月 at 2025-06-30), else its report date.
/// Reports are ordered by this and then by entry, so a backdated report never overturns the figure
/// for a later period, and a correction for the same period, entered later, supersedes.
pub fn stands_at(period_label: Option<&str>, reported_on: Option<NaiveDate>) -> Option<NaiveDate> {
    static YEAR: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(\d{4})\s*年").expect("valid pattern"));
    static MONTH: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(\d{1,2})\s*月").expect("valid pattern"));
    let Some(label) = period_label else {
        return reported_on;
    };
    let Some(year) = YEAR
        .captures(label)
        .and_then(|c| c[1].parse::<i32>().ok())
        .filter(|y| crate::time::RECORD_YEARS.contains(y))
    else {
        return reported_on;
    };
    let after = &label[YEAR.find(label).map_or(0, |m| m.end())..];
    let month = if let Some(m) = MONTH
        .captures_iter(after)
        .filter_map(|c| c[1].parse::<u32>().ok())
        .filter(|m| (1..=12).contains(m))
        .last()
    {
        m
    } else if after.contains("上半年") || after.contains("二季度") || after.contains("第二季度")
    {
        6
    } else if after.contains("一季度") {
        3
    } else if after.contains("三季度") {
        9
    } else {
        12
    };
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    first_of_next.and_then(|d| d.pred_opt())
}

/// Derives a commitment's status from its target, its latest reported actual and today's date.
pub fn assess(
    target: f64,
    comparison: Comparison,
    target_date: Option<NaiveDate>,
    latest_actual: Option<f64>,
    today: NaiveDate,
) -> Assessment {
    let past_due = target_date.is_some_and(|due| due < today);
    let Some(actual) = latest_actual else {
        let status = if past_due {
            CommitmentStatus::OverdueReport
        } else {
            CommitmentStatus::NoReport
        };
        return Assessment {
            status,
            progress_percent: None,
        };
    };
    let reached = match comparison {
        Comparison::AtLeast => {
            if actual > target {
                Some(CommitmentStatus::Exceeded)
            } else if actual == target {
                Some(CommitmentStatus::Met)
            } else {
                None
            }
        }
        Comparison::MoreThan => (actual > target).then_some(CommitmentStatus::Met),
        Comparison::About => {
            if actual > target * (1.0 + ABOUT_TOLERANCE) {
                Some(CommitmentStatus::Exceeded)
            } else if actual >= target * (1.0 - ABOUT_TOLERANCE) {
                Some(CommitmentStatus::Met)
            } else {
                None
            }
        }
    };
    let status = reached.unwrap_or(if past_due {
        CommitmentStatus::Missed
    } else {
        CommitmentStatus::OnTrack
    });
    let progress_percent = (target > 0.0).then(|| (actual / target * 100.0).clamp(0.0, 100.0));
    Assessment {
        status,
        progress_percent,
    }
}

#[derive(Debug, Serialize)]
pub struct ReportView {
    pub id: i32,
    pub value: f64,
    pub reported_on: Option<NaiveDate>,
    pub period_label: Option<String>,
    pub note: Option<String>,
    pub document_id: Option<i32>,
    pub document_title: Option<String>,
    pub source_file: Option<String>,
    pub source_quote: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CommitmentView {
    pub id: i32,
    pub description: String,
    pub metric: String,
    pub unit: String,
    pub baseline: Option<f64>,
    pub target_value: f64,
    pub comparison: Comparison,
    pub comparison_label: &'static str,
    pub target_date: Option<NaiveDate>,
    pub agency_id: i32,
    pub agency_name: String,
    pub proposal_code: Option<String>,
    pub proposal_title: Option<String>,
    pub document_id: Option<i32>,
    pub document_title: Option<String>,
    pub source_file: Option<String>,
    pub source_quote: Option<String>,
    pub status: CommitmentStatus,
    pub progress_percent: Option<f64>,
    pub latest_actual: Option<f64>,
    pub reports: Vec<ReportView>,
    /// Dated actuals against the target as an SVG chart (absent without a dated report).
    pub chart_svg: Option<String>,
}

/// The chart of dated actuals over time for one commitment.
fn actuals_chart(metric: &str, unit: &str, target: f64, reports: &[ReportView]) -> Option<String> {
    use crate::web::charts::{actuals_chart, Point};
    let points: Vec<Point> = reports
        .iter()
        .filter_map(|r| {
            Some(Point {
                date: r.reported_on?,
                value: r.value,
            })
        })
        .collect();
    (!points.is_empty())
        .then(|| actuals_chart(&format!("{metric}:报告实际值与目标"), unit, target, &points))
}

/// Builds page views for `rows` with three further queries (reports, agencies, documents) and one
/// for proposals, whatever the number of commitments.
pub async fn load_views<C: ConnectionTrait>(
    db: &C,
    rows: Vec<commitments::Model>,
    today: NaiveDate,
) -> Result<Vec<CommitmentView>, sea_orm::DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = rows.iter().map(|c| c.id).collect();
    let mut reports = commitment_reports::Entity::find()
        .filter(commitment_reports::Column::CommitmentId.is_in(ids))
        .order_by_asc(commitment_reports::Column::Id)
        .all(db)
        .await?;
    // Stable: reports standing at the same day keep their entry order.
    reports.sort_by_key(|r| stands_at(r.period_label.as_deref(), r.reported_on));
    let agency_ids: Vec<i32> = rows.iter().map(|c| c.agency_id).collect();
    let agency_names: HashMap<i32, String> = agencies::Entity::find()
        .filter(agencies::Column::Id.is_in(agency_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a.short_name))
        .collect();
    let document_ids: Vec<i32> = rows
        .iter()
        .filter_map(|c| c.document_id)
        .chain(reports.iter().filter_map(|r| r.document_id))
        .collect();
    let document_titles: HashMap<i32, String> = documents::Entity::find()
        .filter(documents::Column::Id.is_in(document_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|d| (d.id, d.title))
        .collect();
    let proposal_ids: Vec<i32> = rows.iter().filter_map(|c| c.proposal_id).collect();
    let proposal_refs: HashMap<i32, (String, String)> = proposals::Entity::find()
        .filter(proposals::Column::Id.is_in(proposal_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, (p.code, p.title)))
        .collect();

    let mut reports_by_commitment: HashMap<i32, Vec<ReportView>> = HashMap::new();
    for r in reports {
        reports_by_commitment
            .entry(r.commitment_id)
            .or_default()
            .push(ReportView {
                id: r.id,
                value: r.value,
                reported_on: r.reported_on,
                period_label: r.period_label,
                note: r.note,
                document_id: r.document_id,
                document_title: r
                    .document_id
                    .and_then(|id| document_titles.get(&id).cloned()),
                source_file: r.source_file,
                source_quote: r.source_quote,
            });
    }

    Ok(rows
        .into_iter()
        .map(|c| {
            let reports = reports_by_commitment.remove(&c.id).unwrap_or_default();
            let latest_actual = reports.last().map(|r| r.value);
            let comparison = Comparison::parse(&c.comparison).unwrap_or(Comparison::AtLeast);
            let assessment = assess(
                c.target_value,
                comparison,
                c.target_date,
                latest_actual,
                today,
            );
            let proposal = c.proposal_id.and_then(|id| proposal_refs.get(&id).cloned());
            let chart_svg = actuals_chart(&c.metric, &c.unit, c.target_value, &reports);
            CommitmentView {
                chart_svg,
                id: c.id,
                description: c.description,
                metric: c.metric,
                unit: c.unit,
                baseline: c.baseline,
                target_value: c.target_value,
                comparison,
                comparison_label: comparison.label(),
                target_date: c.target_date,
                agency_id: c.agency_id,
                agency_name: agency_names.get(&c.agency_id).cloned().unwrap_or_default(),
                proposal_code: proposal.as_ref().map(|p| p.0.clone()),
                proposal_title: proposal.map(|p| p.1),
                document_id: c.document_id,
                document_title: c
                    .document_id
                    .and_then(|id| document_titles.get(&id).cloned()),
                source_file: c.source_file,
                source_quote: c.source_quote,
                status: assessment.status,
                progress_percent: assessment.progress_percent,
                latest_actual,
                reports,
            }
        })
        .collect())
}

/// A dated actual reported against a commitment.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReport {
    pub value: f64,
    pub reported_on: NaiveDate,
    pub source: String,
}

/// Why `report` cannot be recorded, if it cannot: the rules for every reported actual, whether
/// typed into the form, sent to the API or read from a spreadsheet row.
pub fn check_report(report: &NewReport) -> Result<(), String> {
    if !report.value.is_finite() || report.value.abs() > 1e15 {
        return Err("实际值须为合理的数值。".to_owned());
    }
    crate::web::form::check_text("数据来源", &report.source, 2000, true)?;
    // A source is a citation (a report, a news release): it never needs a private person's details.
    crate::privacy::refuse_personal("数据来源", &report.source)?;
    crate::time::check_record_date(report.reported_on, "报告日期")?;
    if report.reported_on > crate::time::today() {
        return Err("报告日期不能晚于今天。".to_owned());
    }
    Ok(())
}

/// Whether `actor` may report against `commitment` (its own agency's, or the secretariat).
pub fn may_report(actor: &crate::accounts::Actor, commitment: &commitments::Model) -> bool {
    crate::accounts::policy::allows(
        actor,
        crate::accounts::policy::Action::ReportActuals,
        crate::accounts::policy::Object::OfAgency(commitment.agency_id),
    )
}

/// Records an actual as `actor`, with the proposal's timeline event, outbox row and audit entry,
/// in one transaction.
pub async fn report_actual(
    db: &sea_orm::DatabaseConnection,
    actor: &crate::accounts::Actor,
    commitment_id: i32,
    report: NewReport,
) -> crate::error::AppResult<Option<String>> {
    use crate::error::AppError;
    check_report(&report).map_err(AppError::BadRequest)?;
    let txn = crate::db::begin_write(db).await?;
    let commitment = commitments::Entity::find_by_id(commitment_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if !may_report(actor, &commitment) {
        return Err(AppError::Forbidden);
    }
    let code = record_report(&txn, actor, &commitment, &report).await?;
    txn.commit().await?;
    Ok(code)
}

/// Writes a checked report inside the caller's transaction: the row, the proposal's public
/// timeline event, its outbox row, the pages' revision and the audit entry. Returns the
/// proposal's code.
pub async fn record_report<C: ConnectionTrait>(
    txn: &C,
    actor: &crate::accounts::Actor,
    commitment: &commitments::Model,
    report: &NewReport,
) -> crate::error::AppResult<Option<String>> {
    use sea_orm::ActiveValue::Set;
    let now = chrono::Utc::now();
    commitment_reports::Entity::insert(commitment_reports::ActiveModel {
        commitment_id: Set(commitment.id),
        value: Set(report.value),
        reported_on: Set(Some(report.reported_on)),
        note: Set(Some(report.source.clone())),
        created_at: Set(now.fixed_offset()),
        updated_at: Set(now.fixed_offset()),
        ..Default::default()
    })
    .exec(txn)
    .await?;
    let proposal = match commitment.proposal_id {
        Some(proposal_id) => {
            crate::followup::timeline::append(
                txn,
                crate::followup::timeline::NewEvent {
                    proposal_id,
                    occurred_at: now,
                    precision: crate::time::Precision::Exact,
                    actor_user_id: Some(actor.user_id),
                    actor_label: &actor.display_name,
                    action: crate::workflow::TimelineAction::Progress,
                    from_status: None,
                    to_status: None,
                    note: Some(format!(
                        "报告承诺“{}”实际完成 {} {}({})",
                        commitment.metric, report.value, commitment.unit, report.source
                    )),
                    public: true,
                    source_file: None,
                    source_quote: None,
                },
            )
            .await?;
            crate::search::outbox::enqueue(txn, crate::search::documents::PROPOSAL, proposal_id)
                .await?;
            proposals::Entity::find_by_id(proposal_id).one(txn).await?
        }
        None => None,
    };
    // An actual shows on its proposal's page and its session's (and the home page's counts).
    match &proposal {
        Some(proposal) => crate::revision::bump_proposal_pages(txn, proposal).await?,
        None => crate::revision::bump(txn).await?,
    }
    crate::audit::record(
        txn,
        Some(actor),
        "report_actual",
        Some(format!("commitment {}", commitment.id)),
        Some(report.value.to_string()),
        None,
    )
    .await?;
    Ok(proposal.map(|p| p.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_figure_stands_at_the_end_of_its_period_not_at_its_report_date() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(stands_at(Some("2024年"), None), day(2024, 12, 31));
        assert_eq!(
            stands_at(Some("2024年"), day(2026, 3, 1)),
            day(2024, 12, 31)
        );
        assert_eq!(stands_at(Some("2025年1-6月"), None), day(2025, 6, 30));
        assert_eq!(stands_at(Some("2025年上半年"), None), day(2025, 6, 30));
        assert_eq!(stands_at(Some("2025年一季度"), None), day(2025, 3, 31));
        assert_eq!(stands_at(Some("2024年2月"), None), day(2024, 2, 29));
        assert_eq!(
            stands_at(Some("截至目前"), day(2026, 12, 1)),
            day(2026, 12, 1)
        );
        assert_eq!(stands_at(None, day(2023, 5, 1)), day(2023, 5, 1));
        assert_eq!(stands_at(None, None), None);
        // A backdated report sorts before the figure for the later period.
        assert!(stands_at(None, day(2023, 5, 1)) < stands_at(Some("2024年"), None));
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn smes_target_9500_reported_9777_is_exceeded() {
        let a = assess(
            9500.0,
            Comparison::AtLeast,
            Some(date(2024, 12, 31)),
            Some(9777.0),
            date(2026, 11, 23),
        );
        assert_eq!(a.status, CommitmentStatus::Exceeded);
        assert_eq!(a.progress_percent, Some(100.0));
    }

    #[test]
    fn no_report_before_the_deadline_and_overdue_after_it() {
        let due = Some(date(2024, 12, 31));
        assert_eq!(
            assess(50.0, Comparison::AtLeast, due, None, date(2024, 6, 1)).status,
            CommitmentStatus::NoReport
        );
        assert_eq!(
            assess(50.0, Comparison::AtLeast, due, None, date(2025, 1, 1)).status,
            CommitmentStatus::OverdueReport
        );
        assert_eq!(
            assess(1000.0, Comparison::About, None, None, date(2030, 1, 1)).status,
            CommitmentStatus::NoReport
        );
    }

    #[test]
    fn below_target_is_on_track_until_due_then_missed() {
        let due = Some(date(2024, 12, 31));
        let before = assess(
            100.0,
            Comparison::AtLeast,
            due,
            Some(93.0),
            date(2024, 12, 31),
        );
        assert_eq!(before.status, CommitmentStatus::OnTrack);
        assert_eq!(before.progress_percent, Some(93.0));
        assert_eq!(
            assess(
                100.0,
                Comparison::AtLeast,
                due,
                Some(93.0),
                date(2025, 1, 1)
            )
            .status,
            CommitmentStatus::Missed
        );
        assert_eq!(
            assess(
                100.0,
                Comparison::AtLeast,
                None,
                Some(93.0),
                date(2030, 1, 1)
            )
            .status,
            CommitmentStatus::OnTrack
        );
    }

    #[test]
    fn comparisons_follow_their_wording() {
        let today = date(2025, 6, 1);
        let due = Some(date(2024, 12, 31));
        assert_eq!(
            assess(2000.0, Comparison::MoreThan, due, Some(2000.0), today).status,
            CommitmentStatus::Missed
        );
        assert_eq!(
            assess(2000.0, Comparison::MoreThan, due, Some(2001.0), today).status,
            CommitmentStatus::Met
        );
        assert_eq!(
            assess(8500.0, Comparison::AtLeast, due, Some(8500.0), today).status,
            CommitmentStatus::Met
        );
        assert_eq!(
            assess(100.0, Comparison::About, due, Some(100.0), today).status,
            CommitmentStatus::Met
        );
        assert_eq!(
            assess(100.0, Comparison::About, due, Some(91.0), today).status,
            CommitmentStatus::Met
        );
        assert_eq!(
            assess(100.0, Comparison::About, due, Some(89.0), today).status,
            CommitmentStatus::Missed
        );
        assert_eq!(
            assess(100.0, Comparison::About, due, Some(111.0), today).status,
            CommitmentStatus::Exceeded
        );
    }

    #[test]
    fn zero_targets_have_no_progress_bar() {
        assert_eq!(
            assess(0.0, Comparison::AtLeast, None, Some(3.0), date(2025, 1, 1)).progress_percent,
            None
        );
    }
}
