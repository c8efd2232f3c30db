//! The proposal workflow as one explicit state machine: the commands that move a proposal between
//! statuses, who may issue each command ([`permitted`]), where it leads ([`next_status`]) and the
//! guards that depend on more than the status ([`Facts`]: the reply clock, the return window, the
//! co-handling opinions, a complete draft). [`decide`] combines the three and is the only judge of
//! a command; [`available`] asks it, so a page offers exactly what `proposals::handling::apply`
//! (which calls `decide` and writes the result) accepts.
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

/// What the guards need to know besides the status and the actor's relation; gathered by
/// `proposals::handling::load` with the proposal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The reply clock is stopped (暂停计时).
    pub paused: bool,
    /// For an agency: whole days since it received its active assignment.
    pub days_since_assigned: Option<i64>,
    /// How many days an agency has to return a wrong assignment (`Config::return_window_days`).
    pub return_window_days: i64,
    /// Co-handling agencies (short names) whose opinion is not in yet; known to the lead agency.
    pub missing_co_opinions: Vec<String>,
    /// What a draft still lacks before it can be submitted; known to its author.
    pub draft_problems: Vec<String>,
    /// Personal information found in the item's text that the secretariat has not reviewed yet
    /// (`privacy::review`): the item cannot be made public until it has.
    pub unreviewed_personal_info: usize,
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
    #[error("the reply clock is already paused")]
    ClockPaused,
    #[error("the reply clock is not paused")]
    ClockRunning,
    #[error("the return window of {days} days has passed")]
    ReturnWindowClosed { days: i64 },
    #[error("co-handling opinions missing")]
    CoOpinionsMissing(Vec<String>),
    #[error("the draft is incomplete")]
    DraftIncomplete(Vec<String>),
    #[error("personal information not reviewed")]
    PersonalInfoUnreviewed(usize),
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
            Self::ClockPaused => "答复计时已经暂停。".to_owned(),
            Self::ClockRunning => "答复计时没有暂停。".to_owned(),
            Self::ReturnWindowClosed { days } => {
                format!("交办已超过{days}天,不能退回;如确有误,请与秘书处联系。")
            }
            Self::CoOpinionsMissing(names) => format!(
                "协办单位({})尚未提交协办意见,主办单位暂不能作出书面答复。",
                names.join("、")
            ),
            Self::DraftIncomplete(problems) => problems.join(" "),
            Self::PersonalInfoUnreviewed(n) => format!(
                "正文中有 {n} 处疑似个人信息尚未审核,请先在“个人信息审核”中隐去或确认后再立案公开。"
            ),
        }
    }

    /// Whether the command's input, rather than the proposal's state, is at fault (a 400, not a 409).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::ClockPaused | Self::ClockRunning | Self::DraftIncomplete(_)
        )
    }
}

/// The guards beyond the status: `None` when `kind` may go ahead given `facts`.
fn guard(kind: CommandKind, facts: &Facts) -> Option<WorkflowError> {
    match kind {
        CommandKind::Pause if facts.paused => Some(WorkflowError::ClockPaused),
        CommandKind::Resume if !facts.paused => Some(WorkflowError::ClockRunning),
        CommandKind::Return
            if facts
                .days_since_assigned
                .is_some_and(|days| days > facts.return_window_days) =>
        {
            Some(WorkflowError::ReturnWindowClosed {
                days: facts.return_window_days,
            })
        }
        CommandKind::Reply if !facts.missing_co_opinions.is_empty() => Some(
            WorkflowError::CoOpinionsMissing(facts.missing_co_opinions.clone()),
        ),
        CommandKind::Submit if !facts.draft_problems.is_empty() => {
            Some(WorkflowError::DraftIncomplete(facts.draft_problems.clone()))
        }
        // Accepting publishes the item.
        CommandKind::Accept if facts.unreviewed_personal_info > 0 => Some(
            WorkflowError::PersonalInfoUnreviewed(facts.unreviewed_personal_info),
        ),
        _ => None,
    }
}

/// The one judge of a command: permission first, then the state machine, then the guards.
pub fn decide(
    from: ProposalStatus,
    relation: Relation,
    facts: &Facts,
    command: &Command,
) -> Result<ProposalStatus, WorkflowError> {
    if !permitted(relation, command.kind()) {
        return Err(WorkflowError::NotPermitted);
    }
    let to = next_status(from, relation, command).ok_or(WorkflowError::IllegalTransition {
        from,
        command: command.kind(),
    })?;
    match guard(command.kind(), facts) {
        Some(refused) => Err(refused),
        None => Ok(to),
    }
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
pub fn available(from: ProposalStatus, relation: Relation, facts: &Facts) -> Vec<CommandKind> {
    CommandKind::ALL
        .iter()
        .copied()
        .filter(|kind| decide(from, relation, facts, &Command::example(*kind)).is_ok())
        .collect()
}

/// The commands `relation` could issue in status `from` but a guard holds back, with the reason
/// (the page says why the form is missing, e.g. a reply waiting for co-handling opinions). The
/// clock commands are left out: one of the pair is always held back.
pub fn held_back(
    from: ProposalStatus,
    relation: Relation,
    facts: &Facts,
) -> Vec<(CommandKind, WorkflowError)> {
    CommandKind::ALL
        .iter()
        .copied()
        .filter(|kind| !matches!(kind, CommandKind::Pause | CommandKind::Resume))
        .filter_map(
            |kind| match decide(from, relation, facts, &Command::example(kind)) {
                Err(
                    refused @ (WorkflowError::ReturnWindowClosed { .. }
                    | WorkflowError::CoOpinionsMissing(_)
                    | WorkflowError::DraftIncomplete(_)
                    | WorkflowError::PersonalInfoUnreviewed(_)),
                ) => Some((kind, refused)),
                _ => None,
            },
        )
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
            status = decide(status, relation, &Facts::default(), &command)
                .unwrap_or_else(|e| panic!("{command:?}: {e}"));
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
                        decide(S::Submitted, relation, &Facts::default(), &command),
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
                    decide(from, relation, &Facts::default(), &command),
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
                RELATIONS.iter().any(|r| {
                    decide(*status, *r, &Facts::default(), c).is_ok_and(|to| to != *status)
                })
            });
            assert_eq!(moves, !finals.contains(status), "{status:?}");
        }
    }

    #[test]
    fn returns_by_lead_go_back_to_the_secretariat_but_not_by_co() {
        let ret = Command::Return {
            reason: "非本单位职责".into(),
        };
        assert_eq!(
            decide(S::Assigned, R::LeadAgency, &Facts::default(), &ret),
            Ok(S::Accepted)
        );
        assert_eq!(
            decide(S::Assigned, R::CoAgency, &Facts::default(), &ret),
            Ok(S::Assigned)
        );
        let within = |days| Facts {
            days_since_assigned: Some(days),
            return_window_days: 7,
            ..Facts::default()
        };
        assert_eq!(
            decide(S::Assigned, R::CoAgency, &within(7), &ret),
            Ok(S::Assigned)
        );
        assert_eq!(
            decide(S::Assigned, R::CoAgency, &within(8), &ret),
            Err(WorkflowError::ReturnWindowClosed { days: 7 })
        );
    }

    #[test]
    fn pages_offer_exactly_the_available_commands() {
        assert_eq!(
            available(S::Draft, R::Author, &Facts::default()),
            vec![CommandKind::Submit, CommandKind::Withdraw]
        );
        assert_eq!(
            available(S::Submitted, R::Secretariat, &Facts::default()),
            vec![CommandKind::Accept, CommandKind::Reject, CommandKind::Merge]
        );
        assert_eq!(
            available(S::Assigned, R::CoAgency, &Facts::default()),
            vec![
                CommandKind::Return,
                CommandKind::CoOpinion,
                CommandKind::Progress
            ]
        );
        assert_eq!(
            available(S::Answered, R::Author, &Facts::default()),
            vec![CommandKind::Rate]
        );
        assert!(available(S::Closed, R::Public, &Facts::default()).is_empty());
        assert!(available(S::Assigned, R::OtherAgency, &Facts::default()).is_empty());
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
        let running = Facts::default();
        let paused = Facts {
            paused: true,
            ..Facts::default()
        };
        let offered = |facts: &Facts| available(S::Assigned, R::LeadAgency, facts);
        assert!(offered(&running).contains(&CommandKind::Pause));
        assert!(!offered(&running).contains(&CommandKind::Resume));
        assert!(offered(&paused).contains(&CommandKind::Resume));
        assert!(!offered(&paused).contains(&CommandKind::Pause));
    }

    #[test]
    fn only_decided_statuses_are_public() {
        let public = ProposalStatus::public_statuses();
        assert!(public.contains(&"accepted") && public.contains(&"closed"));
        for hidden in ["draft", "submitted", "not_accepted", "withdrawn"] {
            assert!(!public.contains(&hidden), "{hidden} must not be public");
        }
    }

    #[test]
    fn an_item_with_unreviewed_personal_information_is_not_accepted_into_the_public_record() {
        let found = Facts {
            unreviewed_personal_info: 2,
            ..Facts::default()
        };
        assert_eq!(
            decide(S::Submitted, R::Secretariat, &found, &Command::Accept),
            Err(WorkflowError::PersonalInfoUnreviewed(2))
        );
        let held = held_back(S::Submitted, R::Secretariat, &found);
        assert!(held.iter().any(|(kind, _)| *kind == CommandKind::Accept));
        // Not accepting it, or sending it back, stays possible.
        assert!(available(S::Submitted, R::Secretariat, &found).contains(&CommandKind::Reject));
        assert!(available(S::Submitted, R::Secretariat, &Facts::default())
            .contains(&CommandKind::Accept));
    }

    #[test]
    fn a_reply_waits_for_the_co_handling_opinions_and_the_page_says_so() {
        let waiting = Facts {
            missing_co_opinions: vec!["市财政局".into()],
            ..Facts::default()
        };
        assert!(!available(S::Assigned, R::LeadAgency, &waiting).contains(&CommandKind::Reply));
        let held = held_back(S::Assigned, R::LeadAgency, &waiting);
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].0, CommandKind::Reply);
        assert!(held[0].1.message().contains("市财政局"));
        assert!(
            available(S::Assigned, R::LeadAgency, &Facts::default()).contains(&CommandKind::Reply)
        );
    }

    fn any_command() -> impl proptest::strategy::Strategy<Value = Command> {
        use proptest::prelude::*;
        let text = || prop_oneof![Just(String::new()), "[a-z理由 ]{1,8}"];
        let day = || {
            (2000i32..2100, 1u32..13, 1u32..29)
                .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap())
        };
        prop_oneof![
            Just(Command::Submit),
            Just(Command::Withdraw),
            Just(Command::Accept),
            text().prop_map(|reason| Command::Reject { reason }),
            (text(), text()).prop_map(|(into_code, reason)| Command::Merge { into_code, reason }),
            (1i32..50, proptest::collection::vec(1i32..50, 0..3), day())
                .prop_map(|(lead, co, due_on)| Command::Assign { lead, co, due_on }),
            text().prop_map(|reason| Command::Return { reason }),
            text().prop_map(|body| Command::CoOpinion { body }),
            (proptest::sample::select(ResponseKind::ALL), text())
                .prop_map(|(kind, body)| Command::Progress { kind, body }),
            (
                text(),
                text(),
                proptest::sample::select(Grade::ALL),
                any::<bool>(),
                day()
            )
                .prop_map(|(body, doc_number, grade, promise, date)| Command::Reply {
                    body,
                    doc_number,
                    grade,
                    commitment: promise.then(|| NewCommitment {
                        description: "d".into(),
                        metric: "m".into(),
                        unit: "u".into(),
                        target_value: 1.0,
                        target_date: Some(date),
                    }),
                }),
            (proptest::sample::select(Rating::ALL), text())
                .prop_map(|(rating, comment)| Command::Rate { rating, comment }),
            text().prop_map(|reason| Command::Reopen { reason }),
            (day(), text()).prop_map(|(due_on, reason)| Command::Extend { due_on, reason }),
            (any::<bool>(), text()).prop_map(|(on, reason)| Command::Supervise { on, reason }),
            text().prop_map(|reason| Command::Pause { reason }),
            text().prop_map(|note| Command::Resume { note }),
        ]
    }

    fn any_facts() -> impl proptest::strategy::Strategy<Value = Facts> {
        use proptest::prelude::*;
        let names = || proptest::collection::vec("[a-z市局]{1,4}", 0..3);
        (
            any::<bool>(),
            proptest::option::of(0i64..30),
            0i64..15,
            names(),
            names(),
            0usize..3,
        )
            .prop_map(
                |(
                    paused,
                    days_since_assigned,
                    return_window_days,
                    missing_co_opinions,
                    draft_problems,
                    unreviewed_personal_info,
                )| Facts {
                    paused,
                    days_since_assigned,
                    return_window_days,
                    missing_co_opinions,
                    draft_problems,
                    unreviewed_personal_info,
                },
            )
    }

    proptest::proptest! {
        /// Every state × relation × facts: a command is accepted exactly when the page would
        /// offer its kind, whatever the command carries; and a held-back command is never offered.
        #[test]
        fn pages_offer_exactly_what_decide_accepts(
            from in proptest::sample::select(ProposalStatus::ALL),
            relation in proptest::sample::select(RELATIONS.to_vec()),
            facts in any_facts(),
            command in any_command(),
        ) {
            let offered = available(from, relation, &facts);
            let accepted = decide(from, relation, &facts, &command).is_ok();
            proptest::prop_assert_eq!(accepted, offered.contains(&command.kind()), "{:?} {:?} {:?} {:?}", from, relation, facts, command);
            for (kind, _) in held_back(from, relation, &facts) {
                proptest::prop_assert!(!offered.contains(&kind));
            }
        }
    }
}
