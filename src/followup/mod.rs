//! Follow-up (跟踪办理): commitments measured against their targets, the proposal timeline and
//! members' evaluations.
mod calendar_admin;
pub mod commitments;
pub mod deadlines;

pub mod timeline;

pub use calendar_admin::routes as calendar_routes;
pub use commitments::{assess, Assessment, CommitmentStatus, Comparison};

crate::vocabulary! {
    /// A member's rating of a written reply.
    pub enum Rating {
        Satisfied = "satisfied" => "满意",
        BasicallySatisfied = "basically_satisfied" => "基本满意",
        Unsatisfied = "unsatisfied" => "不满意",
    }
}
