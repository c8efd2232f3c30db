//! Sessions (协商活动): the numbered consultation events, their participants and proposals.
mod manage;
mod routes;
pub mod service;

pub use manage::routes as manage_routes;
pub use routes::routes;
