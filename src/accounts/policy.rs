//! How a user relates to a proposal — the input to every permission decision. What each relation
//! may do is decided in one place, `workflow::permitted`; what it may see, here.
use super::{Actor, Role};
use crate::workflow::Relation;
use crate::workflow::{AssignmentRole, ProposalStatus};

/// An active assignment of the proposal: (agency id, role).
pub type ActiveAssignment = (i32, AssignmentRole);

pub fn relation(
    actor: Option<&Actor>,
    author_id: Option<i32>,
    assignments: &[ActiveAssignment],
) -> Relation {
    let Some(actor) = actor else {
        return Relation::Public;
    };
    match actor.role {
        Role::Admin | Role::Secretariat => Relation::Secretariat,
        Role::Member if actor.person_id.is_some() && actor.person_id == author_id => {
            Relation::Author
        }
        Role::Member => Relation::OtherMember,
        Role::AgencyStaff => match assignments
            .iter()
            .find(|(agency, _)| Some(*agency) == actor.agency_id)
        {
            Some((_, AssignmentRole::Lead)) => Relation::LeadAgency,
            Some((_, AssignmentRole::Co)) => Relation::CoAgency,
            None => Relation::OtherAgency,
        },
    }
}

/// Whether the proposal's working page (with its internal events) may be seen.
pub fn can_see(relation: Relation, status: ProposalStatus, published: bool) -> bool {
    match relation {
        Relation::Author | Relation::Secretariat | Relation::LeadAgency | Relation::CoAgency => {
            true
        }
        Relation::Public | Relation::OtherMember | Relation::OtherAgency => {
            published && status.is_public()
        }
    }
}

/// Whether the reason `returned_by` (an agency) gave for returning its assignment may be shown: to
/// the secretariat, to that agency and to the proposal's lead agency, who have to sort the
/// assignment out — not to the author, other members or other agencies. `None` when the returning
/// agency is not known (a timeline note), so only the secretariat and the lead see it.
pub fn may_see_return_reason(actor: &Actor, relation: Relation, returned_by: Option<i32>) -> bool {
    match relation {
        Relation::Secretariat | Relation::LeadAgency => true,
        _ => {
            actor.role == Role::AgencyStaff
                && actor.agency_id.is_some_and(|a| Some(a) == returned_by)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, person: Option<i32>, agency: Option<i32>) -> Actor {
        Actor {
            user_id: 1,
            username: "u".into(),
            display_name: "u".into(),
            role,
            person_id: person,
            agency_id: agency,
        }
    }

    #[test]
    fn relations_follow_role_and_ownership() {
        let assignments = [(10, AssignmentRole::Lead), (11, AssignmentRole::Co)];
        assert_eq!(relation(None, Some(1), &assignments), Relation::Public);
        assert_eq!(
            relation(
                Some(&actor(Role::Member, Some(1), None)),
                Some(1),
                &assignments
            ),
            Relation::Author
        );
        assert_eq!(
            relation(
                Some(&actor(Role::Member, Some(2), None)),
                Some(1),
                &assignments
            ),
            Relation::OtherMember
        );
        assert_eq!(
            relation(Some(&actor(Role::Member, None, None)), None, &assignments),
            Relation::OtherMember
        );
        assert_eq!(
            relation(
                Some(&actor(Role::AgencyStaff, None, Some(10))),
                Some(1),
                &assignments
            ),
            Relation::LeadAgency
        );
        assert_eq!(
            relation(
                Some(&actor(Role::AgencyStaff, None, Some(11))),
                Some(1),
                &assignments
            ),
            Relation::CoAgency
        );
        assert_eq!(
            relation(
                Some(&actor(Role::AgencyStaff, None, Some(12))),
                Some(1),
                &assignments
            ),
            Relation::OtherAgency
        );
        assert_eq!(
            relation(Some(&actor(Role::Admin, None, None)), Some(1), &assignments),
            Relation::Secretariat
        );
    }

    #[test]
    fn drafts_are_seen_only_by_their_author_and_the_secretariat() {
        assert!(can_see(Relation::Author, ProposalStatus::Draft, false));
        assert!(can_see(
            Relation::Secretariat,
            ProposalStatus::Submitted,
            false
        ));
        assert!(!can_see(
            Relation::OtherMember,
            ProposalStatus::Submitted,
            false
        ));
        assert!(!can_see(
            Relation::Public,
            ProposalStatus::NotAccepted,
            true
        ));
        assert!(can_see(Relation::Public, ProposalStatus::Closed, true));
    }

    #[test]
    fn return_reasons_are_for_the_secretariat_the_lead_and_the_returning_agency() {
        let staff = |agency| actor(Role::AgencyStaff, None, Some(agency));
        let secretariat = actor(Role::Secretariat, None, None);
        assert!(may_see_return_reason(
            &secretariat,
            Relation::Secretariat,
            Some(11)
        ));
        assert!(may_see_return_reason(
            &secretariat,
            Relation::Secretariat,
            None
        ));
        assert!(may_see_return_reason(
            &staff(10),
            Relation::LeadAgency,
            Some(11)
        ));
        // The returning agency no longer has an active assignment: it relates as another agency.
        assert!(may_see_return_reason(
            &staff(11),
            Relation::OtherAgency,
            Some(11)
        ));
        assert!(!may_see_return_reason(
            &staff(11),
            Relation::OtherAgency,
            None
        ));
        assert!(!may_see_return_reason(
            &staff(12),
            Relation::OtherAgency,
            Some(11)
        ));
        assert!(!may_see_return_reason(
            &staff(13),
            Relation::CoAgency,
            Some(11)
        ));
        let member = actor(Role::Member, Some(1), None);
        assert!(!may_see_return_reason(&member, Relation::Author, Some(11)));
        assert!(!may_see_return_reason(
            &member,
            Relation::OtherMember,
            Some(11)
        ));
    }
}

crate::vocabulary! {
    /// What an actor asks to do outside a proposal's workflow (the workflow's commands are judged
    /// by the actor's relation to the proposal, in `workflow::permitted`).
    pub enum Action {
        RunSessions = "run_sessions" => "管理协商活动",
        ManageAgencies = "manage_agencies" => "管理承办单位",
        ManageCalendar = "manage_calendar" => "维护工作日历",
        CurateSynonyms = "curate_synonyms" => "维护检索同义词",
        ImportArchive = "import_archive" => "导入档案",
        RegisterIntake = "register_intake" => "登记来件",
        ManageAccounts = "manage_accounts" => "管理账号",
        ReadAuditLog = "read_audit_log" => "查看审计日志",
        ManageApiTokens = "manage_api_tokens" => "管理接口令牌",
        WriteProposals = "write_proposals" => "撰写建议",
        ReportActuals = "report_actuals" => "报告承诺完成情况",
        ReviewPersonalInfo = "review_personal_info" => "审核个人信息",
        WatchMail = "watch_mail" => "查看邮件发送情况",
        CorrectRecord = "correct_record" => "更正已公开的建议",
        CorrectReplies = "correct_replies" => "更正已公开的答复和承诺",
        AttachEvidence = "attach_evidence" => "为答复上传附件",
    }
}

/// Who may do what: each action and the roles that may. Some actions are narrowed further by
/// the object acted on ([`Object`], see [`allows`]).
pub const TABLE: &[(Action, &[Role])] = &[
    (Action::RunSessions, &[Role::Admin, Role::Secretariat]),
    (Action::ManageAgencies, &[Role::Admin, Role::Secretariat]),
    (Action::ManageCalendar, &[Role::Admin, Role::Secretariat]),
    (Action::CurateSynonyms, &[Role::Admin, Role::Secretariat]),
    (Action::ImportArchive, &[Role::Admin, Role::Secretariat]),
    (Action::RegisterIntake, &[Role::Admin, Role::Secretariat]),
    // …but never on an account of a higher role than one's own (`Object::Account`).
    (Action::ManageAccounts, &[Role::Admin, Role::Secretariat]),
    (Action::ReadAuditLog, &[Role::Admin]),
    (Action::ManageApiTokens, &[Role::Admin]),
    // …only a member account linked to a person (the author of record).
    (Action::WriteProposals, &[Role::Member]),
    // …agency staff only for their own agency's commitments (`Object::OfAgency`).
    (
        Action::ReportActuals,
        &[Role::Admin, Role::Secretariat, Role::AgencyStaff],
    ),
    // Sees the originals of redacted texts and the callers' private details.
    (
        Action::ReviewPersonalInfo,
        &[Role::Admin, Role::Secretariat],
    ),
    // The outbox's failures name recipients' addresses.
    (Action::WatchMail, &[Role::Admin, Role::Secretariat]),
    // A published proposal's title or text (a typo, a name to fix): the secretariat's record.
    (Action::CorrectRecord, &[Role::Admin, Role::Secretariat]),
    // …agency staff only for their own agency's replies and commitments (`Object::OfAgency`).
    (
        Action::CorrectReplies,
        &[Role::Admin, Role::Secretariat, Role::AgencyStaff],
    ),
    // Files behind a reply (the signed letter, the evidence of an actual): …agency staff only
    // for their own agency's replies (`Object::OfAgency`).
    (
        Action::AttachEvidence,
        &[Role::Admin, Role::Secretariat, Role::AgencyStaff],
    ),
];

/// What an action is done to, where that matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// Nothing in particular (a list, a new item).
    Any,
    /// An account with this role (creating, disabling, re-enabling it).
    Account(Role),
    /// Something an agency owns (a commitment), by agency id.
    OfAgency(i32),
}

/// How far a role reaches in account management: no one acts on an account above their own.
fn rank(role: Role) -> u8 {
    match role {
        Role::Admin => 3,
        Role::Secretariat => 2,
        Role::Member | Role::AgencyStaff => 1,
    }
}

/// The one answer to "may this actor do this (to this object)".
pub fn allows(actor: &Actor, action: Action, object: Object) -> bool {
    let by_role = TABLE
        .iter()
        .any(|(a, roles)| *a == action && roles.contains(&actor.role));
    by_role
        && match (action, object) {
            (Action::ManageAccounts, Object::Account(target)) => rank(target) <= rank(actor.role),
            (Action::WriteProposals, _) => actor.person_id.is_some(),
            (
                Action::ReportActuals | Action::CorrectReplies | Action::AttachEvidence,
                Object::OfAgency(owner),
            ) => actor.role != Role::AgencyStaff || actor.agency_id == Some(owner),
            // Staff act on their own agency's commitments and replies only: never without
            // knowing whose.
            (Action::ReportActuals | Action::CorrectReplies | Action::AttachEvidence, _) => {
                actor.role != Role::AgencyStaff
            }
            _ => true,
        }
}

/// [`allows`] as a handler asks it: forbidden (403) unless allowed.
pub fn require(actor: &Actor, action: Action) -> Result<(), crate::error::AppError> {
    require_on(actor, action, Object::Any)
}

/// [`require`] for an action on a particular object.
pub fn require_on(
    actor: &Actor,
    action: Action,
    object: Object,
) -> Result<(), crate::error::AppError> {
    if allows(actor, action, object) {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden)
    }
}

/// Only the author edits, and only while it is a draft.
/// A withheld file (its content holds personal information) is opened only by those who review
/// personal information and by whoever uploaded it; everyone else, the public included, gets its
/// name and its redacted text.
pub fn may_open_withheld(actor: Option<&Actor>, uploaded_by: Option<i32>) -> bool {
    actor.is_some_and(|actor| {
        allows(actor, Action::ReviewPersonalInfo, Object::Any)
            || uploaded_by.is_some_and(|u| u == actor.user_id)
    })
}

pub fn may_edit_draft(relation: Relation, status: ProposalStatus) -> bool {
    relation == Relation::Author && status == ProposalStatus::Draft
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn actor(role: Role, person: Option<i32>, agency: Option<i32>) -> Actor {
        Actor {
            user_id: 1,
            username: "u".into(),
            display_name: "u".into(),
            role,
            person_id: person,
            agency_id: agency,
        }
    }

    /// Every role (with and without a linked person or agency) × every action × every kind of
    /// object, against the expected grid written out independently of [`TABLE`].
    #[test]
    fn every_cell_of_the_table() {
        const ROLES: [Role; 4] = [
            Role::Admin,
            Role::Secretariat,
            Role::Member,
            Role::AgencyStaff,
        ];
        let objects = [
            Object::Any,
            Object::Account(Role::Admin),
            Object::Account(Role::Secretariat),
            Object::Account(Role::Member),
            Object::Account(Role::AgencyStaff),
            Object::OfAgency(7),
            Object::OfAgency(8),
        ];
        // Roles in the order of ROLES: A(dmin) S(ecretariat) M(ember) G (agency staff).
        let by_role = |action: Action| -> &'static str {
            match action {
                Action::ReadAuditLog | Action::ManageApiTokens => "A",
                Action::WriteProposals => "M",
                Action::ReportActuals | Action::CorrectReplies | Action::AttachEvidence => "ASG",
                _ => "AS",
            }
        };
        for action in Action::ALL.iter().copied() {
            for (role, letter) in ROLES.into_iter().zip(['A', 'S', 'M', 'G']) {
                for linked in [false, true] {
                    let who = actor(
                        role,
                        linked.then_some(3),
                        (linked && role == Role::AgencyStaff).then_some(7),
                    );
                    for object in objects {
                        let expected = by_role(action).contains(letter)
                            && match (action, object) {
                                (Action::ManageAccounts, Object::Account(target)) => {
                                    !(role == Role::Secretariat && target == Role::Admin)
                                }
                                (Action::WriteProposals, _) => linked,
                                (
                                    Action::ReportActuals
                                    | Action::CorrectReplies
                                    | Action::AttachEvidence,
                                    Object::OfAgency(owner),
                                ) => role != Role::AgencyStaff || (linked && owner == 7),
                                (
                                    Action::ReportActuals
                                    | Action::CorrectReplies
                                    | Action::AttachEvidence,
                                    _,
                                ) => role != Role::AgencyStaff,
                                _ => true,
                            };
                        assert_eq!(
                            allows(&who, action, object),
                            expected,
                            "{role:?} (linked: {linked}) {action:?} on {object:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_action_has_a_row() {
        for action in Action::ALL {
            assert_eq!(
                TABLE.iter().filter(|(a, _)| a == action).count(),
                1,
                "{action:?}"
            );
        }
    }
}
