//! The public algorithm register as a page (`/register`), in the visitor's language, drawn from
//! its document (`crate::algorithm_register`, also served as `/register.json`). No token, no
//! personal data.

use super::i18n::{t, Lang};
use super::view;
use crate::algorithm_register::{Register, MIN_CELL};
use maud::{html, Markup};

fn count(l: Lang, n: Option<u64>) -> String {
    match n {
        Some(n) => n.to_string(),
        None => format!("< {MIN_CELL} ({})", t(l, "reg_suppressed")),
    }
}

/// The register as a page in `l`.
pub fn page(l: Lang, doc: &Register) -> Markup {
    html! {
        // Issue 30, item 12: what happens to a person, in plain words, first; the technical
        // material after, for auditors.
        div.card #register-how {
            h2 { (t(l, "reg_how_title")) }
            @for para in t(l, "reg_how_text").split("\n") { p { (para) } }
        }
        div.card #register-intro {
            p { (t(l, "reg_intro")) }
            p { a href="/register.json" { "register.json" } }
        }
        @for p in &doc.procedures {
            @let procedure = p.procedure.as_str();
            @let today = crate::rules::calendar::today().to_string();
            @let (begin, end) = (p.begin_date.clone().unwrap_or_default(), p.end_date.clone().unwrap_or_default());
            div.card id=(format!("procedure-{procedure}")) {
                h2 { (t(l, procedure)) }
                dl {
                    dt { (t(l, "reg_basis")) } dd { (t(l, &format!("reg_basis_{procedure}"))) }
                    dt { (t(l, "reg_validity")) } dd { (view::day(l, &begin)) " — " (view::day(l, &end)) }
                    dt { (t(l, "reg_status")) } dd #(format!("status-{procedure}")) {
                        @if today.as_str() > end.as_str() { span.bad { (t(l, "reg_ended")) } } @else if today.as_str() < begin.as_str() { (t(l, "reg_not_yet")) } @else { span.ok { (t(l, "reg_in_force")) } }
                    }
                    dt { (t(l, "reg_human")) } dd { (t(l, "reg_human_text")) }
                    dt { (t(l, "reg_appeal")) } dd { (t(l, "reg_appeal_text")) }
                    dt { (t(l, "reg_contact")) } dd { (t(l, "reg_contact_text")) }
                }
                h3 { (t(l, "reg_rule_sets")) }
                @for rs in &p.rule_sets {
                    p { strong { (rs.id) " v" (rs.version) } br; code { "sha256 " (rs.sha256) } }
                    table {
                        thead { tr { th { (t(l, "reg_step")) } th { (t(l, "reg_clause")) } th { (t(l, "reg_asks")) } th { (t(l, "reg_ground")) } } }
                        tbody {
                            @for st in &rs.steps {
                                tr {
                                    td { (st.step) }
                                    td { (st.clause) }
                                    td { (st.registries.iter().map(|r| t(l, r)).collect::<Vec<_>>().join(", ")) }
                                    td {
                                        @if let Some(g) = &st.ground { (t(l, g)) }
                                        @else if !st.criteria.is_empty() { (st.criteria.iter().map(|g| t(l, g)).collect::<Vec<_>>().join("; ")) }
                                        @else { span.muted { (t(l, "reg_no_ground")) } }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { (t(l, "reg_sources")) }
                ul {
                    @for src in &p.source_data {
                        li { (t(l, &src.registry)) ": " code { (src.verifier_key.as_deref().unwrap_or("—")) } }
                    }
                }
                h3 { (t(l, "reg_figures")) }
                @let f = &p.figures;
                dl {
                    dt { (t(l, "reg_runs")) } dd { (f.runs) }
                    dt { (t(l, &format!("reg_decided_{procedure}"))) } dd { (count(l, f.decisions_confirmed)) }
                    dt { (t(l, "reg_overturned")) } dd {
                        (count(l, f.overturned_on_appeal))
                        @if let Some(share) = f.share_overturned_percent { " (" (super::dashboard::percent(share)) ")" }
                    }
                }
                @if !f.by_ground.is_empty() {
                    table {
                        thead { tr { th { (t(l, "reg_ground")) } th { (t(l, &format!("reg_decided_{procedure}"))) } } }
                        tbody { @for (code, n) in &f.by_ground { tr { td { (t(l, code)) } td { (count(l, *n)) } } } }
                    }
                }
            }
        }
        div.card #register-checkpoint {
            h2 { (t(l, "reg_checkpoint")) }
            pre { (doc.checkpoint.as_deref().unwrap_or("—")) }
            p { (t(l, "reg_verify_text")) }
            pre { "housing-ledger verify-proof proof.json --ledger-key VKEY" }
        }
    }
}
