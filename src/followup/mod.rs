//! Follow-up (跟踪办理): commitments measured against their targets, the proposal timeline and
//! members' evaluations.
mod calendar_admin;
pub mod commitments;
pub mod deadlines;

pub mod timeline;

pub use calendar_admin::routes as calendar_routes;
pub use commitments::{assess, Assessment, CommitmentStatus, Comparison};
