//! Personal information (个人信息) in the text that enters the record: finding it
//! ([`detect`]) and replacing it in what is published ([`detect::redact`]). Below the
//! capabilities: intake, drafts and responses all check their text with it.
pub mod detect;
pub mod retention;
pub mod store;

pub use detect::{detect, redact, Finding, Kind, REDACTED};
