//! Proposals (建议): what members ask for, through which channel, and where each one stands.
pub mod drafts;
pub mod handling;
pub mod intake;
pub mod queues;
mod routes;
pub mod service;
mod work;

pub use routes::routes;
pub use work::routes as work_routes;
