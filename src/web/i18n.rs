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

/// A calendar date as people write it: `2026 жылғы 29 қараша` / `29 ноября 2026`.
pub fn date(lang: Lang, d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let month = MONTHS[d.month0() as usize][if lang == Lang::Kk { 0 } else { 1 }];
    // Kazakh writes the year first: "2026 жылғы 2 желтоқсан"; Russian "2 декабря 2026".
    match lang {
        Lang::Kk => format!("{} жылғы {} {month}", d.year(), d.day()),
        Lang::Ru => format!("{} {month} {}", d.day(), d.year()),
    }
}

/// An instant (RFC 3339, as events record it in UTC) in local time in Kazakhstan (decision 17's
/// Asia/Almaty): `2026 жылғы 29 қараша, 22:12` / `29 ноября 2026, 22:12`. `None` if it does not parse.
pub fn local_time(lang: Lang, utc: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(utc).ok()?.with_timezone(&crate::rules::calendar::almaty());
    Some(format!("{}, {}", date(lang, t.date_naive()), t.format("%H:%M")))
}

/// "N attempts" with the noun agreeing with the number (Russian: 1 попытка, 2 попытки,
/// 5 попыток; Kazakh does not change it).
pub fn attempts(lang: Lang, n: u64) -> String {
    let word = match lang {
        Lang::Kk => "әрекет",
        Lang::Ru => match (n % 10, n % 100) {
            (1, r) if r != 11 => "попытка",
            (2..=4, r) if !(12..=14).contains(&r) => "попытки",
            _ => "попыток",
        },
    };
    format!("{n} {word}")
}

/// A date given as `YYYY-MM-DD`, written as people write it; `None` if it does not parse.
pub fn local_date(lang: Lang, ymd: &str) -> Option<String> {
    chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d").ok().map(|d| date(lang, d))
}

/// The label of `key` with `{0}`, `{1}`, … replaced by `args` (dates as people write them).
pub fn tf(lang: Lang, key: &str, args: &[String]) -> String {
    args.iter().enumerate().fold(t(lang, key), |text, (i, a)| text.replace(&format!("{{{i}}}"), &local_date(lang, a).unwrap_or_else(|| a.clone())))
}

/// What is wrong with a filing's field, in `lang`.
pub fn field_error(lang: Lang, e: &crate::appeal::FieldError) -> String {
    tf(lang, &format!("err_{}", e.code), &e.args)
}

/// Why an appeal's step was not taken, in `lang`: what kind of refusal; a field's error wholly
/// in `lang`; nothing of an internal error but that it happened.
pub fn appeal_error(lang: Lang, e: &crate::appeal::AppealError) -> String {
    use crate::appeal::AppealError as E;
    let lead = match e {
        E::Field(f) => return field_error(lang, f),
        E::Ledger(_) => return t(lang, "err_internal"),
        E::UnknownAppeal(_) => "err_unknown_appeal",
        E::NotInLedger(_) => "err_not_in_ledger",
        E::Malformed(_) => "err_malformed",
        E::CorrectionRefused(_) => "err_correction_refused",
        E::Unidentified(_) => "err_unidentified",
        E::SelfReview(_) => "err_self_review",
        E::WrongState(_) => "err_wrong_state",
        E::ContradictsRecheck(_) => "err_contradicts_recheck",
        E::Changed(_) => "err_changed",
        E::SourceUnavailable(_) => "corrections_unavailable",
    };
    // The service's own account is English prose (the API gives it whole, for scripts); a page
    // says in its language what kind of refusal it was (issue 30, item 7).
    format!("{}.", t(lang, lead))
}

/// What is wrong with an IIN, in `lang`.
pub fn iin_error(lang: Lang, e: &crate::rules::iin::IinError) -> String {
    use crate::rules::iin::IinError as E;
    match e {
        E::Shape(s) => tf(lang, "err_iin_shape", &[format!("{s:?}")]),
        E::Century(s, c) => tf(lang, "err_iin_century", &[s.clone(), c.to_string()]),
        E::BirthDate(s, d) => tf(lang, "err_iin_birth", &[s.clone(), d.clone()]),
        E::CheckDigit(s, c) => tf(lang, "err_iin_check", &[s.clone(), c.clone()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_agree_with_their_number() {
        let ru: Vec<String> = [1, 2, 5, 11, 21, 22, 112].iter().map(|n| attempts(Lang::Ru, *n)).collect();
        assert_eq!(ru, ["1 попытка", "2 попытки", "5 попыток", "11 попыток", "21 попытка", "22 попытки", "112 попыток"]);
        assert_eq!(attempts(Lang::Kk, 2), "2 әрекет");
    }

    #[test]
    fn times_and_dates_as_people_in_kazakhstan_read_them() {
        let cases = [
            ("2026-11-29T17:12:55.886Z", "2026 жылғы 29 қараша, 22:12", "29 ноября 2026, 22:12"),
            // Past midnight in Almaty: the next day there.
            ("2026-01-15T20:30:00.000Z", "2026 жылғы 16 қаңтар, 01:30", "16 января 2026, 01:30"),
            ("2026-03-01T00:00:00+05:00", "2026 жылғы 1 наурыз, 00:00", "1 марта 2026, 00:00"),
        ];
        for (utc, kk, ru) in cases {
            assert_eq!((local_time(Lang::Kk, utc).as_deref(), local_time(Lang::Ru, utc).as_deref()), (Some(kk), Some(ru)), "{utc}");
        }
        assert_eq!(local_date(Lang::Ru, "2026-05-09").as_deref(), Some("9 мая 2026"));
        assert_eq!(local_date(Lang::Kk, "2026-12-16").as_deref(), Some("2026 жылғы 16 желтоқсан"));
        assert_eq!((local_time(Lang::Kk, "yesterday"), local_date(Lang::Ru, "2026-13-01")), (None, None));
    }

    #[test]
    fn errors_in_the_pages_language() {
        use crate::rules::iin::Iin;
        let cases = [
            ("12345", "ЖСН 12 цифрдан тұруы керек, енгізілгені: \"12345\"", "ИИН должен состоять из 12 цифр, введено: \"12345\""),
            // Issue 30, item 10: the expected digit is not named: an officer could "fix" a typo into
            // another real person's IIN.
            (
                "850101300001",
                "ЖСН 850101300001: бақылау цифры сәйкес келмейді — ЖСН-ді құжаттан қайта тексеріңіз",
                "ИИН 850101300001: контрольная цифра не совпадает — сверьте ИИН с документом",
            ),
            ("851301300001", "ЖСН 851301300001: туған күні 1985-13-01 нақты күн емес", "ИИН 851301300001: даты рождения 1985-13-01 не существует"),
        ];
        for (typed, kk, ru) in cases {
            let e = Iin::parse(typed).unwrap_err();
            assert_eq!((iin_error(Lang::Kk, &e), iin_error(Lang::Ru, &e)), (kk.to_string(), ru.to_string()), "{typed}");
        }
        // A filing's field: its dates as people write them.
        let e = crate::appeal::FieldError {
            field: "received_on",
            code: "after_today",
            args: vec!["2026-12-01".into(), "2026-11-30".into()],
            message: String::new(),
        };
        assert_eq!(field_error(Lang::Ru, &e), "Дата получения (1 декабря 2026) не может быть позже сегодняшней (30 ноября 2026)");
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
