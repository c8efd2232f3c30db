//! Posted forms as name → values, with typed accessors that return Chinese error messages.
use std::collections::HashMap;

use chrono::NaiveDate;

/// Documented limit for Markdown bodies (and replies): 100 KB.
pub const MAX_BODY_BYTES: usize = 100 * 1024;

/// Checks any free text a user submits: present, within limits, no control characters.
pub fn check_text(label: &str, text: &str, max_bytes: usize, required: bool) -> Result<(), String> {
    if required && text.trim().is_empty() {
        return Err(format!("{label}不能为空。"));
    }
    if text.len() > max_bytes {
        return Err(format!("{label}过长(上限 {} KB)。", max_bytes / 1024));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(format!("{label}含有不可见的控制字符。"));
    }
    Ok(())
}

/// A posted form as name → values (repeated names such as `co` keep every value).
pub struct Fields(HashMap<String, Vec<String>>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<(String, String)>::deserialize(deserializer).map(Self::new)
    }
}

impl Fields {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        Self(map)
    }

    pub fn get(&self, name: &str) -> &str {
        self.0
            .get(name)
            .and_then(|v| v.first())
            .map_or("", String::as_str)
    }

    /// Every field's first value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(name, values)| (name.as_str(), values.first().map_or("", String::as_str)))
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .get(name)
            .map(|v| {
                v.iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str, label: &str) -> Result<T, String> {
        self.get(name)
            .trim()
            .parse()
            .map_err(|_| format!("{label}格式不正确。"))
    }

    pub fn date(&self, name: &str, label: &str) -> Result<NaiveDate, String> {
        crate::time::parse_date(self.get(name))
            .ok_or_else(|| format!("{label}须为日期(如 2026-12-31 或 2026/12/31)。"))
            .and_then(|date| crate::time::check_record_date(date, label))
    }

    pub fn optional_date(&self, name: &str, label: &str) -> Result<Option<NaiveDate>, String> {
        if self.get(name).trim().is_empty() {
            Ok(None)
        } else {
            self.date(name, label).map(Some)
        }
    }

    /// The values as a flat map, to refill a form after an error.
    pub fn flat(&self) -> HashMap<&str, &str> {
        self.0
            .iter()
            .filter(|(k, _)| k.as_str() != "csrf")
            .map(|(k, v)| (k.as_str(), v.first().map_or("", String::as_str)))
            .collect()
    }
}
