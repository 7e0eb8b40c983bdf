//! Clause 12 and the annex: the notice text in Kazakh and Russian, naming every ground, with
//! the family-member suffix where a ground concerns a family member.

use super::checks::{Ground, Subject};
use super::{RuleSet, Texts};

/// The reason phrase for the grounds, in one language (`kk` or `ru`); identical phrases once.
fn reasons(rs: &RuleSet, grounds: &[Ground], kk: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    for g in grounds {
        let Some(t) = rs.reasons.get(&g.code) else {
            continue;
        };
        let mut phrase = if kk { t.kk.clone() } else { t.ru.clone() };
        if g.subject == Subject::FamilyMember {
            phrase.push_str(if kk { &rs.family_suffix.kk } else { &rs.family_suffix.ru });
        }
        if !parts.contains(&phrase) {
            parts.push(phrase);
        }
    }
    parts.join(&rs.reason_separator)
}

/// The notice of removal / termination for `grounds`.
pub fn render(rs: &RuleSet, grounds: &[Ground]) -> Texts {
    let (kk, ru) = (reasons(rs, grounds, true), reasons(rs, grounds, false));
    let fill = |t: &str| t.replace("{reason_kk}", &kk).replace("{reason_ru}", &ru);
    Texts { kk: fill(&rs.notice.kk), ru: fill(&rs.notice.ru) }
}
