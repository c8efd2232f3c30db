//! People: committee members, experts, agency officials, guests, hosts and reporters.
mod routes;
pub mod service;

pub use routes::routes;
