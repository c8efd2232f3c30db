//! The workflow's vocabulary and its state machine, below every capability: proposals, follow-up,
//! responses, statistics and the access policy all speak it, and it imports none of them (it is
//! pure: no database, no clock). Each stored value is the enum's `as_str`; labels are the Chinese
//! words the pages show.
mod machine;

pub use machine::*;
use serde::Serialize;

crate::vocabulary! {
    pub enum ProposalStatus {
        Draft = "draft" => "草稿",
        Submitted = "submitted" => "已提交",
        Accepted = "accepted" => "已立案",
        NotAccepted = "not_accepted" => "不予立案",
        Merged = "merged" => "已并案",
        Withdrawn = "withdrawn" => "已撤回",
        Assigned = "assigned" => "办理中",
        Answered = "answered" => "已答复",
        Rehandling = "rehandling" => "重新办理",
        Closed = "closed" => "已办结",
    }
}

impl ProposalStatus {
    /// Whether a published proposal in this status is shown to the public. Drafts, submissions
    /// awaiting a decision, rejected and withdrawn items stay with their author and the secretariat.
    pub fn is_public(self) -> bool {
        matches!(
            self,
            Self::Accepted
                | Self::Merged
                | Self::Assigned
                | Self::Answered
                | Self::Rehandling
                | Self::Closed
        )
    }

    pub fn public_statuses() -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|s| s.is_public())
            .map(|s| s.as_str())
            .collect()
    }

    /// A CSS tone for the status badge (colour is never the only signal: the label is shown too).
    pub fn tone(self) -> &'static str {
        match self {
            Self::Draft | Self::Withdrawn => "muted",
            Self::Submitted | Self::Accepted => "info",
            Self::Assigned | Self::Rehandling => "warn",
            Self::Answered => "good",
            Self::Closed => "done",
            Self::NotAccepted | Self::Merged => "muted",
        }
    }
}

/// How the acting user relates to the proposal (computed by `accounts::policy::relation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Relation {
    Public,
    Author,
    OtherMember,
    Secretariat,
    LeadAgency,
    CoAgency,
    OtherAgency,
}

/// Status as the templates need it.
#[derive(Debug, Serialize)]
pub struct StatusBadge {
    pub value: &'static str,
    pub label: &'static str,
    pub tone: &'static str,
}

impl From<ProposalStatus> for StatusBadge {
    fn from(status: ProposalStatus) -> Self {
        Self {
            value: status.as_str(),
            label: status.label(),
            tone: status.tone(),
        }
    }
}

crate::vocabulary! {
    /// How a proposal reached the platform.
    pub enum Channel {
        Session = "session" => "协商活动",
        Sanmin = "sanmin" => "三民活动",
        Qingsu = "qingsu" => "青诉即办",
        Hotline12345 = "hotline_12345" => "12345热线",
        Direct = "direct" => "直接提交",
    }
}

crate::vocabulary! {
    /// An agency's part in handling a proposal.
    pub enum AssignmentRole {
        Lead = "lead" => "主办",
        Co = "co" => "协办",
    }
}

crate::vocabulary! {
    /// Where an agency's assignment stands: handling it, returned as a wrong assignment (退回交办),
    /// or done with when the proposal was closed (active again if it is reopened).
    pub enum AssignmentState {
        Active = "active" => "办理中",
        Returned = "returned" => "已退回",
        Completed = "completed" => "已完成",
    }
}

crate::vocabulary! {
    /// A member's rating of a written reply.
    pub enum Rating {
        Satisfied = "satisfied" => "满意",
        BasicallySatisfied = "basically_satisfied" => "基本满意",
        Unsatisfied = "unsatisfied" => "不满意",
    }
}

crate::vocabulary! {
    pub enum ResponseKind {
        OnTheSpot = "on_the_spot" => "现场回应",
        CoOpinion = "co_opinion" => "协办意见",
        Progress = "progress" => "进展通报",
        Written = "written" => "书面答复",
    }
}

crate::vocabulary! {
    /// Grade of a written reply: A 所提问题已经解决或基本解决, B 正在解决或列入计划, C 因条件限制暂时不能解决.
    pub enum Grade {
        A = "A" => "A类(已解决或基本解决)",
        B = "B" => "B类(正在解决或列入计划)",
        C = "C" => "C类(因条件限制暂不能解决)",
    }
}

crate::vocabulary! {
    pub enum TimelineAction {
        Drafted = "drafted" => "起草",
        Submitted = "submitted" => "提出建议",
        Accepted = "accepted" => "立案",
        NotAccepted = "not_accepted" => "不予立案",
        Merged = "merged" => "并案",
        Withdrawn = "withdrawn" => "撤回",
        Assigned = "assigned" => "交办",
        Returned = "returned" => "退回交办",
        Extended = "extended" => "延期",
        Responded = "responded" => "现场回应",
        CoOpinion = "co_opinion" => "协办意见",
        Progress = "progress" => "进展通报",
        Answered = "answered" => "书面答复",
        Rated = "rated" => "委员评价",
        Closed = "closed" => "办结",
        Reopened = "reopened" => "重新办理",
        FollowedUp = "followed_up" => "跟踪材料",
        Supervised = "supervised" => "督办",
        Paused = "paused" => "暂停计时",
        Resumed = "resumed" => "恢复计时",
    }
}
