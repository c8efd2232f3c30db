//! Corrections of published text (更正): the forms that change a published proposal's title or
//! text, a reply, a commitment's target or a session's summary — always with a reason — and the
//! public history pages that show every version (`versions` keeps them).
mod routes;
pub mod service;

pub use routes::routes;
