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

/// Who may report an actual against a commitment: the owning agency's staff and the secretariat.
pub fn may_report_actual(actor: &Actor, owning_agency: i32) -> bool {
    actor.is_secretariat()
        || (actor.role == Role::AgencyStaff && actor.agency_id == Some(owning_agency))
}

#[cfg(test)]
mod reporting_tests {
    use super::*;

    #[test]
    fn only_the_owning_agency_or_the_secretariat_reports_actuals() {
        let staff = |agency| Actor {
            user_id: 1,
            username: "s".into(),
            display_name: "s".into(),
            role: Role::AgencyStaff,
            person_id: None,
            agency_id: Some(agency),
        };
        assert!(may_report_actual(&staff(3), 3));
        assert!(!may_report_actual(&staff(4), 3));
        let member = Actor {
            role: Role::Member,
            agency_id: None,
            person_id: Some(1),
            ..staff(3)
        };
        assert!(!may_report_actual(&member, 3));
        let secretariat = Actor {
            role: Role::Secretariat,
            agency_id: None,
            ..staff(3)
        };
        assert!(may_report_actual(&secretariat, 3));
    }
}

/// Secretariat screens (sessions, agencies, users) are for the secretariat and admins.
pub fn require_secretariat(actor: &Actor) -> Result<(), crate::error::AppError> {
    if actor.is_secretariat() {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden)
    }
}

/// The audit log is for admins only.
pub fn require_admin(actor: &Actor) -> Result<(), crate::error::AppError> {
    if actor.role == Role::Admin {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden)
    }
}

/// Writing proposals is for committee members linked to a person.
pub fn require_member(actor: &Actor) -> Result<(), crate::error::AppError> {
    if actor.role == Role::Member && actor.person_id.is_some() {
        Ok(())
    } else {
        Err(crate::error::AppError::Forbidden)
    }
}

/// Only the author edits, and only while it is a draft.
pub fn may_edit_draft(relation: Relation, status: ProposalStatus) -> bool {
    relation == Relation::Author && status == ProposalStatus::Draft
}

/// How far a role reaches in account management: no one acts on an account above their own.
fn rank(role: Role) -> u8 {
    match role {
        Role::Admin => 3,
        Role::Secretariat => 2,
        Role::Member | Role::AgencyStaff => 1,
    }
}

/// The one rule for account management (creating, disabling, enabling): the secretariat and
/// admins manage accounts, never one of a higher role than their own — the secretariat cannot
/// create, disable or re-enable an administrator.
pub fn may_manage_account(actor: &Actor, target: Role) -> bool {
    actor.is_secretariat() && rank(target) <= rank(actor.role)
}

/// Creating an account follows the account-management rule.
pub fn may_create_account(actor: &Actor, role: Role) -> bool {
    may_manage_account(actor, role)
}

#[cfg(test)]
mod account_tests {
    use super::*;

    #[test]
    fn no_one_manages_an_account_above_their_own_role() {
        let of = |role| Actor {
            user_id: 1,
            username: "u".into(),
            display_name: "u".into(),
            role,
            person_id: None,
            agency_id: None,
        };
        let roles = [
            Role::Admin,
            Role::Secretariat,
            Role::Member,
            Role::AgencyStaff,
        ];
        for actor in roles {
            for target in roles {
                let expected = match actor {
                    Role::Admin => true,
                    Role::Secretariat => target != Role::Admin,
                    Role::Member | Role::AgencyStaff => false,
                };
                assert_eq!(
                    may_manage_account(&of(actor), target),
                    expected,
                    "{actor:?} on {target:?}"
                );
            }
        }
    }
}
