//! Sessions (协商活动): the numbered consultation events, their participants and proposals.
mod manage;
mod routes;
pub mod service;

pub use manage::routes as manage_routes;
pub use routes::routes;

/// The path of a session's public page (also its key in the page cache).
pub fn page_path(number: i32) -> String {
    format!("/sessions/{number}")
}
