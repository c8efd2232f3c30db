//! Personal information review and redaction (个人信息审核与隐去): the secretariat judges what the
//! detector found in incoming text before the item can be made public, and answers erasure and
//! correction requests on what is already published. The rules it makes are applied to the
//! public text itself (`service::apply`), so every output follows from one place.
pub mod routes;
pub mod service;

pub use routes::routes;
