//! Dates and times as the archive shows them: China Standard Time (UTC+8, no daylight saving),
//! with the precision the source allowed (a day, a month or only a year).
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};

pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// Midnight China time at the start of `date`, as UTC.
pub fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    china()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("fixed offsets are unambiguous")
        .with_timezone(&Utc)
}

/// Years a date in the record may fall in: from the founding of the CPPCC's current form to the
/// end of the century. Outside it a date is a typing error (or an attack: chrono accepts years up
/// to 262,142, and deadline arithmetic on those overflows).
pub const RECORD_YEARS: std::ops::RangeInclusive<i32> = 1949..=2100;

/// `date` if it lies within [`RECORD_YEARS`], else the message to show (naming `label`).
pub fn check_record_date(date: NaiveDate, label: &str) -> Result<NaiveDate, String> {
    if RECORD_YEARS.contains(&date.year()) {
        Ok(date)
    } else {
        Err(format!(
            "{label}须在 {} 年至 {} 年之间。",
            RECORD_YEARS.start(),
            RECORD_YEARS.end()
        ))
    }
}

pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&china()).date_naive()
}

/// How precisely a date is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Exact,
    Day,
    Month,
    Year,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Day => "day",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "exact" => Self::Exact,
            "day" => Self::Day,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }
}

/// Parses "YYYY", "YYYY-MM" or "YYYY-MM-DD" into the first day of that period and its precision.
pub fn parse_partial_date(text: &str) -> Option<(NaiveDate, Precision)> {
    let parts: Vec<&str> = text.trim().split('-').collect();
    let number = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
    match parts.len() {
        1 => Some((
            NaiveDate::from_ymd_opt(number(0)? as i32, 1, 1)?,
            Precision::Year,
        )),
        2 => Some((
            NaiveDate::from_ymd_opt(number(0)? as i32, number(1)?, 1)?,
            Precision::Month,
        )),
        3 => Some((
            NaiveDate::from_ymd_opt(number(0)? as i32, number(1)?, number(2)?)?,
            Precision::Day,
        )),
        _ => None,
    }
}

/// "2023年9月28日", "2024年12月" or "2024年", as precise as known.
pub fn format_date(date: NaiveDate, precision: Precision) -> String {
    match precision {
        Precision::Year => format!("{}年", date.year()),
        Precision::Month => format!("{}年{}月", date.year(), date.month()),
        Precision::Day | Precision::Exact => {
            format!("{}年{}月{}日", date.year(), date.month(), date.day())
        }
    }
}

pub fn format_datetime(at: DateTime<Utc>, precision: Precision) -> String {
    let local = at.with_timezone(&china());
    match precision {
        Precision::Exact => format!(
            "{} {}",
            format_date(local.date_naive(), Precision::Day),
            local.format("%H:%M")
        ),
        other => format_date(local.date_naive(), other),
    }
}

/// A date as people and spreadsheets write it: `2025-06-30`, `2025/6/30`, `2025.6.30`,
/// `2025年6月30日` (forms, uploads and the API's form fields all read dates with it).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let digits: Vec<u32> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match digits.as_slice() {
        [y, m, d] => NaiveDate::from_ymd_opt(i32::try_from(*y).ok()?, *m, *d),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates_keep_their_precision() {
        let (d, p) = parse_partial_date("2024").unwrap();
        assert_eq!(
            (format_date(d, p), p),
            ("2024年".to_owned(), Precision::Year)
        );
        let (d, p) = parse_partial_date("2024-12").unwrap();
        assert_eq!(format_date(d, p), "2024年12月");
        let (d, p) = parse_partial_date("2023-09-28").unwrap();
        assert_eq!(format_date(d, p), "2023年9月28日");
        assert!(parse_partial_date("2023-13").is_none());
        assert!(parse_partial_date("soon").is_none());
    }

    #[test]
    fn start_of_day_is_china_midnight() {
        let date = NaiveDate::from_ymd_opt(2023, 9, 28).unwrap();
        let at = start_of_day(date);
        assert_eq!(at.to_rfc3339(), "2023-09-27T16:00:00+00:00");
        assert_eq!(format_datetime(at, Precision::Day), "2023年9月28日");
    }
    #[test]
    fn dates_as_spreadsheets_write_them() {
        let d = NaiveDate::from_ymd_opt(2025, 6, 30);
        for text in [
            "2025-06-30",
            "2025/6/30",
            "2025.6.30",
            "2025年6月30日",
            " 2025-6-30 ",
        ] {
            assert_eq!(parse_date(text), d, "{text}");
        }
        for text in ["2025-06", "30/06", "", "2025-13-01", "abc"] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }
}
