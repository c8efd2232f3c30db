//! The minijinja environment. Templates are `*.html` (autoescaping on) with strict undefined
//! behaviour. Debug builds read them from disk on every render, so edits show on reload; release
//! builds embed them in the binary (see `build.rs`).
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};
use serde::Serialize;

use std::sync::Arc;

use crate::directory::SourceDocuments;
use crate::time::{format_date, format_datetime, Precision};

pub struct Templates {
    #[cfg(not(debug_assertions))]
    env: Environment<'static>,
    /// What `source_document(file)` answers from (pages cite documents by title, not file name).
    pub sources: Arc<SourceDocuments>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let sources = Arc::<SourceDocuments>::default();
        Self {
            sources: sources.clone(),
            #[cfg(not(debug_assertions))]
            env: {
                let mut env = Environment::new();
                configure(&mut env, sources);
                minijinja_embed::load_templates!(&mut env);
                env
            },
        }
    }

    pub fn render<S: Serialize>(&self, name: &str, context: S) -> Result<String, Error> {
        #[cfg(debug_assertions)]
        {
            let mut env = Environment::new();
            configure(&mut env, self.sources.clone());
            env.set_loader(minijinja::path_loader(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/templates"
            )));
            env.get_template(name)?.render(context)
        }
        #[cfg(not(debug_assertions))]
        {
            self.env.get_template(name)?.render(context)
        }
    }
}

fn configure(env: &mut Environment<'static>, sources: Arc<SourceDocuments>) {
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_global("site_name", "听商");
    env.add_global("stylesheet", crate::web::assets::STYLESHEET.path());
    env.add_global("script", crate::web::assets::SCRIPT.path());
    env.add_global("icon", crate::web::assets::ICON.path());
    env.add_filter("markdown", |text: &str| {
        Value::from_safe_string(crate::web::markdown::render(text))
    });
    env.add_filter("excerpt", |text: &str, max_chars: usize| {
        crate::web::markdown::plain_excerpt(text, max_chars)
    });
    env.add_filter("cn_date", cn_date);
    env.add_filter("cn_datetime", cn_datetime);
    env.add_filter("number", format_number);
    env.add_filter("iso_datetime", iso_datetime);
    env.add_function("source_document", move |file: Option<&str>| {
        file.and_then(|f| sources.get(f)).map(Value::from_serialize)
    });
    env.add_function(
        "label",
        |vocabulary: &str, value: &str| -> Result<String, Error> {
            crate::vocab::label(vocabulary, value)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("no label for {vocabulary}={value}"),
                    )
                })
        },
    );
}

/// `"2023-09-28" | cn_date` → 2023年9月28日; an optional precision ("year", "month") shortens it.
fn cn_date(value: &str, precision: Option<&str>) -> Result<String, Error> {
    let date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("not a date: {value}: {e}"),
        )
    })?;
    let precision = precision
        .and_then(Precision::parse)
        .unwrap_or(Precision::Day);
    Ok(format_date(date, precision))
}

/// An RFC 3339 timestamp shown in China time, as precise as recorded.
fn cn_datetime(value: &str, precision: Option<&str>) -> Result<String, Error> {
    let at = chrono::DateTime::parse_from_rfc3339(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("not a timestamp: {value}: {e}"),
        )
    })?;
    let precision = precision
        .and_then(Precision::parse)
        .unwrap_or(Precision::Exact);
    Ok(format_datetime(at.with_timezone(&chrono::Utc), precision))
}

/// An RFC 3339 timestamp to whole seconds, for `<time datetime>` (HTML's valid date strings
/// allow at most three fraction digits; the database keeps nine).
fn iso_datetime(value: &str) -> Result<String, Error> {
    let at = chrono::DateTime::parse_from_rfc3339(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("not a timestamp: {value}: {e}"),
        )
    })?;
    Ok(at
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// 9777 → "9,777"; 93.5 → "93.5".
fn format_number(value: f64) -> String {
    if value.fract() != 0.0 {
        return format!("{value}");
    }
    let digits = format!("{}", value.abs() as i64);
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if value < 0.0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_readable_times_stop_at_whole_seconds() {
        assert_eq!(
            iso_datetime("2026-12-03T08:33:23.123456789+08:00").unwrap(),
            "2026-12-03T00:33:23Z"
        );
        assert!(iso_datetime("yesterday").is_err());
    }

    #[test]
    fn numbers_get_thousands_separators() {
        assert_eq!(format_number(9777.0), "9,777");
        assert_eq!(format_number(650.0), "650");
        assert_eq!(format_number(1234567.0), "1,234,567");
        assert_eq!(format_number(93.5), "93.5");
        assert_eq!(format_number(-2000.0), "-2,000");
    }

    #[test]
    fn dates_render_in_chinese() {
        assert_eq!(cn_date("2024-12-31", None).unwrap(), "2024年12月31日");
        assert_eq!(cn_date("2024-01-01", Some("year")).unwrap(), "2024年");
        assert!(cn_date("garbage", None).is_err());
        assert_eq!(
            cn_datetime("2023-09-27T16:00:00+00:00", Some("day")).unwrap(),
            "2023年9月28日"
        );
    }
}
