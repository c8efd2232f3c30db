//! The figures of every summary, scorecard and statistics table, defined once as predicates over
//! item facts. A figure is the number of items a [`Measure`] holds for, and the list behind it (the
//! link under the figure) is those same items, so the two can never disagree.
use chrono::NaiveDate;
use serde::Serialize;

use crate::followup::CommitmentStatus;
use crate::workflow::is_overdue;
use crate::workflow::Grade;
use crate::workflow::Rating;
use crate::workflow::{Channel, ProposalStatus};

/// What the statistics know about one published proposal (loaded in `facts.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct ItemFacts {
    pub id: i32,
    pub code: String,
    /// The year it was submitted (China time); the year a scorecard counts it in.
    pub year: Option<i32>,
    pub channel: Option<Channel>,
    pub session_id: Option<i32>,
    pub author_id: Option<i32>,
    pub status: ProposalStatus,
    pub supervised: bool,
    /// The reply clock is paused (waiting on the member).
    pub paused: bool,
    pub due_on: Option<NaiveDate>,
    pub assigned_on: Option<NaiveDate>,
    /// When the first written reply was published.
    pub answered_on: Option<NaiveDate>,
    /// The member's latest rating.
    pub rating: Option<Rating>,
    /// The grade of the latest written reply.
    pub grade: Option<Grade>,
    /// The lead agency and the co-handling agencies (returned assignments excluded).
    pub lead: Option<i32>,
    pub co: Vec<i32>,
}

/// What the statistics know about one commitment.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitmentFacts {
    pub id: i32,
    pub agency_id: i32,
    pub session_id: Option<i32>,
    pub channel: Option<Channel>,
    /// The year of its target date.
    pub year: Option<i32>,
    pub status: CommitmentStatus,
}

crate::vocabulary! {
    /// The figures that can be counted and listed.
    pub enum Measure {
        Proposals = "proposals" => "建议总数",
        Assigned = "assigned" => "已交办",
        Answered = "answered" => "已书面答复",
        AnsweredOnTime = "on_time" => "按期答复",
        AnsweredLate = "late" => "逾期后答复",
        Closed = "closed" => "已办结",
        Open = "open" => "办理中",
        Overdue = "overdue" => "逾期未答复",
        Supervised = "supervised" => "督办中",
        Satisfied = "satisfied" => "满意",
        BasicallySatisfied = "basically_satisfied" => "基本满意",
        Unsatisfied = "unsatisfied" => "不满意",
        SatisfiedOrBasically = "satisfied_or_basically" => "满意或基本满意",
        GradeA = "grade_a" => "A类答复",
        GradeB = "grade_b" => "B类答复",
        GradeC = "grade_c" => "C类答复",
    }
}

/// Whose items are counted: everything in the selection, or one agency's part in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Assigned, open and overdue count the agency as lead or co-handler; replies, ratings and
    /// grades count only where it leads, because the written reply is the lead agency's.
    Agency(i32),
}

/// Which items a statistics view looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub year: Option<i32>,
    pub session_id: Option<i32>,
    pub channel: Option<Channel>,
    pub agency_id: Option<i32>,
}

impl Selection {
    pub fn scope(&self) -> Scope {
        self.agency_id.map_or(Scope::All, Scope::Agency)
    }

    pub fn includes(&self, item: &ItemFacts) -> bool {
        self.year.is_none_or(|y| item.year == Some(y))
            && self.session_id.is_none_or(|s| item.session_id == Some(s))
            && self.channel.is_none_or(|c| item.channel == Some(c))
            && match self.scope() {
                Scope::All => true,
                Scope::Agency(a) => item.lead == Some(a) || item.co.contains(&a),
            }
    }

    pub fn includes_commitment(&self, c: &CommitmentFacts) -> bool {
        self.year.is_none_or(|y| c.year == Some(y))
            && self.session_id.is_none_or(|s| c.session_id == Some(s))
            && self.channel.is_none_or(|ch| c.channel == Some(ch))
            && self.agency_id.is_none_or(|a| c.agency_id == a)
    }
}

fn status_is_open(status: ProposalStatus) -> bool {
    matches!(
        status,
        ProposalStatus::Accepted
            | ProposalStatus::Assigned
            | ProposalStatus::Answered
            | ProposalStatus::Rehandling
    )
}

/// Whether `measure` holds for `item` within `scope` (the item is already in the selection).
pub fn holds(measure: Measure, item: &ItemFacts, scope: Scope, today: NaiveDate) -> bool {
    let leads = match scope {
        Scope::All => true,
        Scope::Agency(a) => item.lead == Some(a),
    };
    let answered = leads && item.answered_on.is_some();
    match measure {
        Measure::Proposals => true,
        Measure::Assigned => item.lead.is_some() || !item.co.is_empty(),
        Measure::Answered => answered,
        Measure::AnsweredOnTime => answered && on_time(item),
        Measure::AnsweredLate => answered && !on_time(item),
        Measure::Closed => item.status == ProposalStatus::Closed,
        Measure::Open => status_is_open(item.status),
        Measure::Overdue => is_overdue(item.status, item.due_on, item.paused, today),
        Measure::Supervised => item.supervised && status_is_open(item.status),
        Measure::Satisfied => leads && item.rating == Some(Rating::Satisfied),
        Measure::BasicallySatisfied => leads && item.rating == Some(Rating::BasicallySatisfied),
        Measure::Unsatisfied => leads && item.rating == Some(Rating::Unsatisfied),
        Measure::SatisfiedOrBasically => {
            leads
                && matches!(
                    item.rating,
                    Some(Rating::Satisfied | Rating::BasicallySatisfied)
                )
        }
        Measure::GradeA => leads && item.grade == Some(Grade::A),
        Measure::GradeB => leads && item.grade == Some(Grade::B),
        Measure::GradeC => leads && item.grade == Some(Grade::C),
    }
}

/// Answered by the due date (an item answered with no deadline set counts as on time).
fn on_time(item: &ItemFacts) -> bool {
    match (item.answered_on, item.due_on) {
        (Some(answered), Some(due)) => answered <= due,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The items of `items` in `selection` for which `measure` holds, in list order.
pub fn matching<'a>(
    items: &'a [ItemFacts],
    selection: &Selection,
    measure: Measure,
    today: NaiveDate,
) -> Vec<&'a ItemFacts> {
    items
        .iter()
        .filter(|i| selection.includes(i) && holds(measure, i, selection.scope(), today))
        .collect()
}

/// The counted figures of one selection (also the API's `Statistics`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Statistics)]
pub struct Tally {
    pub proposals: usize,
    pub assigned: usize,
    pub answered: usize,
    pub answered_on_time: usize,
    pub answered_late: usize,
    pub closed: usize,
    pub open: usize,
    pub overdue: usize,
    pub supervised: usize,
    pub satisfied: usize,
    pub basically_satisfied: usize,
    pub unsatisfied: usize,
    pub grade_a: usize,
    pub grade_b: usize,
    pub grade_c: usize,
    /// Median calendar days from assignment to the written reply.
    pub median_days_to_reply: Option<f64>,
    /// Answered on time as a percentage of answered.
    pub on_time_rate: Option<f64>,
    /// 满意 + 基本满意 as a percentage of rated.
    pub satisfaction_rate: Option<f64>,
    pub commitments: usize,
    pub commitments_met: usize,
    pub commitments_missed: usize,
    pub commitments_pending: usize,
}

fn percent(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

pub fn median(mut values: Vec<i64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid] as f64
    } else {
        (values[mid - 1] + values[mid]) as f64 / 2.0
    })
}

/// Counts every figure for `selection`.
pub fn tally(
    items: &[ItemFacts],
    commitments: &[CommitmentFacts],
    selection: &Selection,
    today: NaiveDate,
) -> Tally {
    let scope = selection.scope();
    let mut t = Tally::default();
    let mut reply_days = Vec::new();
    for item in items.iter().filter(|i| selection.includes(i)) {
        let count = |m: Measure| usize::from(holds(m, item, scope, today));
        t.proposals += 1;
        t.assigned += count(Measure::Assigned);
        t.answered += count(Measure::Answered);
        t.answered_on_time += count(Measure::AnsweredOnTime);
        t.answered_late += count(Measure::AnsweredLate);
        t.closed += count(Measure::Closed);
        t.open += count(Measure::Open);
        t.overdue += count(Measure::Overdue);
        t.supervised += count(Measure::Supervised);
        t.satisfied += count(Measure::Satisfied);
        t.basically_satisfied += count(Measure::BasicallySatisfied);
        t.unsatisfied += count(Measure::Unsatisfied);
        t.grade_a += count(Measure::GradeA);
        t.grade_b += count(Measure::GradeB);
        t.grade_c += count(Measure::GradeC);
        if holds(Measure::Answered, item, scope, today) {
            if let (Some(assigned), Some(answered)) = (item.assigned_on, item.answered_on) {
                reply_days.push((answered - assigned).num_days());
            }
        }
    }
    t.median_days_to_reply = median(reply_days);
    t.on_time_rate = percent(t.answered_on_time, t.answered);
    let rated = t.satisfied + t.basically_satisfied + t.unsatisfied;
    t.satisfaction_rate = percent(t.satisfied + t.basically_satisfied, rated);
    for c in commitments
        .iter()
        .filter(|c| selection.includes_commitment(c))
    {
        t.commitments += 1;
        match c.status {
            CommitmentStatus::Met | CommitmentStatus::Exceeded => t.commitments_met += 1,
            CommitmentStatus::Missed => t.commitments_missed += 1,
            _ => t.commitments_pending += 1,
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn item(id: i32) -> ItemFacts {
        ItemFacts {
            id,
            code: format!("TS-2026-001-{id:02}"),
            year: Some(2026),
            channel: Some(Channel::Session),
            session_id: Some(1),
            author_id: Some(7),
            status: ProposalStatus::Assigned,
            supervised: false,
            paused: false,
            due_on: Some(date(2026, 4, 1)),
            assigned_on: Some(date(2026, 1, 1)),
            answered_on: None,
            rating: None,
            grade: None,
            lead: Some(10),
            co: vec![20],
        }
    }

    #[test]
    fn figures_follow_item_states_and_agency_roles() {
        let closed = ItemFacts {
            status: ProposalStatus::Closed,
            answered_on: Some(date(2026, 1, 31)),
            rating: Some(Rating::Satisfied),
            grade: Some(Grade::A),
            ..item(1)
        };
        let late = ItemFacts {
            status: ProposalStatus::Rehandling,
            answered_on: Some(date(2026, 4, 10)),
            rating: Some(Rating::Unsatisfied),
            grade: Some(Grade::C),
            due_on: Some(date(2026, 4, 5)),
            ..item(2)
        };
        let overdue = ItemFacts {
            supervised: true,
            ..item(3)
        };
        let other_year = ItemFacts {
            year: Some(2025),
            ..item(4)
        };
        let co_led = ItemFacts {
            lead: Some(20),
            co: vec![10],
            ..item(5)
        };
        let items = [closed, late, overdue, other_year, co_led];
        let commitments = [
            CommitmentFacts {
                id: 1,
                agency_id: 10,
                session_id: Some(1),
                channel: Some(Channel::Session),
                year: Some(2026),
                status: CommitmentStatus::Exceeded,
            },
            CommitmentFacts {
                id: 2,
                agency_id: 20,
                session_id: Some(1),
                channel: Some(Channel::Session),
                year: Some(2026),
                status: CommitmentStatus::NoReport,
            },
        ];
        let today = date(2026, 4, 20);
        let selection = Selection {
            year: Some(2026),
            agency_id: Some(10),
            ..Default::default()
        };
        let t = tally(&items, &commitments, &selection, today);
        assert_eq!(t.proposals, 4, "lead or co, 2026 only");
        assert_eq!(t.assigned, 4);
        assert_eq!(t.answered, 2, "the co-led item's reply is not agency 10's");
        assert_eq!((t.answered_on_time, t.answered_late), (1, 1));
        assert_eq!(t.on_time_rate, Some(50.0));
        assert_eq!(t.median_days_to_reply, Some((30.0 + 99.0) / 2.0));
        assert_eq!((t.satisfied, t.unsatisfied), (1, 1));
        assert_eq!(t.satisfaction_rate, Some(50.0));
        assert_eq!((t.grade_a, t.grade_b, t.grade_c), (1, 0, 1));
        assert_eq!(t.closed, 1);
        assert_eq!(t.open, 3);
        assert_eq!(
            t.overdue, 3,
            "re-handling item 2, item 3 and the co-handled item 5"
        );
        assert_eq!(t.supervised, 1);
        assert_eq!((t.commitments, t.commitments_met), (1, 1));

        let listed: Vec<i32> = matching(&items, &selection, Measure::Overdue, today)
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(listed, vec![2, 3, 5]);

        let everyone = tally(&items, &commitments, &Selection::default(), today);
        assert_eq!(everyone.proposals, 5);
        assert_eq!(everyone.commitments_pending, 1);
        assert_eq!(everyone.satisfaction_rate, Some(50.0));
    }

    #[test]
    fn rates_are_absent_without_a_denominator() {
        let t = tally(&[item(1)], &[], &Selection::default(), date(2026, 1, 2));
        assert_eq!(t.on_time_rate, None);
        assert_eq!(t.satisfaction_rate, None);
        assert_eq!(t.median_days_to_reply, None);
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(vec![5, 1, 3]), Some(3.0));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
