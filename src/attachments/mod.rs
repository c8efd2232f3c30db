//! Attachments (附件): the documents behind proposals, replies and sessions — a member's survey
//! report on a draft, an agency's signed written reply, a session's minutes and photos. Stored
//! by content (`files`), shown and served under the visibility of what they belong to, and
//! their text searchable with it (extracted by [`worker`]).
mod routes;
pub mod service;
pub mod worker;

pub use routes::routes;
