//! Local dates and days off in Kazakhstan (decisions 11 and 17 of `algorithm.md`). The service
//! counts days as people in Kazakhstan do: in Asia/Almaty time (UTC+5 since 1 March 2024), and
//! a period whose last day is a day off ends on the next working day. The days off are data
//! (`rules/calendar/kz-days-off.json`, with its source), per year.

use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, Utc, Weekday};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Asia/Almaty: UTC+5 (the whole country since 1 March 2024).
pub fn almaty() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// The local date in Kazakhstan of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&almaty()).date_naive()
}

/// Today in Kazakhstan.
pub fn today() -> NaiveDate {
    local_date(Utc::now())
}

/// The local date of an event's `time` (`2026-01-15T20:30:00.000Z` is 16 January in Almaty).
pub fn local_date_of(time: &str) -> Option<NaiveDate> {
    DateTime::parse_from_rfc3339(time).ok().map(|t| local_date(t.with_timezone(&Utc)))
}

/// A day as people here type it, `02.12.2026` (DD.MM.YYYY), or as the API and links write it,
/// `2026-12-02`; `None` for anything else.
pub fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d").or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y")).ok().filter(|_| s.len() == 10)
}

const DAYS_OFF: &str = include_str!("../../../rules/calendar/kz-days-off.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Year {
    holidays: Vec<String>,
    transferred_days_off: Vec<String>,
    working_weekend_days: Vec<String>,
    /// Where the year's days come from, where it differs from the file's `_source`.
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
    /// Why the year is not final (decision 23): the days the government sets each year are
    /// not yet known. A deadline reaching it is computed from the law alone, and says so.
    #[serde(default)]
    provisional: Option<String>,
}

#[derive(Deserialize)]
struct File {
    years: BTreeMap<i32, Year>,
}

/// A days-off calendar that cannot be read, or a day it does not cover (never guessed).
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("days-off calendar: {0}")]
    Json(serde_json::Error),
    #[error("days-off calendar: {0:?} is not a real YYYY-MM-DD date")]
    NotADate(String),
    #[error("days-off calendar: {day} is listed under {year}")]
    OtherYear { day: NaiveDate, year: i32 },
    #[error("the days-off calendar under rules/calendar/ does not cover {0}")]
    NotCovered(i32),
    #[error("date out of range")]
    OutOfRange,
}

/// The days off of the years the data covers.
#[derive(Debug)]
pub struct Calendar {
    off: BTreeSet<NaiveDate>,
    working_weekend_days: BTreeSet<NaiveDate>,
    years: BTreeSet<i32>,
    /// Years whose yearly days are not yet set, and why.
    provisional: BTreeMap<i32, String>,
}

impl Calendar {
    /// The calendar shipped under `rules/calendar/`.
    pub fn built_in() -> &'static Calendar {
        static CAL: std::sync::OnceLock<Calendar> = std::sync::OnceLock::new();
        CAL.get_or_init(|| Calendar::parse(DAYS_OFF).expect("the built-in calendar is valid (checked by tests)"))
    }

    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let f: File = serde_json::from_str(text).map_err(CalendarError::Json)?;
        let mut c = Calendar {
            off: BTreeSet::new(),
            working_weekend_days: BTreeSet::new(),
            years: f.years.keys().copied().collect(),
            provisional: f.years.iter().filter_map(|(y, v)| Some((*y, v.provisional.clone()?))).collect(),
        };
        for (year, y) in f.years {
            let dates = |list: &[String]| -> Result<Vec<NaiveDate>, CalendarError> {
                list.iter()
                    .map(|s| {
                        let d: NaiveDate = s.parse().map_err(|_| CalendarError::NotADate(s.clone()))?;
                        if d.year() != year {
                            return Err(CalendarError::OtherYear { day: d, year });
                        }
                        Ok(d)
                    })
                    .collect()
            };
            c.off.extend(dates(&y.holidays)?.into_iter().chain(dates(&y.transferred_days_off)?));
            c.working_weekend_days.extend(dates(&y.working_weekend_days)?);
        }
        Ok(c)
    }

    /// Whether `d` is a day off; `Err` where the data does not cover its year (never guessed).
    pub fn is_day_off(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        if !self.years.contains(&d.year()) {
            return Err(CalendarError::NotCovered(d.year()));
        }
        let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.working_weekend_days.contains(&d);
        Ok(weekend || self.off.contains(&d))
    }

    /// The years the calendar covers.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// Why `year` is provisional, if it is (decision 23).
    pub fn provisional(&self, year: i32) -> Option<&str> {
        self.provisional.get(&year).map(String::as_str)
    }

    /// The `n`th working day after `d` (`d` itself not counted).
    pub fn working_days_after(&self, d: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = d;
        let mut left = n;
        while left > 0 {
            day = day.succ_opt().ok_or(CalendarError::OutOfRange)?;
            if !self.is_day_off(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// `d`, or the next working day after it where `d` is a day off.
    pub fn working_day_from(&self, d: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = d;
        while self.is_day_off(day)? {
            day = day.succ_opt().ok_or(CalendarError::OutOfRange)?;
        }
        Ok(day)
    }
}

/// The last day to appeal (decision 17): three months from the local date of delivery, moved to
/// the next working day where it is a day off. `moved_from` names the day it would have been;
/// `unchecked` says why it could not be checked against the days off (a year the data does not
/// cover yet): then it is the day three months on, and says so, rather than a guess.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub last_day: NaiveDate,
    pub moved_from: Option<NaiveDate>,
    pub unchecked: Option<String>,
    /// Why the last day may still move (decision 23): the period reaches a year whose yearly
    /// days off are not yet set. Computed afresh from the calendar whenever it is shown, so it
    /// is recomputed once the year's data lands.
    pub provisional: Option<String>,
}

pub fn appeal_deadline(calendar: &Calendar, delivered_on: NaiveDate) -> Deadline {
    // A month without the day ends the period on its last day (30 November + 3 months =
    // 28 February).
    let nominal = delivered_on.checked_add_months(Months::new(3)).unwrap_or(NaiveDate::MAX);
    match calendar.working_day_from(nominal) {
        Ok(last_day) => {
            let provisional = (nominal.year()..=last_day.year()).find_map(|y| calendar.provisional(y)).map(String::from);
            Deadline { last_day, moved_from: (last_day != nominal).then_some(nominal), unchecked: None, provisional }
        }
        Err(why) => Deadline { last_day: nominal, moved_from: None, unchecked: Some(why.to_string()), provisional: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn deadlines_at_the_boundaries() {
        let cal = Calendar::built_in();
        let mut out = String::new();
        for (what, delivered) in [
            ("delivered 20:30 UTC on 14 Oct: 15 Oct locally", local_date_of("2025-10-14T20:30:00.000Z").unwrap()),
            ("delivered 18:59 UTC on 14 Oct: still 14 Oct locally", local_date_of("2025-10-14T18:59:59.999Z").unwrap()),
            ("last day on a Saturday", d("2025-10-10")),
            ("last day on a Sunday", d("2025-10-11")),
            ("last day on Nauryz, 22 March 2026 (Sunday), days off through 25 March", d("2025-12-22")),
            ("last day on 21 March 2025 (Friday, Nauryz)", d("2024-12-21")),
            ("last day on 16 December 2025 (Independence Day)", d("2025-09-16")),
            ("last day on 17 December 2025 (a working day)", d("2025-09-17")),
            ("last day on 16 December 2026 (Wednesday)", d("2026-09-16")),
            ("last day on 5 January 2025, a Sunday worked", d("2024-10-05")),
            ("30 November: February has no 30th", d("2025-11-30")),
            ("a last day in 2027, from the law alone: provisional", d("2026-11-29")),
            ("a last day on 2 January 2027 (Saturday, New Year): moved to 5 January", d("2026-10-02")),
            ("a last day on 21 March 2027 (Sunday, Nauryz): days off through 24 March", d("2026-12-21")),
            ("a last day in 2028, which the data does not cover", d("2027-11-29")),
        ] {
            let dl = appeal_deadline(cal, delivered);
            let moved = dl.moved_from.map(|m| format!(" (moved from {m})")).unwrap_or_default();
            let unchecked = dl.unchecked.map(|u| format!(" (unchecked: {u})")).unwrap_or_default();
            let provisional = dl.provisional.map(|_| " (provisional)".to_string()).unwrap_or_default();
            out.push_str(&format!("{what}: {delivered} -> {}{moved}{unchecked}{provisional}\n", dl.last_day));
        }
        expect![[r#"
            delivered 20:30 UTC on 14 Oct: 15 Oct locally: 2025-10-15 -> 2026-01-15
            delivered 18:59 UTC on 14 Oct: still 14 Oct locally: 2025-10-14 -> 2026-01-14
            last day on a Saturday: 2025-10-10 -> 2026-01-12 (moved from 2026-01-10)
            last day on a Sunday: 2025-10-11 -> 2026-01-12 (moved from 2026-01-11)
            last day on Nauryz, 22 March 2026 (Sunday), days off through 25 March: 2025-12-22 -> 2026-03-26 (moved from 2026-03-22)
            last day on 21 March 2025 (Friday, Nauryz): 2024-12-21 -> 2025-03-26 (moved from 2025-03-21)
            last day on 16 December 2025 (Independence Day): 2025-09-16 -> 2025-12-17 (moved from 2025-12-16)
            last day on 17 December 2025 (a working day): 2025-09-17 -> 2025-12-17
            last day on 16 December 2026 (Wednesday): 2026-09-16 -> 2026-12-17 (moved from 2026-12-16)
            last day on 5 January 2025, a Sunday worked: 2024-10-05 -> 2025-01-05
            30 November: February has no 30th: 2025-11-30 -> 2026-03-02 (moved from 2026-02-28)
            a last day in 2027, from the law alone: provisional: 2026-11-29 -> 2027-03-01 (moved from 2027-02-28) (provisional)
            a last day on 2 January 2027 (Saturday, New Year): moved to 5 January: 2026-10-02 -> 2027-01-05 (moved from 2027-01-02) (provisional)
            a last day on 21 March 2027 (Sunday, Nauryz): days off through 24 March: 2026-12-21 -> 2027-03-25 (moved from 2027-03-21) (provisional)
            a last day in 2028, which the data does not cover: 2027-11-29 -> 2028-02-29 (unchecked: the days-off calendar under rules/calendar/ does not cover 2028)
        "#]].assert_eq(&out);
    }

    /// Decision 23: the year after the current one is always in `rules/calendar/`, at least
    /// provisionally. This fails on the first of January of a year whose next is missing.
    #[test]
    fn the_year_after_this_one_is_in_the_calendar() {
        let next = today().year() + 1;
        assert!(Calendar::built_in().years().any(|y| y == next), "rules/calendar/kz-days-off.json has no {next}: add it from the law (decision 23)");
    }

    /// Decision 23: the moment a provisional year's data lands, its deadlines are computed
    /// from it and are no longer provisional.
    #[test]
    fn a_provisional_deadline_is_recomputed_when_the_year_lands() {
        let text = DAYS_OFF.to_string();
        let delivered = d("2026-11-29"); // nominal last day: Sunday 28 February 2027
        let before = appeal_deadline(&Calendar::parse(&text).unwrap(), delivered);
        assert_eq!((before.last_day, before.provisional.is_some()), (d("2027-03-01"), true));
        // The government sets 2027: say Monday 1 March 2027 becomes a day off by transfer.
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let y = &mut v["years"]["2027"];
        y.as_object_mut().unwrap().remove("provisional");
        y["transferred_days_off"].as_array_mut().unwrap().push("2027-03-01".into());
        let after = appeal_deadline(&Calendar::parse(&v.to_string()).unwrap(), delivered);
        assert_eq!((after.last_day, after.provisional), (d("2027-03-02"), None));
    }

    #[test]
    fn a_year_not_covered_is_never_guessed() {
        let cal = Calendar::built_in();
        assert!(matches!(cal.is_day_off(d("2028-01-03")), Err(CalendarError::NotCovered(2028))));
        assert!(Calendar::parse(r#"{"years": {"2025": {"holidays": ["2026-01-01"], "transferred_days_off": [], "working_weekend_days": []}}}"#).is_err());
    }
}
