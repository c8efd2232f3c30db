//! A session's follow-up summary, computed from the states of its items (never typed in).
use chrono::NaiveDate;
use serde::Serialize;

use super::commitments::CommitmentStatus;
use super::Rating;
use crate::proposals::workflow::is_overdue;
use crate::proposals::ProposalStatus;

/// What the summary needs to know about one proposal.
pub struct ProposalFacts {
    pub status: ProposalStatus,
    pub due_on: Option<NaiveDate>,
    /// When the (first) written reply was published.
    pub answered_on: Option<NaiveDate>,
    /// The member's latest rating.
    pub rating: Option<Rating>,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct FollowUpSummary {
    pub proposals: usize,
    pub answered: usize,
    pub answered_on_time: usize,
    pub closed: usize,
    pub satisfied: usize,
    pub open: usize,
    pub overdue: usize,
    pub commitments: usize,
    pub commitments_met: usize,
    pub commitments_missed: usize,
    pub commitments_pending: usize,
}

pub fn summarize(
    proposals: &[ProposalFacts],
    commitments: &[CommitmentStatus],
    today: NaiveDate,
) -> FollowUpSummary {
    let mut s = FollowUpSummary {
        proposals: proposals.len(),
        commitments: commitments.len(),
        ..Default::default()
    };
    for p in proposals {
        if let Some(answered) = p.answered_on {
            s.answered += 1;
            if p.due_on.is_none_or(|due| answered <= due) {
                s.answered_on_time += 1;
            }
        }
        match p.status {
            ProposalStatus::Closed => s.closed += 1,
            ProposalStatus::NotAccepted | ProposalStatus::Merged | ProposalStatus::Withdrawn => {}
            _ => s.open += 1,
        }
        if matches!(
            p.rating,
            Some(Rating::Satisfied | Rating::BasicallySatisfied)
        ) {
            s.satisfied += 1;
        }
        if is_overdue(p.status, p.due_on, today) {
            s.overdue += 1;
        }
    }
    for c in commitments {
        match c {
            CommitmentStatus::Met | CommitmentStatus::Exceeded => s.commitments_met += 1,
            CommitmentStatus::Missed => s.commitments_missed += 1,
            _ => s.commitments_pending += 1,
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn counts_follow_item_states() {
        let facts = [
            ProposalFacts {
                status: ProposalStatus::Closed,
                due_on: Some(date(2026, 3, 1)),
                answered_on: Some(date(2026, 2, 1)),
                rating: Some(Rating::Satisfied),
            },
            ProposalFacts {
                status: ProposalStatus::Closed,
                due_on: Some(date(2026, 3, 1)),
                answered_on: Some(date(2026, 3, 5)),
                rating: Some(Rating::BasicallySatisfied),
            },
            ProposalFacts {
                status: ProposalStatus::Rehandling,
                due_on: Some(date(2026, 4, 1)),
                answered_on: Some(date(2026, 2, 1)),
                rating: Some(Rating::Unsatisfied),
            },
            ProposalFacts {
                status: ProposalStatus::Assigned,
                due_on: Some(date(2026, 4, 1)),
                answered_on: None,
                rating: None,
            },
            ProposalFacts {
                status: ProposalStatus::Accepted,
                due_on: None,
                answered_on: None,
                rating: None,
            },
        ];
        let commitments = [
            CommitmentStatus::Exceeded,
            CommitmentStatus::Missed,
            CommitmentStatus::NoReport,
            CommitmentStatus::OnTrack,
        ];
        let s = summarize(&facts, &commitments, date(2026, 4, 2));
        assert_eq!(
            s,
            FollowUpSummary {
                proposals: 5,
                answered: 3,
                answered_on_time: 2,
                closed: 2,
                satisfied: 2,
                open: 3,
                overdue: 2,
                commitments: 4,
                commitments_met: 1,
                commitments_missed: 1,
                commitments_pending: 2,
            }
        );
    }
}
