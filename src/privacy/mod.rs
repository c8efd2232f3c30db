//! Personal information (个人信息) in the text that enters the record: finding it
//! ([`detect`]) and replacing it in what is published ([`detect::redact`]). Below the
//! capabilities: intake, drafts and responses all check their text with it.
pub mod detect;
pub mod retention;
pub mod store;

pub use detect::{detect, redact, Finding, Kind, REDACTED};

/// For text that is published as written and never needs a private person's details (a
/// report's source, a reason on the public timeline): the message refusing it when the
/// detector finds anything, naming the kinds found. Such text is refused rather than held for
/// review like a reply's body.
pub fn refuse_personal(label: &str, text: &str) -> Result<(), String> {
    let mut found: Vec<&str> = detect(text, &[]).iter().map(|f| f.kind.label()).collect();
    found.sort_unstable();
    found.dedup();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{label}中含有疑似个人信息({}),公开记录不收录,请删去后再提交。",
            found.join("、")
        ))
    }
}
