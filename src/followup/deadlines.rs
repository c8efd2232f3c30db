//! Deadline arithmetic, in one place, as pure functions. Periods are calendar months (CPPCC
//! practice: three months for session proposals) or working days (hotline items), counted on a
//! [`Calendar`] of official days off and make-up working days (调休). A month-based due date that
//! falls on a day off moves to the next working day; granted extensions add to the due date; while
//! the clock is paused (waiting on the member) the due date moves by the paused time.
use std::collections::BTreeSet;

use chrono::{Datelike, Months, NaiveDate, Weekday};

pub fn add_months(start: NaiveDate, months: u32) -> NaiveDate {
    start
        .checked_add_months(Months::new(months))
        .expect("dates stay far from chrono's limits")
}

/// Official days off and make-up working days, as published each year (editable by the secretariat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Calendar {
    days_off: BTreeSet<NaiveDate>,
    make_up_workdays: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn new(
        days_off: impl IntoIterator<Item = NaiveDate>,
        make_up_workdays: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        Self {
            days_off: days_off.into_iter().collect(),
            make_up_workdays: make_up_workdays.into_iter().collect(),
        }
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.make_up_workdays.contains(&day) {
            return true;
        }
        !self.days_off.contains(&day) && !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The `n`-th working day after `start` (`start` itself is not counted).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day = day.succ_opt().expect("dates stay far from chrono's limits");
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// Working days in `(from, to]`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        from.iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .filter(|d| self.is_working_day(*d))
            .count() as u32
    }

    /// `day` itself when it is a working day, else the next one.
    pub fn next_working_day(&self, day: NaiveDate) -> NaiveDate {
        if self.is_working_day(day) {
            day
        } else {
            self.add_working_days(day, 1)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Months(u32),
    WorkingDays(u32),
}

impl Period {
    fn after(self, start: NaiveDate, calendar: &Calendar) -> NaiveDate {
        match self {
            Period::Months(n) => calendar.next_working_day(add_months(start, n)),
            Period::WorkingDays(n) => calendar.add_working_days(start, n),
        }
    }
}

/// A paused span of the clock, `from` to `to` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// Parses `3m` (calendar months) or `15wd` (working days).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (number, make): (&str, fn(u32) -> Period) = if let Some(n) = text.strip_suffix("wd") {
            (n, Period::WorkingDays)
        } else if let Some(n) = text.strip_suffix('m') {
            (n, Period::Months)
        } else {
            return None;
        };
        let n: u32 = number.trim().parse().ok()?;
        (1..=366).contains(&n).then(|| make(n))
    }

    pub fn label(self) -> String {
        match self {
            Period::Months(n) => format!("{n}个月"),
            Period::WorkingDays(n) => format!("{n}个工作日"),
        }
    }
}

/// The reply period per intake channel: calendar months for proposals (CPPCC practice: three),
/// working days for hotline items. Configured with `TINGSHANG_REPLY_PERIODS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlineRules {
    pub default: Period,
    pub by_channel: Vec<(String, Period)>,
}

impl Default for DeadlineRules {
    fn default() -> Self {
        Self {
            default: Period::Months(3),
            by_channel: vec![
                ("qingsu".to_owned(), Period::WorkingDays(15)),
                ("hotline_12345".to_owned(), Period::WorkingDays(15)),
            ],
        }
    }
}

impl DeadlineRules {
    pub fn period_for(&self, channel: &str) -> Period {
        self.by_channel
            .iter()
            .find(|(c, _)| c == channel)
            .map_or(self.default, |(_, p)| *p)
    }

    /// Applies `channel=period` pairs such as `hotline_12345=10wd,session=3m` (`*` sets the
    /// default) on top of these rules.
    pub fn with_overrides(mut self, spec: &str) -> Result<Self, String> {
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (channel, period) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected channel=period, got {pair:?}"))?;
            let period = Period::parse(period)
                .ok_or_else(|| format!("period must look like 3m or 15wd: {period:?}"))?;
            let channel = channel.trim();
            if channel == "*" {
                self.default = period;
            } else {
                self.by_channel.retain(|(c, _)| c != channel);
                self.by_channel.push((channel.to_owned(), period));
            }
        }
        Ok(self)
    }
}

/// Moves `due` past a paused span of the clock: calendar days for month periods (then to a working
/// day), working days for working-day periods. A span that starts after `due` changes nothing.
fn shift(due: NaiveDate, period: Period, pause: Pause, calendar: &Calendar) -> NaiveDate {
    if pause.from > pause.to || pause.from > due {
        return due;
    }
    match period {
        Period::Months(_) => calendar
            .next_working_day(due + chrono::Duration::days((pause.to - pause.from).num_days() + 1)),
        Period::WorkingDays(_) => {
            let paused = calendar
                .working_days_between(pause.from.pred_opt().unwrap_or(pause.from), pause.to);
            calendar.add_working_days(due, paused)
        }
    }
}

/// The due date of something started on `start` with `period`, after `extensions` and `pauses`.
pub fn due_date(
    start: NaiveDate,
    period: Period,
    calendar: &Calendar,
    extensions: &[Period],
    pauses: &[Pause],
) -> NaiveDate {
    let mut due = period.after(start, calendar);
    for extension in extensions {
        due = extension.after(due, calendar);
    }
    for pause in pauses {
        due = shift(due, period, *pause, calendar);
    }
    due
}

/// The due date after the clock, paused on `paused_on`, runs again on `resumed_on` (the paused
/// span is `paused_on` up to the day before `resumed_on`).
pub fn resume(
    due: NaiveDate,
    period: Period,
    paused_on: NaiveDate,
    resumed_on: NaiveDate,
    calendar: &Calendar,
) -> NaiveDate {
    match resumed_on.pred_opt() {
        Some(to) if to >= paused_on => shift(
            due,
            period,
            Pause {
                from: paused_on,
                to,
            },
            calendar,
        ),
        _ => due,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_rules_parse_from_configuration() {
        assert_eq!(Period::parse("3m"), Some(Period::Months(3)));
        assert_eq!(Period::parse(" 15wd "), Some(Period::WorkingDays(15)));
        assert_eq!(Period::parse("0m"), None);
        assert_eq!(Period::parse("3d"), None);
        assert_eq!(Period::parse("-1wd"), None);
        let rules = DeadlineRules::default()
            .with_overrides("hotline_12345=5wd, *=2m")
            .unwrap();
        assert_eq!(rules.period_for("hotline_12345"), Period::WorkingDays(5));
        assert_eq!(rules.period_for("qingsu"), Period::WorkingDays(15));
        assert_eq!(rules.period_for("session"), Period::Months(2));
        assert!(DeadlineRules::default().with_overrides("session").is_err());
        assert!(DeadlineRules::default()
            .with_overrides("session=soon")
            .is_err());
    }

    #[test]
    fn a_hotline_item_due_in_working_days_across_national_day() {
        let cal = official_2024_2025();
        let rules = DeadlineRules::default();
        // Assigned Fri 2025-09-26 with 15 working days: 9-28 (make-up Sunday), 9-29, 9-30 (3), the
        // 10-1…10-8 break, 10-9, 10-10, 10-11 (make-up Saturday) (6), 10-13…10-17 (11),
        // 10-20…10-23 (15).
        assert_eq!(
            reply_due(date(2025, 9, 26), rules.period_for("hotline_12345"), &cal),
            date(2025, 10, 23)
        );
        assert_eq!(
            reply_due(date(2025, 9, 26), rules.period_for("session"), &cal),
            date(2025, 12, 26)
        );
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn span(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        from.iter_days().take_while(|d| *d <= to).collect()
    }

    /// The State Council's published schedules (国办发明电〔2023〕7号 for 2024, 〔2024〕12号 for 2025).
    fn official_2024_2025() -> Calendar {
        let mut off = Vec::new();
        for (a, b) in [
            (date(2024, 1, 1), date(2024, 1, 1)),
            (date(2024, 2, 10), date(2024, 2, 17)),
            (date(2024, 4, 4), date(2024, 4, 6)),
            (date(2024, 5, 1), date(2024, 5, 5)),
            (date(2024, 6, 10), date(2024, 6, 10)),
            (date(2024, 9, 15), date(2024, 9, 17)),
            (date(2024, 10, 1), date(2024, 10, 7)),
            (date(2025, 1, 1), date(2025, 1, 1)),
            (date(2025, 1, 28), date(2025, 2, 4)),
            (date(2025, 4, 4), date(2025, 4, 6)),
            (date(2025, 5, 1), date(2025, 5, 5)),
            (date(2025, 5, 31), date(2025, 6, 2)),
            (date(2025, 10, 1), date(2025, 10, 8)),
        ] {
            off.extend(span(a, b));
        }
        let make_up = [
            date(2024, 2, 4),
            date(2024, 2, 18),
            date(2024, 4, 7),
            date(2024, 4, 28),
            date(2024, 5, 11),
            date(2024, 9, 14),
            date(2024, 9, 29),
            date(2024, 10, 12),
            date(2025, 1, 26),
            date(2025, 2, 8),
            date(2025, 4, 27),
            date(2025, 9, 28),
            date(2025, 10, 11),
        ];
        Calendar::new(off, make_up)
    }

    #[test]
    fn three_months_from_assignment() {
        assert_eq!(add_months(date(2023, 9, 28), 3), date(2023, 12, 28));
        assert_eq!(
            add_months(date(2023, 11, 30), 3),
            date(2024, 2, 29),
            "leap year"
        );
        assert_eq!(add_months(date(2025, 11, 30), 3), date(2026, 2, 28));
        assert_eq!(add_months(date(2025, 12, 31), 1), date(2026, 1, 31));
    }

    #[test]
    fn working_days_skip_the_spring_festival_and_count_the_make_up_sunday() {
        let cal = official_2024_2025();
        assert!(
            cal.is_working_day(date(2024, 2, 9)),
            "除夕 2024 was a working day"
        );
        assert!(
            !cal.is_working_day(date(2024, 2, 12)),
            "a Monday inside the holiday"
        );
        assert!(
            cal.is_working_day(date(2024, 2, 18)),
            "Sunday 2-18 was a make-up working day"
        );
        // Thu 2-8 + 3: Fri 2-9, (2-10…2-17 off), Sun 2-18, Mon 2-19.
        assert_eq!(cal.add_working_days(date(2024, 2, 8), 3), date(2024, 2, 19));
        // 2025: Fri 1-24 + 2: Sun 1-26 (make-up), Mon 1-27; then 1-28…2-4 off.
        assert_eq!(
            cal.add_working_days(date(2025, 1, 24), 2),
            date(2025, 1, 27)
        );
        assert_eq!(cal.add_working_days(date(2025, 1, 24), 3), date(2025, 2, 5));
    }

    #[test]
    fn working_days_across_national_day() {
        let cal = official_2024_2025();
        // Fri 2024-09-27 + 2: Sun 9-29 (make-up), Mon 9-30; + 3 jumps the 10-1…10-7 holiday.
        assert_eq!(
            cal.add_working_days(date(2024, 9, 27), 2),
            date(2024, 9, 30)
        );
        assert_eq!(
            cal.add_working_days(date(2024, 9, 27), 3),
            date(2024, 10, 8)
        );
        // 2025's eight-day break with make-up days 9-28 (Sun) and 10-11 (Sat).
        assert_eq!(
            cal.add_working_days(date(2025, 9, 26), 1),
            date(2025, 9, 28)
        );
        assert_eq!(
            cal.add_working_days(date(2025, 9, 30), 1),
            date(2025, 10, 9)
        );
        assert_eq!(
            cal.working_days_between(date(2025, 9, 30), date(2025, 10, 12)),
            3,
            "10-9, 10-10, 10-11"
        );
    }

    #[test]
    fn a_month_period_ending_on_a_day_off_moves_to_the_next_working_day() {
        let cal = official_2024_2025();
        assert_eq!(
            due_date(date(2024, 7, 1), Period::Months(3), &cal, &[], &[]),
            date(2024, 10, 8)
        );
        assert_eq!(
            due_date(date(2024, 6, 28), Period::Months(3), &cal, &[], &[]),
            date(2024, 9, 29),
            "a make-up Sunday is a working day"
        );
        assert_eq!(
            due_date(date(2024, 6, 3), Period::Months(3), &cal, &[], &[]),
            date(2024, 9, 3)
        );
    }

    #[test]
    fn extensions_and_pauses_move_the_due_date() {
        let cal = official_2024_2025();
        let start = date(2025, 3, 3);
        assert_eq!(
            due_date(start, Period::WorkingDays(10), &cal, &[], &[]),
            date(2025, 3, 17)
        );
        assert_eq!(
            due_date(
                start,
                Period::WorkingDays(10),
                &cal,
                &[Period::WorkingDays(5)],
                &[]
            ),
            date(2025, 3, 24)
        );
        // Paused Wed 3-5 … Fri 3-7: three working days added.
        let pause = Pause {
            from: date(2025, 3, 5),
            to: date(2025, 3, 7),
        };
        assert_eq!(
            due_date(start, Period::WorkingDays(10), &cal, &[], &[pause]),
            date(2025, 3, 20)
        );
        // Months: a 10-day pause adds 10 calendar days (then rolls past the weekend).
        let pause = Pause {
            from: date(2025, 4, 10),
            to: date(2025, 4, 19),
        };
        assert_eq!(
            due_date(
                date(2025, 3, 3),
                Period::Months(3),
                &cal,
                &[Period::Months(1)],
                &[pause]
            ),
            date(2025, 7, 14)
        );
        // Resuming: paused on Wed 3-5, resumed Mon 3-10 → 3-5, 3-6, 3-7 paused (weekend free).
        let due = due_date(start, Period::WorkingDays(10), &cal, &[], &[]);
        assert_eq!(
            resume(
                due,
                Period::WorkingDays(10),
                date(2025, 3, 5),
                date(2025, 3, 10),
                &cal
            ),
            date(2025, 3, 20)
        );
        assert_eq!(
            resume(
                due,
                Period::WorkingDays(10),
                date(2025, 3, 5),
                date(2025, 3, 5),
                &cal
            ),
            due,
            "paused and resumed the same day"
        );
        // A pause after the due date changes nothing.
        let late = Pause {
            from: date(2026, 1, 1),
            to: date(2026, 1, 31),
        };
        assert_eq!(
            due_date(start, Period::WorkingDays(10), &cal, &[], &[late]),
            date(2025, 3, 17)
        );
    }
}

crate::vocabulary! {
    /// What a calendar entry says about its day.
    pub enum DayKind {
        DayOff = "day_off" => "放假",
        Workday = "workday" => "调休上班",
    }
}

/// The working calendar as the secretariat keeps it.
pub async fn load_calendar<C: sea_orm::ConnectionTrait>(
    db: &C,
) -> Result<Calendar, sea_orm::DbErr> {
    use sea_orm::EntityTrait;
    let rows = entity::calendar_days::Entity::find().all(db).await?;
    let (off, work): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|r| r.kind == DayKind::DayOff.as_str());
    Ok(Calendar::new(
        off.into_iter().map(|r| r.day),
        work.into_iter().map(|r| r.day),
    ))
}

/// The reply deadline for something assigned (or reopened) on `start` with `period`.
pub fn reply_due(start: NaiveDate, period: Period, calendar: &Calendar) -> NaiveDate {
    due_date(start, period, calendar, &[], &[])
}
