//! Decision 22: a decision explains itself. After the annex's wording, kept word for word, a
//! notice says what was found (for each ground the record, whose it is and the registry) and
//! how to contest the decision. The texts are data (`rules/notices/explanations.json`); this
//! judges nothing: it describes the records the grounds rest on.

use super::checks::{on_decision_date, Context, Family, Ground, Records};
use super::iin::Iin;
use super::records::{Citizenship, GbdFl, RegistryId, Right, StateFundHousing};
use super::Texts;
use chrono::Datelike;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

const EXPLANATIONS: &str = include_str!("../../../rules/notices/explanations.json");

fn texts() -> &'static Value {
    static T: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    T.get_or_init(|| serde_json::from_str(EXPLANATIONS).expect("the explanation texts are valid JSON (checked by tests)"))
}

/// What was found for one ground, as the notice, the API and the pages give it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub clause: String,
    pub registry: String,
    /// `recipient`, `husband`, `wife`, `son`, `daughter` or `family_member`.
    pub whose: String,
    /// A family member's year of birth, from his IIN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_year: Option<i32>,
    /// What kind of record (the ground's code, or for clause 10.1 and 10.2 the fact:
    /// `declared_missing`, `declared_dead`, `death`, `stateless`).
    pub kind: String,
    /// The records the ground rests on, as the registry sent them (those holding on the
    /// decision date).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<Value>,
}

/// Whose a record is: the recipient, or a family member by relation (his IIN's seventh digit
/// gives the sex: odd for men), with his year of birth.
fn whose(recipient: &str, subject: &str, family: &Family) -> (String, Option<i32>) {
    if subject == recipient {
        return ("recipient".into(), None);
    }
    let Ok(iin) = Iin::parse(subject) else { return ("family_member".into(), None) };
    let male = iin.as_str().as_bytes()[6] % 2 == 1;
    let relation = if family.spouse.as_deref() == Some(subject) {
        if male {
            "husband"
        } else {
            "wife"
        }
    } else if family.children.iter().any(|c| c == subject) {
        if male {
            "son"
        } else {
            "daughter"
        }
    } else {
        "family_member"
    };
    (relation.into(), Some(iin.birth_date().year()))
}

/// The findings of `grounds`, from the answers the grounds rest on (`answers`, by registry),
/// each record as it stood on the decision date.
pub fn findings(recipient: &str, grounds: &[Ground], family: &Family, answers: &BTreeMap<RegistryId, Records>, ctx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    for g in grounds {
        let Some(registry) = RegistryId::parse(&g.registry) else { continue };
        let dated = answers.get(&registry).map(|r| on_decision_date(registry, r, ctx, &mut Vec::new()).unwrap_or_else(|_| r.clone())).unwrap_or_default();
        let rec = dated.get(&g.subject_iin).cloned().unwrap_or(Value::Null);
        let (who, birth_year) = whose(recipient, &g.subject_iin, family);
        let mut push = |kind: &str, records: Vec<Value>| {
            out.push(Finding {
                code: g.code.clone(),
                clause: g.clause.clone(),
                registry: g.registry.clone(),
                whose: who.clone(),
                birth_year,
                kind: kind.into(),
                records,
            })
        };
        let items = |field: &str| rec.get(field).and_then(Value::as_array).cloned().unwrap_or_default();
        match g.code.as_str() {
            "privatization_contract" => push(&g.code, items("privatization_contracts")),
            "shared_construction_contract" => push(&g.code, items("shared_construction_contracts")),
            "prior_service_housing" => push(&g.code, items("prior_station_housing")),
            "state_fund_housing_in_locality" => {
                // As the check judged it (clause 10, decision 19), on the typed record.
                let here = |h: &Value| {
                    StateFundHousing::deserialize(h).is_ok_and(|h| {
                        h.right == Right::PermanentUse && ctx.kato.as_deref().map_or(h.locality == ctx.locality, |k| h.kato.is_some_and(|x| x.0 == k))
                    })
                };
                push(&g.code, items("state_fund_housing").into_iter().filter(here).collect())
            }
            "missing_or_deceased" if registry == RegistryId::Zags => push("death", rec.get("death").cloned().into_iter().collect()),
            "missing_or_deceased" => {
                let person = GbdFl::deserialize(&rec).unwrap_or_default();
                for (fact, stated) in [("declared_missing", person.declared_missing), ("declared_dead", person.declared_dead)] {
                    if stated == Some(true) {
                        push(fact, Vec::new());
                    }
                }
            }
            "not_citizen" if GbdFl::deserialize(&rec).is_ok_and(|p| p.citizenship == Some(Citizenship::Stateless)) => push("stateless", Vec::new()),
            "not_citizen" => push(&g.code, vec![serde_json::json!({"citizenship": rec["citizenship"]})]),
            "permanent_residence_abroad" => push(&g.code, vec![serde_json::json!({"residence_country": rec["residence_country"]})]),
            other => push(other, Vec::new()),
        }
    }
    out
}

fn text(path: &[&str], lang: &str) -> String {
    let mut v = texts();
    for p in path {
        v = &v[*p];
    }
    v[lang].as_str().unwrap_or_default().to_string()
}

/// A `YYYY-MM-DD` date as each language writes it: `2027 жылғы 2 наурыз`, `2 марта 2027 г.`.
pub fn date(d: &str, lang: &str) -> String {
    let Ok(day) = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") else { return d.to_string() };
    let month = texts()["months"][lang][day.month0() as usize].as_str().unwrap_or_default();
    text(&["date"], lang).replace("{year}", &day.year().to_string()).replace("{day}", &day.day().to_string()).replace("{month}", month)
}

/// The parts of a record shown, in this order, where it has them.
const PARTS: [&str; 8] = ["number", "record", "date", "address", "object", "duty_station", "locality", "since"];

fn fill(template: &str, rec: &Value, lang: &str) -> String {
    let mut s = template.to_string();
    for (k, v) in rec.as_object().into_iter().flatten() {
        let v = match v.as_str() {
            Some(t) if k == "date" || k == "since" => date(t, lang),
            Some(t) => t.to_string(),
            None => v.to_string(),
        };
        s = s.replace(&format!("{{{k}}}"), &v);
    }
    s
}

/// One record as a phrase: its kind, then its number, date, address... where it has them.
fn record(kind: &str, rec: Option<&Value>, lang: &str) -> String {
    let mut s = text(&["records", kind], lang);
    if let Some(rec) = rec {
        s = fill(&s, rec, lang);
        for part in PARTS.iter().filter(|p| rec.get(**p).is_some_and(|v| !v.is_null())) {
            s.push_str(&fill(&text(&["parts", part], lang), rec, lang));
        }
    }
    s
}

/// The lines saying what was found, one per record, in one language (`kk` or `ru`).
pub fn found(findings: &[Finding], lang: &str) -> String {
    let mut lines = vec![text(&["found"], lang)];
    for f in findings {
        let whose = text(&["whose", &f.whose], lang).replace("{year}", &f.birth_year.map(|y| y.to_string()).unwrap_or_default());
        let registry = text(&["registries", &f.registry], lang);
        let records: Vec<Option<&Value>> = if f.records.is_empty() { vec![None] } else { f.records.iter().map(Some).collect() };
        for r in records {
            lines.push(text(&["line"], lang).replace("{record}", &record(&f.kind, r, lang)).replace("{whose}", &whose).replace("{registry}", &registry));
        }
    }
    lines.join("\n")
}

/// How to contest, in one language: to `body`, the body that took the decision.
pub fn contest(body: &str, lang: &str) -> String {
    text(&["contest"], lang).replace("{body}", body)
}

/// The annex's text (`annex`) followed by what was found and how to contest, in both languages.
pub fn explained(annex: Texts, findings: &[Finding], body: &str) -> Texts {
    let add = |t: String, lang: &str| format!("{t}\n\n{}\n\n{}", found(findings, lang), contest(body, lang));
    Texts { kk: add(annex.kk, "kk"), ru: add(annex.ru, "ru") }
}
