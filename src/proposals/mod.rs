//! Proposals (建议): what members ask for, through which channel, and where each one stands.
pub mod drafts;
pub mod handling;
pub mod intake;
pub mod queues;
mod routes;
pub mod service;
mod work;
pub mod workflow;

pub use routes::routes;
pub use work::routes as work_routes;
pub use workflow::ProposalStatus;

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
