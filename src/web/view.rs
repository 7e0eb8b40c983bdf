//! How the pages look: the layout, events and registry answers shown readably in the chosen
//! language, and charts as inline SVG (no script is needed anywhere).

use super::i18n::{t, Lang};
use crate::proof::EventCheck;
use events::catalogue::{self as c, Ground, Lenient};
use events::types::*;
use events::Event;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

pub(crate) const CSS: &str = r#"
body{font-family:system-ui,sans-serif;margin:0;color:#1b1f23;background:#f6f7f9}
header{background:#0b3d62;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center;flex-wrap:wrap}
header a{color:#fff} header form{margin:0} main{padding:1em 1.2em;max-width:1100px}
.card{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:.8em 1em;margin:.8em 0}
.ok{color:#1a7f37}.bad{color:#b42318;font-weight:bold}.muted{color:#57606a}.flash{background:#fff8c5;border-color:#d4a72c}
.err{background:#ffebe9;border-color:#ff8182}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid #e4e7eb;padding:.35em .5em;text-align:left;vertical-align:top}
dl{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em} dt{color:#57606a}
label{display:block;margin:.3em 0} .field{margin:.6em 0} .field label{font-weight:600;margin-bottom:.2em} .req{color:#b00020;text-decoration:none;border:0} label.inline{display:inline;font-weight:normal} input[type=text],input[type=date],textarea,select{width:100%;max-width:36em;padding:.3em}
button{padding:.35em .9em;margin:.3em .3em 0 0} .status{font-weight:bold}
.field-error{color:#b42318;margin:.2em 0;font-weight:600} .invalid input,.invalid textarea{border:2px solid #b42318}
:focus-visible{outline:3px solid #d4a72c;outline-offset:2px}
.filters{display:flex;gap:1.2em;align-items:flex-end;flex-wrap:wrap} .filters .field{margin:0} .filters select{min-width:12em}
table.figures{width:auto;margin:.6em 0} table.figures td,table.figures th{padding:.25em .9em} .pager{margin:1em 0}
#timeline td:first-child{white-space:nowrap} #timeline tbody.step{border-left:4px solid #0b3d62}
#timeline tr.step-head th{background:#eef2f6;font-weight:600;border-bottom:0}
pre.note{white-space:pre-wrap;word-break:break-all;font-size:.85em}
dd,td,p,li,code{overflow-wrap:anywhere} pre{white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-all} .appeal-outcome.overturned{color:#b42318;font-weight:bold}
.explanation p.finding{margin:.2em 0} .explanation .last-day{margin-top:.4em} ol.tasks{padding-left:0;list-style:none} ol.tasks li.task{border-left:4px solid #d8dde3;padding:.2em .8em;margin:.5em 0}
.scroll{overflow-x:auto} .visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap} svg{max-width:100%;height:auto}
@media (max-width:640px){main{padding:.6em} header{padding:.5em .8em;gap:.6em}
 dl{display:block} dt{margin-top:.5em} dd{margin:0}
 table{display:block;overflow-x:auto} #timeline,#timeline tbody,#timeline tr,#timeline td,#timeline th{display:block;width:auto}
 #timeline tr.event{border:1px solid #e4e7eb;border-radius:6px;margin:.4em 0;padding:.3em} #timeline td{border:0;padding:.15em .3em}
 #timeline td:first-child{white-space:normal} button,a.button,input,select,textarea{min-height:44px;font-size:1rem} input[type=text],textarea,select{max-width:100%;box-sizing:border-box}
 .filters{display:block}}
@media print{header,.noprint,form,details.raw{display:none} body{background:#fff;font-size:11pt} main{padding:0;max-width:none}
 .card{border:0;border-top:1px solid #999;border-radius:0;padding:.4em 0;margin:.6em 0} h2,h3{break-after:avoid} .ground,.answer,dl{break-inside:avoid}
 *{overflow-wrap:anywhere;word-break:break-word} pre,code,pre.note{white-space:pre-wrap;word-break:break-all} table{table-layout:fixed;width:100%} td,th{white-space:normal!important}
 dl{grid-template-columns:minmax(0,12em) minmax(0,1fr)} dd{min-width:0} td dl{display:block} td dt{font-weight:600} td dd{margin:0 0 .3em 0}
 #print-appeal th:nth-child(1){width:3em} #print-appeal th:nth-child(2){width:7em} #print-appeal th:nth-child(3){width:8em}
 a{color:inherit;text-decoration:none} @page{size:A4;margin:16mm 14mm}}
"#;

/// The frame of every page: title, language switch, navigation.
/// `csrf`: the session's form token when logged in (navigation and logout are shown), else `None`.
pub fn layout(lang: Lang, title: &str, here: &str, csrf: Option<&str>, body: Markup) -> Markup {
    let back = urlencode(here);
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — housing-ledger" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    // The public register and the verifier are not the officers' cabinet.
                    strong { (t(lang, if here.starts_with("/register") || here == "/verify" { "public_title" } else { "title" })) }
                    @if csrf.is_some() {
                        a href="/ui" { (t(lang, "search_iin")) }
                        a #nav-dashboard href="/ui/dashboard" { (t(lang, "dashboard")) }
                        a #nav-what-if href="/ui/what-if" { (t(lang, "what_if")) }
                    }
                    span {
                        a #lang-kk href=(format!("/ui/lang/kk?back={back}")) { "Қазақша" } " · "
                        a #lang-ru href=(format!("/ui/lang/ru?back={back}")) { "Русский" }
                    }
                    @if let Some(token) = csrf {
                        form method="post" action="/ui/logout" { (csrf_field(token)) button #logout type="submit" { (t(lang, "logout")) } }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// The hidden field every form posts its CSRF token in.
/// An instant in local time, the exact UTC instant in its `title` and `datetime`.
pub fn when(lang: Lang, utc: &str) -> Markup {
    match super::i18n::local_time(lang, utc) {
        Some(local) => html! { time datetime=(utc) title=(format!("{utc} (UTC)")) { (local) } },
        None => html! { (utc) },
    }
}

/// When a registry issued an answer, in local time; `—` if it does not say.
pub fn issued_at(lang: Lang, answer: &Value) -> Markup {
    crate::registry::AnswerHead::of(answer).issued_at.map(|x| when(lang, &x)).unwrap_or_else(|| html! { "—" })
}

/// A calendar date (`YYYY-MM-DD`) as people write it.
pub fn day(lang: Lang, ymd: &str) -> Markup {
    match super::i18n::local_date(lang, ymd) {
        Some(d) => html! { time datetime=(ymd) { (d) } },
        None => html! { (ymd) },
    }
}

/// A form field: its label above it, tied to it by `for`/`id`, and a required one marked.
pub fn field(lang: Lang, id: &str, label: &str, required: bool, input: Markup) -> Markup {
    field_with(lang, id, label, required, None, input)
}

/// A field with what is wrong in it beside it, in `error` (already in `lang`), as
/// `{id}-error`: the input names it by `aria-describedby` (see [`error_attrs`]).
pub fn field_with(lang: Lang, id: &str, label: &str, required: bool, error: Option<&str>, input: Markup) -> Markup {
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (t(lang, label)) @if required { " " abbr.req title=(t(lang, "required")) { "*" } } }
            (input)
            @if let Some(e) = error { p.field-error id=(format!("{id}-error")) role="alert" { "⚠ " (e) } }
        }
    }
}

/// The `aria-describedby` and `aria-invalid` an input carries when its field has an error.
pub fn error_attrs(id: &str, error: Option<&str>) -> (Option<String>, Option<&'static str>) {
    (error.map(|_| format!("{id}-error")), error.map(|_| "true"))
}

pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q.trim_start_matches('=').to_string()).unwrap_or_default()
}

/// A value from a registry answer, labelled in `lang`.
pub fn value(lang: Lang, v: &Value) -> Markup {
    html! {
        @match v {
            Value::Object(m) if m.is_empty() => span.muted { (t(lang, "no_records")) },
            Value::Object(m) => dl { @for (k, x) in m { dt { (t(lang, k)) } dd { (value(lang, x)) } } },
            Value::Array(a) if a.is_empty() => span.muted { "—" },
            Value::Array(a) => ol { @for x in a { li { (value(lang, x)) } } },
            Value::Bool(b) => (t(lang, if *b { "yes" } else { "no" })),
            Value::Null => span.muted { "—" },
            // Dates and instants as people here read them; other words in the page's language.
            Value::String(x) if super::i18n::local_date(lang, x).is_some() => (day(lang, x)),
            Value::String(x) if x.len() > 10 && super::i18n::local_time(lang, x).is_some() => (when(lang, x)),
            Value::String(x) => (t(lang, x)),
            other => (other.to_string()),
        }
    }
}

/// A per-person answer's records by subject: each subject asked about, with what the registry
/// holds on him (or that it holds nothing).
pub fn subjects_records(lang: Lang, answer: &Value) -> Markup {
    html! {
        dl {
            @for s in verifier::registry::AnswerHead::of(answer).subjects() {
                dt { (s) }
                dd { (value(lang, verifier::registry::records_in(answer).get(&s).unwrap_or(&Value::Object(Default::default())))) }
            }
        }
    }
}

/// Grounds as a list: reason, clause, on whom, from which registry.
/// Grounds, each linked (where `link` gives a seq's place on the case page) to the registry
/// answers it rests on (issue 30, item 4).
pub fn grounds_linked(lang: Lang, list: &[Ground], link: Option<&dyn Fn(u64) -> String>) -> Markup {
    html! {
        @if !list.is_empty() {
            ul.grounds {
                @for g in list {
                    li {
                        (t(lang, &g.code)) " (" (g.clause) "), " (t(lang, g.subject.as_str())) " " (g.subject_iin) ", " (t(lang, &g.registry))
                        @if let Some(link) = link {
                            @for seq in g.evidence.iter().filter_map(|r| r.seq()) {
                                " · " a.evidence href=(link(seq)) { (t(lang, "evidence")) " #" (seq) }
                            }
                        }
                    }
                }
            }
        } @else { span.muted { "—" } }
    }
}

pub fn grounds(lang: Lang, list: &[Ground]) -> Markup {
    grounds_linked(lang, list, None)
}

fn who(a: &c::Actor) -> &str {
    if a.holder.is_empty() {
        &a.token
    } else {
        &a.holder
    }
}

/// One event shown readably; one of a type not shown so, or whose data does not decode, as
/// its JSON.
pub fn event(lang: Lang, e: &Event) -> Markup {
    typed_event(lang, e).unwrap_or_else(|| html! { pre { (serde_json::to_string_pretty(&e.data).unwrap_or_default()) } })
}

fn typed_event(lang: Lang, e: &Event) -> Option<Markup> {
    Some(match e.kind.as_str() {
        LIST_ENTRY_RECEIVED => value(lang, &e.decode::<c::ListEntryReceived>().ok()?.entry),
        REGISTRY_QUERIED => {
            let d = e.decode::<c::RegistryQueried>().ok()?;
            html! { (t(lang, &d.registry)) ", " (t(lang, "step")) " " (d.step) ": " (d.subjects.join(", ")) }
        }
        REGISTRY_RESPONDED => {
            let d = e.decode::<c::RegistryResponded>().ok()?;
            html! {
                strong { (t(lang, &d.registry)) }
                @if d.correction == Some(true) { " — " em { (t(lang, "correction")) } }
                br;
                (value(lang, verifier::registry::records_in(&d.answer)))
            }
        }
        REGISTRY_FAILED => {
            let d = e.decode::<c::RegistryFailed>().ok()?;
            html! { (t(lang, &d.registry)) ": " span.bad { (d.kind) } " — " (d.detail) }
        }
        CHECK_EVALUATED => {
            let d = e.decode::<c::CheckEvaluated>().ok()?;
            html! { (t(lang, "step")) " " (d.step) " (" (d.clause) "): " strong { (t(lang, d.verdict.as_str())) } (grounds(lang, &d.grounds)) }
        }
        DECISION_PROPOSED => {
            let d = e.decode::<c::DecisionProposed>().ok()?;
            html! { (t(lang, d.outcome.as_str())) (grounds(lang, &d.grounds)) }
        }
        DECISION_TAKEN => {
            let d = e.decode::<c::DecisionTaken>().ok()?;
            html! { strong { (t(lang, d.outcome.as_str())) } " — " (t(lang, "decided_by")) ": " (d.decided_by) " " (d.reference.unwrap_or_default()) }
        }
        NOTICE_ISSUED => {
            let d = e.decode::<c::NoticeIssued>().ok()?;
            // The other language opens on demand.
            let (own, other) = if lang == Lang::Kk { (&d.text.kk, &d.text.ru) } else { (&d.text.ru, &d.text.kk) };
            html! {
                p { (own) }
                details { summary { (if lang == Lang::Kk { "Орысша" } else { "Қазақша" }) } p { (other) } }
            }
        }
        // The gateway's own receipt is its text, not ours: kept, folded away, never printed.
        NOTICE_DELIVERED => {
            let d = e.decode::<c::NoticeDelivered>().ok()?;
            html! { (t(lang, "delivered")) " (" (t(lang, "delivery_attempt")) " " (d.attempt) ")" details.raw { summary { (t(lang, "gateway_receipt")) } code { (d.detail) } } }
        }
        NOTICE_DELIVERY_FAILED => {
            let d = e.decode::<c::NoticeDeliveryFailed>().ok()?;
            html! { span.bad { (t(lang, "failed")) } " (" (t(lang, "delivery_attempt")) " " (d.attempt) ")" details.raw { summary { (t(lang, "gateway_receipt")) } code { (d.detail) } } }
        }
        REINSTATEMENT_ACKNOWLEDGED => {
            let d = e.decode::<c::ReinstatementAcknowledged>().ok()?;
            html! { (t(lang, &d.registry)) ": " span.ok { (t(lang, "acknowledged")) } " (" (t(lang, "delivery_attempt")) " " (d.attempt) ")" }
        }
        APPEAL_FILED => {
            let d = e.decode::<c::AppealFiled>().ok()?;
            html! {
                dl {
                    dt { (t(lang, "appeal")) } dd { (d.appeal) " — " (who(&d.filed_by)) }
                    dt { (t(lang, "appellant_grounds")) } dd { (d.grounds) }
                    dt { (t(lang, "received_on")) } dd { (day(lang, &d.received_on)) }
                    dt { (t(lang, "deadline")) } dd { (d.deadline.as_deref().map(|x| day(lang, x)).unwrap_or_else(|| html! { "—" })) @if d.late { " " span.bad { (t(lang, "late")) } ": " (d.late_reason.as_deref().unwrap_or("—")) } }
                    dt { (t(lang, "contested_step")) } dd { (d.contested_step) }
                }
            }
        }
        REMOVAL_SUSPENDED => {
            let d = e.decode::<c::RemovalSuspended>().ok()?;
            html! { (t(lang, "suspended")) " — " (who(&d.by)) }
        }
        APPEAL_RECHECKED => {
            let d = e.decode::<c::AppealRechecked>().ok()?;
            html! { (t(lang, "step")) " " (d.from_step) "…: " strong { (t(lang, d.verdict.as_str())) } (grounds(lang, &d.grounds)) }
        }
        APPEAL_RESOLVED => {
            let d = e.decode::<c::AppealResolved>().ok()?;
            html! {
                strong { (t(lang, d.outcome.as_str())) } " — " (who(&d.resolved_by)) ": " (d.reason)
                @if let Some(r) = d.reinstated.as_ref().filter(|r| r.is_object()) { (value(lang, r)) }
            }
        }
        _ => return None,
    })
}

/// A notice's text in both languages, each marked with its language (for print, where a
/// closed `<details>` would not show).
pub fn notice_texts(lang: Lang, e: &Event) -> Markup {
    match e.decode::<c::NoticeIssued>() {
        Ok(d) => html! { p lang="kk" { (d.text.kk) } p lang="ru" { (d.text.ru) } },
        Err(_) => event(lang, e),
    }
}

/// The verification marks of one event.
pub fn checked(lang: Lang, c: Option<&EventCheck>) -> Markup {
    let mark = |r: &Result<(), crate::proof::CheckFailed>, ok: &str, bad: &str| {
        html! { @match r { Ok(()) => span.ok { "✓ " (t(lang, ok)) }, Err(e) => span.bad title=(e.0) { "✗ " (t(lang, bad)) } } }
    };
    // One mark per event; what it rests on (signature, inclusion, source) opens on demand.
    html! {
        @if let Some(c) = c {
            @let all_ok = c.signature.is_ok() && c.inclusion.is_ok() && c.source.as_ref().is_none_or(|s| s.is_ok());
            details.check data-seq=(c.seq) {
                // A passing event's mark is only ✓ (its word is for screen readers): one line above
                // the timeline says how many passed; a failing one says so in words.
                summary { @if all_ok { span.ok { "✓" span.visually-hidden { " " (t(lang, "verified")) } } } @else { span.bad { "✗ " (t(lang, "not_verified")) } } }
                (mark(&c.signature, "sig_ok", "sig_bad")) br;
                (mark(&c.inclusion, "incl_ok", "incl_bad"))
                @if let Some(src) = &c.source { br; (mark(src, "source_ok", "source_bad")) }
            }
        }
    }
}

/// A horizontal bar chart: each row's total, with the part reversed on appeal drawn over it.
pub fn bars(lang: Lang, id: &str, rows: &[(String, u64, u64)]) -> Markup {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let (label_w, bar_w, row_h) = (330.0, 360.0, 26.0);
    let height = row_h * rows.len().max(1) as f64 + 10.0;
    html! {
        svg #(id) role="img" width=(label_w + bar_w + 260.0) height=(height) xmlns="http://www.w3.org/2000/svg" {
            title { (t(lang, "removals")) ", " (t(lang, "reversed")) }
            @for (i, (label, total, reversed)) in rows.iter().enumerate() {
                @let y = 5.0 + i as f64 * row_h;
                text x="0" y=(y + 16.0) font-size="13" { (label) }
                rect x=(label_w) y=(y) width=(bar_w * *total as f64 / max) height=(row_h - 6.0) fill="#0b3d62" {}
                rect x=(label_w) y=(y) width=(bar_w * *reversed as f64 / max) height=(row_h - 6.0) fill="#e8a33d" {}
                text x=(label_w + bar_w * *total as f64 / max + 6.0) y=(y + 16.0) font-size="13" {
                    (total) @if *reversed > 0 { " (" (reversed) " " (t(lang, "reversed")) ")" }
                }
            }
        }
    }
}

/// The local date in Kazakhstan of an instant, as people write it (the instant itself if it
/// does not parse).
pub fn local_date_of(lang: Lang, utc: &str) -> String {
    crate::rules::calendar::local_date_of(utc).map(|d| super::i18n::date(lang, d)).unwrap_or_else(|| utc.to_string())
}

/// One line of a line chart: its label and its points, `(x index, value)`.
pub struct Series {
    pub label: String,
    pub points: Vec<(usize, u64)>,
}

/// A line chart over `x_labels` (in order), one line per series, each point marked and titled
/// with its value; the figures themselves are in a table beside it.
pub fn lines(lang: Lang, id: &str, series: &[Series], x_labels: &[String]) -> Markup {
    const COLOURS: [&str; 2] = ["#0b3d62", "#a04a00"];
    let (left, top, plot_w, plot_h, bottom) = (56.0, 40.0, 600.0, 170.0, 64.0);
    let max = series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).max().unwrap_or(0).max(1) as f64;
    let step = plot_w / (x_labels.len().saturating_sub(1).max(1)) as f64;
    let x = |i: usize| left + if x_labels.len() == 1 { plot_w / 2.0 } else { i as f64 * step };
    let y = |v: u64| top + plot_h - plot_h * v as f64 / max;
    // Every label if they fit, else every k-th.
    let every = x_labels.len().div_ceil(10).max(1);
    let title_id = format!("{id}-title");
    html! {
        svg #(id) role="img" aria-labelledby=(title_id) width=(left + plot_w + 90.0) height=(top + plot_h + bottom) xmlns="http://www.w3.org/2000/svg" {
            title #(title_id) { (series.iter().map(|s| s.label.as_str()).collect::<Vec<_>>().join(", ")) ". " (t(lang, "chart_values")) }
            @for v in [0, max as u64 / 2, max as u64] {
                line x1=(left) x2=(left + plot_w) y1=(y(v)) y2=(y(v)) stroke="#d8dde3" {}
                text x=(left - 8.0) y=(y(v) + 4.0) font-size="12" text-anchor="end" { (v) }
            }
            // A label's lines (a date, then a time where two runs share the date) one under the other.
            @for (i, label) in x_labels.iter().enumerate() {
                @if i % every == 0 {
                    text x=(x(i)) y=(top + plot_h + 18.0) font-size="11" text-anchor="middle" {
                        @for (k, line) in label.lines().enumerate() { tspan x=(x(i)) dy=(if k == 0 { "0" } else { "1.2em" }) { (line) } }
                    }
                }
            }
            @for (k, s) in series.iter().enumerate() {
                @let colour = COLOURS[k % COLOURS.len()];
                @let path = s.points.iter().map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v))).collect::<Vec<_>>().join(" ");
                polyline points=(path) fill="none" stroke=(colour) stroke-width="2.5" {}
                @for (i, v) in &s.points {
                    circle cx=(x(*i)) cy=(y(*v)) r="4.5" fill=(colour) { title { (s.label) ", " (x_labels.get(*i).map(|x| x.replace('\n', " ")).unwrap_or_default()) ": " (v) } }
                    text x=(x(*i)) y=(y(*v) - 9.0) font-size="12" text-anchor="middle" { (v) }
                }
                rect x=(left + k as f64 * 220.0) y="6" width="14" height="14" fill=(colour) {}
                text x=(left + 20.0 + k as f64 * 220.0) y="18" font-size="13" { (s.label) }
            }
        }
    }
}

/// Events of one registry step (its queries, answers, faults and verdict, in a run or an
/// appeal's re-check), or one event on its own.
pub struct Group<'e> {
    /// The step, where the events are a step's, and the registry it asked.
    pub step: Option<String>,
    pub registry: Option<String>,
    pub events: Vec<&'e Event>,
}

/// What the timeline reads of a registry step's event (a query, an answer, a failure, a
/// verdict), whether a run's or an appeal's re-check.
#[derive(Default, serde::Deserialize)]
pub(crate) struct StepOf<'a> {
    #[serde(borrow, default)]
    appeal: Lenient<'a>,
    #[serde(borrow, default)]
    run: Lenient<'a>,
    #[serde(borrow, default)]
    step: Lenient<'a>,
    #[serde(borrow, default)]
    registry: Lenient<'a>,
    #[serde(borrow, default)]
    pub(crate) verdict: Lenient<'a>,
}

impl<'a> StepOf<'a> {
    /// `e` read as a registry step's event; `None` for any other.
    pub(crate) fn of(e: &'a Event) -> Option<Self> {
        matches!(e.kind.as_str(), REGISTRY_QUERIED | REGISTRY_RESPONDED | REGISTRY_FAILED | CHECK_EVALUATED)
            .then(|| events::catalogue::members(&e.data).unwrap_or_default())
    }
}

/// What ties an event to a registry step: its run or appeal, and its step.
fn step_key(e: &Event) -> Option<(String, String)> {
    let s = StepOf::of(e)?;
    let of = s.appeal.0.or(s.run.0).unwrap_or_default();
    Some((of.to_string(), s.step.0?.to_string()))
}

/// The events in groups: those of one registry step together, in order.
pub fn groups(events: &[Event]) -> Vec<Group<'_>> {
    let mut out: Vec<(Option<(String, String)>, Group)> = Vec::new();
    for e in events {
        let key = step_key(e);
        match (&key, out.last_mut()) {
            (Some(k), Some((Some(last), g))) if k == last => g.events.push(e),
            _ => out.push((key.clone(), Group { step: key.map(|k| k.1), registry: None, events: vec![e] })),
        }
        let (_, g) = out.last_mut().expect("a group was just filled");
        if g.step.is_some() && g.registry.is_none() {
            g.registry = StepOf::of(e).and_then(|s| s.registry.0).map(String::from);
        }
    }
    out.into_iter().map(|(_, g)| g).collect()
}

/// Links to the page before and after `page` of `pages`; `href` gives a page's address. The
/// links' ids are `{prefix}prev` and `{prefix}next`, the navigation's `{prefix}pages`.
pub fn pager(lang: Lang, prefix: &str, page: usize, pages: usize, href: impl Fn(usize) -> String) -> Markup {
    html! {
        nav.pager id=(format!("{prefix}pages")) aria-label=(t(lang, "pages")) {
            @if page > 1 { a id=(format!("{prefix}prev")) rel="prev" href=(href(page - 1)) { "← " (t(lang, "previous")) } " " }
            span { (page) " / " (pages) }
            @if page < pages { " " a id=(format!("{prefix}next")) rel="next" href=(href(page + 1)) { (t(lang, "next")) " →" } }
        }
    }
}

/// Groups in pages of about `per` events, a group never split: page `n` (from 1) and how
/// many pages there are.
pub fn page_of<'g, 'e>(groups: &'g [Group<'e>], per: usize, n: usize) -> (&'g [Group<'e>], usize) {
    let mut bounds = vec![0];
    let mut count = 0;
    for (i, g) in groups.iter().enumerate() {
        if count > 0 && count + g.events.len() > per {
            bounds.push(i);
            count = 0;
        }
        count += g.events.len();
    }
    bounds.push(groups.len());
    let pages = bounds.len() - 1;
    let n = n.clamp(1, pages.max(1));
    (&groups[bounds[n - 1]..bounds[n]], pages)
}

/// Decision 22: what the decision rests on and how to contest it, the first thing on a case and
/// in the printed case file: the notice's findings, one line each, then to whom and by when.
pub fn explanation(lang: Lang, id: &str, e: &crate::appeal::Explanation) -> Markup {
    let found = crate::rules::explain::found(&e.findings, lang.code());
    let c = &e.contest;
    html! {
        section.explanation #(id) {
            @for (i, line) in found.lines().enumerate() {
                @if i == 0 { h3 { (line) } } @else { p.finding { (line) } }
            }
            p { (crate::rules::explain::contest(&c.to, lang.code())) }
            @if let Some(last) = &c.last_day {
                p.last-day {
                    strong { (t(lang, "deadline")) ": " (day(lang, last)) }
                    @if let Some(from) = &c.delivered_on { " (" (t(lang, "delivered_on")) ": " (day(lang, from)) ")" }
                    @if c.provisional.is_some() { " " span.provisional { (t(lang, "deadline_provisional")) } }
                }
            }
        }
    }
}

/// Issue 30, item 1: how an appeal left the decision: overturned by which appeal and when, or
/// upheld; nothing while it is open. Said next to the status wherever a case is shown.
pub fn appeal_outcome(lang: Lang, c: &projections::person::ProcedureCase) -> Option<Markup> {
    let a = c.appeal.as_ref()?;
    let outcome = a.outcome?;
    let on = a.resolved_at.as_deref().and_then(crate::rules::calendar::local_date_of).map(|d| d.to_string());
    Some(html! {
        span class=(if outcome == events::catalogue::AppealOutcome::Overturned { "appeal-outcome overturned" } else { "appeal-outcome upheld" }) {
            (t(lang, outcome.as_str())) ": " (t(lang, "appeal")) " " (a.appeal)
            @if let Some(d) = &on { ", " (day(lang, d)) }
        }
    })
}
