//! `/ui/what-if`: an officer or auditor judges the recorded answers again under another rule
//! set (one the service knows, or one pasted), and sees who would change, with the dashboard's
//! charts. Nothing is written to the ledger but the record of the read: the list names persons.

use super::i18n::t;
use super::{internal, view, Session, WebError};
use crate::audit::WhatIf;
use crate::auth::Role;
use crate::rules::RuleSet;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct WhatIfForm {
    /// The sha256 of a rule set the service knows, or empty for `pasted`.
    #[serde(default)]
    known: String,
    #[serde(default)]
    pasted: String,
    /// The form's other fields: `drop-N` for each step to leave out of the rule set chosen
    /// (issue 30: a question asked without writing a whole rule set).
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    run: String,
    #[serde(default)]
    csrf: String,
}

fn form(session: &Session, s: &AppState) -> Markup {
    let l = session.lang;
    html! {
        form.card #what-if-form method="post" action="/ui/what-if" {
            (view::csrf_field(&session.csrf().unwrap_or_default()))
            (view::field(l, "known", "wi_known", false, html! {
                select #known name="known" {
                    option value="" { (t(l, "wi_pasted_choice")) }
                    @for rs in &s.book.sets {
                        option value=(rs.sha256) { (format!("{} v{} ({}) — {}…", rs.id, rs.version, t(l, rs.procedure.as_str()), &rs.sha256[..12])) }
                    }
                }
            }))
            fieldset #drop-steps {
                legend { (t(l, "wi_drop")) }
                @for step in ["6", "7", "8", "9", "10"] {
                    div.field { input type="checkbox" id=(format!("drop-{step}")) name=(format!("drop-{step}")) value=(step); " " label.inline for=(format!("drop-{step}")) { (t(l, "step")) " " (step) } }
                }
            }
            details {
                summary { (t(l, "wi_pasted")) }
                (view::field(l, "pasted", "wi_pasted", false, html! { textarea #pasted name="pasted" rows="8" {} }))
            }
            (view::field(l, "run", "wi_run", false, html! { input #run name="run" type="text"; }))
            button #what-if-run type="submit" { (t(l, "wi_go")) }
        }
    }
}

pub(super) async fn page(State(s): State<AppState>, session: Session) -> Result<Html<String>, WebError> {
    session.require(&[Role::Auditor, Role::AppealsOfficer])?;
    Ok(session.page(&t(session.lang, "what_if"), "/ui/what-if", form(&session, &s)))
}

pub(super) async fn run(State(s): State<AppState>, session: Session, Form(f): Form<WhatIfForm>) -> Result<Html<String>, WebError> {
    session.require(&[Role::Auditor, Role::AppealsOfficer])?;
    session.check_csrf(&f.csrf)?;
    let l = session.lang;
    let drop: Vec<String> = f.rest.iter().filter(|(k, _)| k.starts_with("drop-")).map(|(_, v)| v.clone()).collect();
    let rs: RuleSet = match s.book.sets.iter().find(|rs| !f.known.is_empty() && rs.sha256 == f.known) {
        Some(rs) if !drop.is_empty() => without_steps(rs, &drop).map_err(|e| session.fail(StatusCode::BAD_REQUEST, e.to_string()))?,
        Some(rs) => rs.clone(),
        None if f.pasted.trim().is_empty() => return Err(session.fail(StatusCode::BAD_REQUEST, t(l, "wi_no_rule_set"))),
        None => RuleSet::from_json("pasted", &f.pasted).map_err(|e| session.fail(StatusCode::BAD_REQUEST, e))?,
    };
    let only = Some(f.run.trim()).filter(|r| !r.is_empty());
    let w = crate::audit::what_if(&s.ledger, &rs, &s.book, only, |_, _| {}).await.map_err(internal(l))?;
    Ok(session.page(&t(l, "what_if"), "/ui/what-if", html! { (form(&session, &s)) (result(&session, &rs, &w)) }))
}

/// `rs` with the steps `drop` left out, as a rule set of its own (its own version and sha256):
/// "what if clause 9 did not apply".
fn without_steps(rs: &RuleSet, drop: &[String]) -> Result<RuleSet, crate::rules::RuleError> {
    let mut v = serde_json::to_value(rs).map_err(|e| crate::rules::RuleError::Invalid { name: "what-if".into(), detail: e.to_string() })?;
    if let Some(steps) = v["steps"].as_array_mut() {
        steps.retain(|st| !drop.iter().any(|d| st["step"] == d.as_str() && d != "5"));
    }
    v["version"] = format!("{}-without-{}", rs.version, drop.join("-")).into();
    RuleSet::from_json("what-if", &v.to_string())
}

fn result(session: &Session, rs: &RuleSet, w: &WhatIf) -> Markup {
    let l = session.lang;
    let counts = w.counts();
    let rows = |what: &str| -> Vec<(String, u64, u64)> {
        let mut r: Vec<(String, u64, u64)> = counts.iter().filter(|((k, _), _)| *k == what).map(|((_, v), n)| (t(l, v), *n, 0)).collect();
        r.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        r
    };
    html! {
        div.card #what-if-summary {
            p {
                strong { (rs.id) " v" (rs.version) } " · sha256 " code { (rs.sha256) } br;
                (t(l, "wi_persons")) ": " strong #wi-persons { (w.persons) } " · "
                (t(l, "wi_changed")) ": " strong #wi-changed { (w.changed.len()) } " · "
                (t(l, "wi_cannot_tell")) ": " strong #wi-cannot-tell { (w.cannot_tell.len()) }
            }
        }
        @if !w.changed.is_empty() {
            div.card { h2 { (t(l, "wi_gained")) } (view::bars(l, "chart-wi-gained", &rows("ground gained"))) }
            div.card { h2 { (t(l, "wi_lost")) } (view::bars(l, "chart-wi-lost", &rows("ground lost"))) }
            div.card { h2 { (t(l, "by_procedure")) } (view::bars(l, "chart-wi-procedure", &rows("procedure"))) }
            div.card { h2 { (t(l, "wi_locality")) } (view::bars(l, "chart-wi-locality", &rows("locality"))) }
            div.card {
                table #wi-changes {
                    thead { tr { th { (t(l, "iin")) } th { (t(l, "wi_procedure")) } th { (t(l, "wi_locality")) } th { (t(l, "wi_from")) } th { (t(l, "wi_to")) } } }
                    tbody {
                        @for c in &w.changed {
                            tr {
                                td { a href=(format!("/ui/persons/{}", c.iin)) { (c.iin) } }
                                td { (t(l, &c.procedure)) }
                                td { (c.locality) }
                                td { (t(l, &c.from)) " " (c.grounds_from.iter().map(|g| t(l, g)).collect::<Vec<_>>().join(", ")) }
                                td { (t(l, &c.to)) " " (c.grounds_to.iter().map(|g| t(l, g)).collect::<Vec<_>>().join(", ")) }
                            }
                        }
                    }
                }
            }
        }
        @if !w.cannot_tell.is_empty() {
            div.card #wi-cannot-tell-list {
                h2 { (t(l, "wi_cannot_tell")) }
                ul { @for c in &w.cannot_tell { li { a href=(format!("/ui/persons/{}", c.iin)) { (c.iin) } " · " (t(l, &c.procedure)) ": " (c.why) } } }
            }
        }
    }
}
