//! Decision 22: what a decision's notice explains, for the API and the pages, read from the
//! notice's recorded `{body, findings}`: the findings, the text in both languages, and how to
//! contest (to whom, and the last day, counted from the delivery).

use super::*;

/// Decision 22: what a decision's notice explains, for the API and the pages: the findings, and
/// how to contest (to whom, and the last day, counted from the delivery as decision 17 says and
/// marked provisional where decision 23 says; none before delivery). Members are declared in
/// the order `serde_json` sorts a map's keys, so the API's bytes are those it had as a map.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Explanation {
    pub contest: Contest,
    pub findings: Vec<crate::rules::explain::Finding>,
    /// The whole explanation as text, in Kazakh and in Russian.
    pub text: ExplanationText,
}

/// How to contest a decision (decisions 17, 22 and 23).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contest {
    pub delivered_on: Option<String>,
    pub last_day: Option<String>,
    pub moved_from: Option<String>,
    pub provisional: Option<String>,
    pub suspension_on_request: bool,
    /// The body an appeal goes to.
    pub to: String,
    pub unchecked: Option<String>,
    pub within: String,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExplanationText {
    pub kk: String,
    pub ru: String,
}

/// A notice's explanation as its event records it: `{"body", "findings"}`.
#[derive(serde::Deserialize)]
struct Stated {
    #[serde(default)]
    body: String,
    findings: Vec<crate::rules::explain::Finding>,
}

/// The explanation of `case`'s notice (none for a notice issued before decision 22).
pub fn explanation_of(case: &projections::person::ProcedureCase) -> Option<Explanation> {
    let x = case.explained.as_ref()?;
    let Stated { body, findings } = events::catalogue::members(&x.explanation).ok()?;
    let delivered = x.delivered_at.as_deref().and_then(calendar::local_date_of);
    let counted = delivered.map(|d| calendar::appeal_deadline(calendar::Calendar::built_in(), d));
    let text = |lang| format!("{}\n\n{}", crate::rules::explain::found(&findings, lang), crate::rules::explain::contest(&body, lang));
    Some(Explanation {
        text: ExplanationText { kk: text("kk"), ru: text("ru") },
        contest: Contest {
            within: "3 months from the delivery of the notice".into(),
            delivered_on: delivered.map(|d| d.to_string()),
            last_day: counted.as_ref().map(|d| d.last_day.to_string()),
            moved_from: counted.as_ref().and_then(|d| d.moved_from).map(|d| d.to_string()),
            provisional: counted.as_ref().and_then(|d| d.provisional.clone()),
            unchecked: counted.as_ref().and_then(|d| d.unchecked.clone()),
            suspension_on_request: true,
            to: body,
        },
        findings,
    })
}
