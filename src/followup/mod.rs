//! Follow-up (跟踪办理): commitments measured against their targets, the proposal timeline and
//! members' evaluations.
mod actuals_routes;
pub mod bulk;
mod calendar_admin;
pub mod commitments;
pub mod deadlines;

pub mod timeline;

pub use actuals_routes::routes as actuals_routes;
pub use calendar_admin::routes as calendar_routes;
pub use commitments::{assess, Assessment, CommitmentStatus, Comparison};
