//! Messages from templates: every message has a plain-text part (`templates/mail/NAME.txt`)
//! and an HTML part (`templates/mail/NAME.html`, escaped as the pages are), rendered from one
//! context with the site's absolute address in `site_url`.
use serde::Serialize;

use crate::web::Templates;

/// A rendered message: the subject and both parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One template set for every message; release builds carry them embedded, as the pages.
fn templates() -> &'static Templates {
    static TEMPLATES: std::sync::LazyLock<Templates> = std::sync::LazyLock::new(Templates::new);
    &TEMPLATES
}

/// Renders `mail/{name}.txt` and `mail/{name}.html` with `context` plus `subject` and
/// `site_url`.
pub fn letter<S: Serialize>(
    name: &str,
    subject: &str,
    site_url: &str,
    context: S,
) -> Result<Letter, minijinja::Error> {
    let context = minijinja::context! {
        subject => subject,
        site_url => site_url.trim_end_matches('/'),
        ..minijinja::Value::from_serialize(&context)
    };
    Ok(Letter {
        subject: subject.to_owned(),
        text: templates().render(&format!("mail/{name}.txt"), &context)?,
        html: templates().render(&format!("mail/{name}.html"), &context)?,
    })
}
