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

/// The working texts of the reinstatement notice (decision 10), per procedure.
const REINSTATEMENT: &str = include_str!("../../../rules/appeals/reinstatement-notices.json");

/// The notice of reinstatement after an overturned decision, with `fields` (`received_on`,
/// `queue_number`, `registered_on`, `lease_contract`) filled in.
pub fn reinstatement(procedure: super::Procedure, fields: &serde_json::Value) -> Texts {
    let all: serde_json::Value = serde_json::from_str(REINSTATEMENT).expect("the reinstatement texts are valid JSON");
    let t: Texts = serde_json::from_value(all[procedure.as_str()].clone()).expect("each procedure has a reinstatement text");
    let fill = |s: &str| {
        let mut s = s.to_string();
        for (k, v) in fields.as_object().into_iter().flatten() {
            let v = v.as_str().map(String::from).unwrap_or_else(|| v.to_string());
            s = s.replace(&format!("{{{k}}}"), &v);
        }
        s
    };
    Texts { kk: fill(&t.kk), ru: fill(&t.ru) }
}
