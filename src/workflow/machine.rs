//! The proposal workflow as one explicit state machine: the statuses, the commands that move a
//! proposal between them, who may issue each command ([`permitted`]) and where it leads
//! ([`next_status`]). [`decide`] combines the two and is the only judge of a transition; the
//! handling service (`handling.rs`) calls it and writes the result, so no handler sets a status.
use chrono::NaiveDate;

use super::{Grade, ProposalStatus, Rating, Relation, ResponseKind, TimelineAction};

crate::vocabulary! {
    /// The commands that act on a proposal; the stored value is also the form's action name.
    pub enum CommandKind {
        Submit = "submit" => "提交",
        Withdraw = "withdraw" => "撤回",
        Accept = "accept" => "立案",
        Reject = "reject" => "不予立案",
        Merge = "merge" => "并案",
        Assign = "assign" => "交办",
        Return = "return" => "退回交办",
        CoOpinion = "co_opinion" => "提交协办意见",
        Progress = "progress" => "通报进展",
        Reply = "reply" => "书面答复",
        Rate = "rate" => "评价答复",
        Reopen = "reopen" => "重新办理",
        Extend = "extend" => "延长期限",
        Supervise = "supervise" => "督办",
        Pause = "pause" => "暂停计时",
        Resume = "resume" => "恢复计时",
    }
}

/// A measurable promise attached to a written reply.
#[derive(Clone, Debug, PartialEq)]
pub struct NewCommitment {
    pub description: String,
    pub metric: String,
    pub unit: String,
    pub target_value: f64,
    pub target_date: Option<NaiveDate>,
}

impl Command {
    /// The dates the command carries, with their labels (checked against the record's range
    /// before anything is written).
    pub fn dates(&self) -> Vec<(&'static str, NaiveDate)> {
        match self {
            Self::Assign { due_on, .. } | Self::Extend { due_on, .. } => {
                vec![("答复期限", *due_on)]
            }
            Self::Reply {
                commitment:
                    Some(NewCommitment {
                        target_date: Some(date),
                        ..
                    }),
                ..
            } => vec![("承诺完成日期", *date)],
            _ => Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Submit,
    Withdraw,
    Accept,
    Reject {
        reason: String,
    },
    Merge {
        into_code: String,
        reason: String,
    },
    Assign {
        lead: i32,
        co: Vec<i32>,
        due_on: NaiveDate,
    },
    Return {
        reason: String,
    },
    CoOpinion {
        body: String,
    },
    /// An on-the-spot record or a progress report.
    Progress {
        kind: ResponseKind,
        body: String,
    },
    Reply {
        body: String,
        doc_number: String,
        grade: Grade,
        commitment: Option<NewCommitment>,
    },
    Rate {
        rating: Rating,
        comment: String,
    },
    Reopen {
        reason: String,
    },
    Extend {
        due_on: NaiveDate,
        reason: String,
    },
    /// Sets (or lifts) the secretariat's supervision flag (督办); the status stays.
    Supervise {
        on: bool,
        reason: String,
    },
    /// Stops the reply clock while waiting on the member (the status stays).
    Pause {
        reason: String,
    },
    /// Restarts the clock; the due date moves by the paused time.
    Resume {
        note: String,
    },
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Self::Submit => CommandKind::Submit,
            Self::Withdraw => CommandKind::Withdraw,
            Self::Accept => CommandKind::Accept,
            Self::Reject { .. } => CommandKind::Reject,
            Self::Merge { .. } => CommandKind::Merge,
            Self::Assign { .. } => CommandKind::Assign,
            Self::Return { .. } => CommandKind::Return,
            Self::CoOpinion { .. } => CommandKind::CoOpinion,
            Self::Progress { .. } => CommandKind::Progress,
            Self::Reply { .. } => CommandKind::Reply,
            Self::Rate { .. } => CommandKind::Rate,
            Self::Reopen { .. } => CommandKind::Reopen,
            Self::Extend { .. } => CommandKind::Extend,
            Self::Supervise { .. } => CommandKind::Supervise,
            Self::Pause { .. } => CommandKind::Pause,
            Self::Resume { .. } => CommandKind::Resume,
        }
    }

    /// The timeline entry the command writes.
    pub fn timeline_action(&self) -> TimelineAction {
        match self {
            Self::Submit => TimelineAction::Submitted,
            Self::Withdraw => TimelineAction::Withdrawn,
            Self::Accept => TimelineAction::Accepted,
            Self::Reject { .. } => TimelineAction::NotAccepted,
            Self::Merge { .. } => TimelineAction::Merged,
            Self::Assign { .. } => TimelineAction::Assigned,
            Self::Return { .. } => TimelineAction::Returned,
            Self::CoOpinion { .. } => TimelineAction::CoOpinion,
            Self::Progress {
                kind: ResponseKind::OnTheSpot,
                ..
            } => TimelineAction::Responded,
            Self::Progress { .. } => TimelineAction::Progress,
            Self::Reply { .. } => TimelineAction::Answered,
            Self::Rate { .. } => TimelineAction::Rated,
            Self::Reopen { .. } => TimelineAction::Reopened,
            Self::Extend { .. } => TimelineAction::Extended,
            Self::Supervise { .. } => TimelineAction::Supervised,
            Self::Pause { .. } => TimelineAction::Paused,
            Self::Resume { .. } => TimelineAction::Resumed,
        }
    }
}

/// Who may issue which command: the single permission table of the workflow.
pub fn permitted(relation: Relation, kind: CommandKind) -> bool {
    use CommandKind as K;
    use Relation as R;
    match kind {
        K::Submit | K::Withdraw | K::Rate => relation == R::Author,
        K::Accept | K::Reject | K::Merge | K::Assign | K::Reopen | K::Extend | K::Supervise => {
            relation == R::Secretariat
        }
        K::Reply => relation == R::LeadAgency,
        K::CoOpinion => relation == R::CoAgency,
        K::Return | K::Progress => matches!(relation, R::LeadAgency | R::CoAgency),
        K::Pause | K::Resume => matches!(relation, R::Secretariat | R::LeadAgency),
    }
}

/// Where a command leads from `from`, or `None` when the state machine has no such edge.
/// A co-handling agency's return only ends its own part, so the proposal stays where it is.
pub fn next_status(
    from: ProposalStatus,
    relation: Relation,
    command: &Command,
) -> Option<ProposalStatus> {
    use ProposalStatus as S;
    Some(match (from, command) {
        (S::Draft, Command::Submit) => S::Submitted,
        (S::Draft | S::Submitted, Command::Withdraw) => S::Withdrawn,
        (S::Submitted, Command::Accept) => S::Accepted,
        (S::Submitted, Command::Reject { .. }) => S::NotAccepted,
        (S::Submitted | S::Accepted, Command::Merge { .. }) => S::Merged,
        (S::Accepted, Command::Assign { .. }) => S::Assigned,
        (S::Assigned | S::Rehandling, Command::Return { .. })
            if relation == Relation::LeadAgency =>
        {
            S::Accepted
        }
        (S::Assigned | S::Rehandling, Command::Return { .. }) => from,
        (S::Assigned | S::Rehandling, Command::CoOpinion { .. }) => from,
        (S::Assigned | S::Rehandling | S::Answered, Command::Progress { .. }) => from,
        (S::Assigned | S::Rehandling, Command::Reply { .. }) => S::Answered,
        (
            S::Answered,
            Command::Rate {
                rating: Rating::Unsatisfied,
                ..
            },
        ) => S::Rehandling,
        (S::Answered, Command::Rate { .. }) => S::Closed,
        (S::Closed, Command::Reopen { .. }) => S::Rehandling,
        (S::Assigned | S::Rehandling, Command::Extend { .. }) => from,
        (S::Assigned | S::Rehandling | S::Answered, Command::Supervise { .. }) => from,
        (S::Assigned | S::Rehandling, Command::Pause { .. } | Command::Resume { .. }) => from,
        _ => return None,
    })
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("not permitted")]
    NotPermitted,
    #[error("{} is not possible while the proposal is {}", .command.as_str(), .from.as_str())]
    IllegalTransition {
        from: ProposalStatus,
        command: CommandKind,
    },
}

impl WorkflowError {
    /// The message shown to the user.
    pub fn message(&self) -> String {
        match self {
            Self::NotPermitted => "您无权进行此操作。".to_owned(),
            Self::IllegalTransition { from, command } => {
                format!(
                    "建议当前为“{}”,不能进行“{}”。",
                    from.label(),
                    command.label()
                )
            }
        }
    }
}

/// The one judge of a transition: permission first, then the state machine.
pub fn decide(
    from: ProposalStatus,
    relation: Relation,
    command: &Command,
) -> Result<ProposalStatus, WorkflowError> {
    if !permitted(relation, command.kind()) {
        return Err(WorkflowError::NotPermitted);
    }
    next_status(from, relation, command).ok_or(WorkflowError::IllegalTransition {
        from,
        command: command.kind(),
    })
}

impl Command {
    /// A representative command of `kind`, for asking the state machine what is possible.
    fn example(kind: CommandKind) -> Self {
        let day = NaiveDate::MAX;
        match kind {
            CommandKind::Submit => Self::Submit,
            CommandKind::Withdraw => Self::Withdraw,
            CommandKind::Accept => Self::Accept,
            CommandKind::Reject => Self::Reject {
                reason: String::new(),
            },
            CommandKind::Merge => Self::Merge {
                into_code: String::new(),
                reason: String::new(),
            },
            CommandKind::Assign => Self::Assign {
                lead: 0,
                co: Vec::new(),
                due_on: day,
            },
            CommandKind::Return => Self::Return {
                reason: String::new(),
            },
            CommandKind::CoOpinion => Self::CoOpinion {
                body: String::new(),
            },
            CommandKind::Progress => Self::Progress {
                kind: ResponseKind::Progress,
                body: String::new(),
            },
            CommandKind::Reply => Self::Reply {
                body: String::new(),
                doc_number: String::new(),
                grade: Grade::A,
                commitment: None,
            },
            CommandKind::Rate => Self::Rate {
                rating: Rating::Satisfied,
                comment: String::new(),
            },
            CommandKind::Reopen => Self::Reopen {
                reason: String::new(),
            },
            CommandKind::Extend => Self::Extend {
                due_on: day,
                reason: String::new(),
            },
            CommandKind::Supervise => Self::Supervise {
                on: true,
                reason: String::new(),
            },
            CommandKind::Pause => Self::Pause {
                reason: String::new(),
            },
            CommandKind::Resume => Self::Resume {
                note: String::new(),
            },
        }
    }
}

/// The commands `relation` may issue on a proposal in status `from` (the forms a page offers).
pub fn available(from: ProposalStatus, relation: Relation) -> Vec<CommandKind> {
    CommandKind::ALL
        .iter()
        .copied()
        .filter(|kind| decide(from, relation, &Command::example(*kind)).is_ok())
        .collect()
}

/// Overdue: past its due date with no written reply yet, and the clock not paused.
pub fn is_overdue(
    status: ProposalStatus,
    due_on: Option<NaiveDate>,
    paused: bool,
    today: NaiveDate,
) -> bool {
    !paused
        && matches!(
            status,
            ProposalStatus::Assigned | ProposalStatus::Rehandling
        )
        && due_on.is_some_and(|due| due < today)
}

/// Whether a pause-clock command fits the clock's state (pause a running clock, resume a stopped one).
pub fn clock_command_fits(kind: CommandKind, paused: bool) -> bool {
    match kind {
        CommandKind::Pause => !paused,
        CommandKind::Resume => paused,
        _ => true,
    }
}

/// An agency may return a wrong assignment only within `window_days` of receiving it.
pub fn may_return(assigned_on: NaiveDate, today: NaiveDate, window_days: i64) -> bool {
    (today - assigned_on).num_days() <= window_days
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProposalStatus as S;
    use Relation as R;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn samples() -> Vec<Command> {
        vec![
            Command::Submit,
            Command::Withdraw,
            Command::Accept,
            Command::Reject { reason: "r".into() },
            Command::Merge {
                into_code: "TS-1".into(),
                reason: "r".into(),
            },
            Command::Assign {
                lead: 1,
                co: vec![2],
                due_on: date(2030, 1, 1),
            },
            Command::Return { reason: "r".into() },
            Command::CoOpinion { body: "b".into() },
            Command::Progress {
                kind: ResponseKind::Progress,
                body: "b".into(),
            },
            Command::Reply {
                body: "b".into(),
                doc_number: "n".into(),
                grade: Grade::A,
                commitment: None,
            },
            Command::Rate {
                rating: Rating::Satisfied,
                comment: String::new(),
            },
            Command::Rate {
                rating: Rating::Unsatisfied,
                comment: "c".into(),
            },
            Command::Reopen { reason: "r".into() },
            Command::Extend {
                due_on: date(2030, 1, 1),
                reason: "r".into(),
            },
            Command::Supervise {
                on: true,
                reason: "r".into(),
            },
            Command::Pause { reason: "r".into() },
            Command::Resume { note: "n".into() },
        ]
    }

    const RELATIONS: [Relation; 7] = [
        R::Public,
        R::Author,
        R::OtherMember,
        R::Secretariat,
        R::LeadAgency,
        R::CoAgency,
        R::OtherAgency,
    ];

    #[test]
    fn the_happy_path_from_draft_to_closed() {
        let steps = [
            (R::Author, Command::Submit, S::Submitted),
            (R::Secretariat, Command::Accept, S::Accepted),
            (
                R::Secretariat,
                Command::Assign {
                    lead: 1,
                    co: vec![2],
                    due_on: date(2030, 1, 1),
                },
                S::Assigned,
            ),
            (
                R::CoAgency,
                Command::CoOpinion {
                    body: "协办意见".into(),
                },
                S::Assigned,
            ),
            (
                R::LeadAgency,
                Command::Progress {
                    kind: ResponseKind::Progress,
                    body: "进展".into(),
                },
                S::Assigned,
            ),
            (
                R::LeadAgency,
                Command::Reply {
                    body: "答复".into(),
                    doc_number: "1".into(),
                    grade: Grade::B,
                    commitment: None,
                },
                S::Answered,
            ),
            (
                R::Author,
                Command::Rate {
                    rating: Rating::Unsatisfied,
                    comment: "不满意".into(),
                },
                S::Rehandling,
            ),
            (
                R::LeadAgency,
                Command::Reply {
                    body: "再答复".into(),
                    doc_number: "2".into(),
                    grade: Grade::A,
                    commitment: None,
                },
                S::Answered,
            ),
            (
                R::Author,
                Command::Rate {
                    rating: Rating::Satisfied,
                    comment: String::new(),
                },
                S::Closed,
            ),
            (
                R::Secretariat,
                Command::Reopen {
                    reason: "回头看".into(),
                },
                S::Rehandling,
            ),
        ];
        let mut status = S::Draft;
        for (relation, command, expected) in steps {
            status =
                decide(status, relation, &command).unwrap_or_else(|e| panic!("{command:?}: {e}"));
            assert_eq!(status, expected, "{command:?}");
        }
    }

    #[test]
    fn only_the_permitted_relation_may_issue_each_command() {
        for command in samples() {
            let allowed: Vec<Relation> = RELATIONS
                .into_iter()
                .filter(|r| permitted(*r, command.kind()))
                .collect();
            assert!(!allowed.is_empty(), "{command:?} has no one allowed");
            assert!(
                !allowed.contains(&R::Public)
                    && !allowed.contains(&R::OtherMember)
                    && !allowed.contains(&R::OtherAgency)
            );
            for relation in RELATIONS {
                if !allowed.contains(&relation) {
                    assert_eq!(
                        decide(S::Submitted, relation, &command),
                        Err(WorkflowError::NotPermitted)
                    );
                }
            }
        }
    }

    #[test]
    fn illegal_transitions_are_refused() {
        let refused = [
            (S::Draft, R::Secretariat, Command::Accept),
            (S::Submitted, R::Author, Command::Submit),
            (S::Accepted, R::Author, Command::Withdraw),
            (
                S::Closed,
                R::LeadAgency,
                Command::Reply {
                    body: "b".into(),
                    doc_number: "n".into(),
                    grade: Grade::A,
                    commitment: None,
                },
            ),
            (
                S::Assigned,
                R::Author,
                Command::Rate {
                    rating: Rating::Satisfied,
                    comment: String::new(),
                },
            ),
            (
                S::Answered,
                R::Secretariat,
                Command::Reopen { reason: "r".into() },
            ),
            (S::Withdrawn, R::Author, Command::Submit),
            (S::NotAccepted, R::Secretariat, Command::Accept),
            (
                S::Draft,
                R::LeadAgency,
                Command::Progress {
                    kind: ResponseKind::Progress,
                    body: "b".into(),
                },
            ),
        ];
        for (from, relation, command) in refused {
            assert!(
                matches!(
                    decide(from, relation, &command),
                    Err(WorkflowError::IllegalTransition { .. })
                ),
                "{from:?} {command:?}"
            );
        }
    }

    #[test]
    fn every_status_has_a_way_forward_or_is_final() {
        let finals = [S::NotAccepted, S::Merged, S::Withdrawn];
        for status in ProposalStatus::ALL {
            let moves = samples().iter().any(|c| {
                RELATIONS
                    .iter()
                    .any(|r| decide(*status, *r, c).is_ok_and(|to| to != *status))
            });
            assert_eq!(moves, !finals.contains(status), "{status:?}");
        }
    }

    #[test]
    fn returns_by_lead_go_back_to_the_secretariat_but_not_by_co() {
        let ret = Command::Return {
            reason: "非本单位职责".into(),
        };
        assert_eq!(decide(S::Assigned, R::LeadAgency, &ret), Ok(S::Accepted));
        assert_eq!(decide(S::Assigned, R::CoAgency, &ret), Ok(S::Assigned));
        assert!(may_return(date(2026, 1, 1), date(2026, 1, 8), 7));
        assert!(!may_return(date(2026, 1, 1), date(2026, 1, 9), 7));
    }

    #[test]
    fn pages_offer_exactly_the_available_commands() {
        assert_eq!(
            available(S::Draft, R::Author),
            vec![CommandKind::Submit, CommandKind::Withdraw]
        );
        assert_eq!(
            available(S::Submitted, R::Secretariat),
            vec![CommandKind::Accept, CommandKind::Reject, CommandKind::Merge]
        );
        assert_eq!(
            available(S::Assigned, R::CoAgency),
            vec![
                CommandKind::Return,
                CommandKind::CoOpinion,
                CommandKind::Progress
            ]
        );
        assert_eq!(available(S::Answered, R::Author), vec![CommandKind::Rate]);
        assert!(available(S::Closed, R::Public).is_empty());
        assert!(available(S::Assigned, R::OtherAgency).is_empty());
    }

    #[test]
    fn overdue_means_past_due_without_a_written_reply() {
        let due = Some(date(2026, 3, 31));
        assert!(!is_overdue(S::Assigned, due, false, date(2026, 3, 31)));
        assert!(is_overdue(S::Assigned, due, false, date(2026, 4, 1)));
        assert!(is_overdue(S::Rehandling, due, false, date(2026, 4, 1)));
        assert!(
            !is_overdue(S::Answered, due, false, date(2026, 4, 1)),
            "answered in writing"
        );
        assert!(!is_overdue(S::Closed, due, false, date(2027, 1, 1)));
        assert!(!is_overdue(S::Assigned, None, false, date(2027, 1, 1)));
        assert!(
            !is_overdue(S::Assigned, due, true, date(2026, 4, 1)),
            "a paused clock is not overdue"
        );
        assert!(clock_command_fits(CommandKind::Pause, false));
        assert!(!clock_command_fits(CommandKind::Pause, true));
        assert!(clock_command_fits(CommandKind::Resume, true));
        assert!(!clock_command_fits(CommandKind::Resume, false));
    }

    #[test]
    fn only_decided_statuses_are_public() {
        let public = ProposalStatus::public_statuses();
        assert!(public.contains(&"accepted") && public.contains(&"closed"));
        for hidden in ["draft", "submitted", "not_accepted", "withdrawn"] {
            assert!(!public.contains(&hidden), "{hidden} must not be public");
        }
    }
}
