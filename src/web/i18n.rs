//! The pages' words in Kazakh and Russian, kept as data (`labels.json`: key → [kk, ru]), so
//! that a translator reviews one file. A key with no label shows as itself.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Kk,
    Ru,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kk" => Some(Lang::Kk),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }
}

fn labels() -> &'static HashMap<String, [String; 2]> {
    static LABELS: OnceLock<HashMap<String, [String; 2]>> = OnceLock::new();
    LABELS.get_or_init(|| serde_json::from_str(include_str!("labels.json")).expect("labels.json maps keys to [kk, ru]"))
}

/// The label of `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    match labels().get(key) {
        Some([kk, ru]) => if lang == Lang::Kk { kk } else { ru }.clone(),
        None => key.to_string(),
    }
}

/// Months as a date is written: Kazakh names, Russian names in the genitive.
const MONTHS: [[&str; 2]; 12] = [
    ["қаңтар", "января"],
    ["ақпан", "февраля"],
    ["наурыз", "марта"],
    ["сәуір", "апреля"],
    ["мамыр", "мая"],
    ["маусым", "июня"],
    ["шілде", "июля"],
    ["тамыз", "августа"],
    ["қыркүйек", "сентября"],
    ["қазан", "октября"],
    ["қараша", "ноября"],
    ["желтоқсан", "декабря"],
];

/// A calendar date as people write it: `29 қараша 2026` / `29 ноября 2026`.
pub fn date(lang: Lang, d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let month = MONTHS[d.month0() as usize][if lang == Lang::Kk { 0 } else { 1 }];
    format!("{} {month} {}", d.day(), d.year())
}

/// An instant (RFC 3339, as events record it in UTC) in local time in Kazakhstan (decision 17's
/// Asia/Almaty): `29 қараша 2026, 22:12` / `29 ноября 2026, 22:12`. `None` if it does not parse.
pub fn local_time(lang: Lang, utc: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(utc).ok()?.with_timezone(&crate::rules::calendar::almaty());
    Some(format!("{}, {}", date(lang, t.date_naive()), t.format("%H:%M")))
}

/// A date given as `YYYY-MM-DD`, written as people write it; `None` if it does not parse.
pub fn local_date(lang: Lang, ymd: &str) -> Option<String> {
    chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d").ok().map(|d| date(lang, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_dates_as_people_in_kazakhstan_read_them() {
        let cases = [
            ("2026-11-29T17:12:55.886Z", "29 қараша 2026, 22:12", "29 ноября 2026, 22:12"),
            // Past midnight in Almaty: the next day there.
            ("2026-01-15T20:30:00.000Z", "16 қаңтар 2026, 01:30", "16 января 2026, 01:30"),
            ("2026-03-01T00:00:00+05:00", "1 наурыз 2026, 00:00", "1 марта 2026, 00:00"),
        ];
        for (utc, kk, ru) in cases {
            assert_eq!((local_time(Lang::Kk, utc).as_deref(), local_time(Lang::Ru, utc).as_deref()), (Some(kk), Some(ru)), "{utc}");
        }
        assert_eq!(local_date(Lang::Ru, "2026-05-09").as_deref(), Some("9 мая 2026"));
        assert_eq!(local_date(Lang::Kk, "2026-12-16").as_deref(), Some("16 желтоқсан 2026"));
        assert_eq!((local_time(Lang::Kk, "yesterday"), local_date(Lang::Ru, "2026-13-01")), (None, None));
    }

    #[test]
    fn every_label_has_both_languages() {
        for (k, [kk, ru]) in labels() {
            assert!(!kk.trim().is_empty() && !ru.trim().is_empty(), "{k} lacks a language");
        }
        assert_eq!(t(Lang::Ru, "removed"), "снят с учёта");
        assert_eq!(t(Lang::Kk, "no-such-key"), "no-such-key");
    }
}
