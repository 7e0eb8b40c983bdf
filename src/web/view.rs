//! How the pages look: the layout, events and registry answers shown readably in the chosen
//! language, and charts as inline SVG (no script is needed anywhere).

use super::i18n::{t, Lang};
use crate::proof::EventCheck;
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
label{display:block;margin:.3em 0} input[type=text],input[type=date],textarea,select{width:100%;max-width:36em;padding:.3em}
button{padding:.35em .9em;margin:.3em .3em 0 0} .status{font-weight:bold}
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
                    strong { (t(lang, "title")) }
                    @if csrf.is_some() {
                        a href="/ui" { (t(lang, "search_iin")) }
                        a #nav-dashboard href="/ui/dashboard" { (t(lang, "dashboard")) }
                    }
                    span {
                        a #lang-kk href=(format!("/ui/lang/kk?back={back}")) { "Қазақша" } " · "
                        a #lang-ru href=(format!("/ui/lang/ru?back={back}")) { "Русский" }
                    }
                    @if let Some(token) = csrf {
                        form method="post" action="/ui/logout" { (csrf_field(token)) button type="submit" { (t(lang, "logout")) } }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// The hidden field every form posts its CSRF token in.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q.trim_start_matches('=').to_string()).unwrap_or_default()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
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
            Value::String(x) => (t(lang, x)),
            other => (other.to_string()),
        }
    }
}

/// Grounds as a list: reason, clause, on whom, from which registry.
pub fn grounds(lang: Lang, g: &Value) -> Markup {
    html! {
        @if let Some(list) = g.as_array().filter(|a| !a.is_empty()) {
            ul.grounds {
                @for g in list {
                    li { (t(lang, s(g, "code"))) " (" (s(g, "clause")) "), " (t(lang, s(g, "subject"))) " " (s(g, "subject_iin")) ", " (t(lang, s(g, "registry"))) }
                }
            }
        } @else { span.muted { "—" } }
    }
}

fn who(v: &Value) -> String {
    v.get("holder").and_then(Value::as_str).filter(|h| !h.is_empty()).map(String::from).unwrap_or_else(|| s(v, "token").to_string())
}

/// One event shown readably.
pub fn event(lang: Lang, e: &Event) -> Markup {
    let d = &e.data;
    html! {
        @match e.kind.as_str() {
            LIST_ENTRY_RECEIVED => (value(lang, &d["entry"])),
            REGISTRY_QUERIED => { (t(lang, s(d, "registry"))) ", " (t(lang, "step")) " " (s(d, "step")) ": " (d["subjects"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) },
            REGISTRY_RESPONDED => {
                strong { (t(lang, s(d, "registry"))) }
                @if d["correction"] == true { " — " em { (t(lang, "correction")) } }
                br;
                (value(lang, &d["answer"]["records"]))
            },
            REGISTRY_FAILED => { (t(lang, s(d, "registry"))) ": " span.bad { (s(d, "kind")) } " — " (s(d, "detail")) },
            CHECK_EVALUATED => { (t(lang, "step")) " " (s(d, "step")) " (" (s(d, "clause")) "): " strong { (t(lang, s(d, "verdict"))) } (grounds(lang, &d["grounds"])) },
            DECISION_PROPOSED => { (t(lang, s(d, "outcome"))) (grounds(lang, &d["grounds"])) },
            DECISION_TAKEN => { strong { (t(lang, s(d, "outcome"))) } " — " (t(lang, "decided_by")) ": " (s(d, "decided_by")) " " (d["reference"].as_str().unwrap_or_default()) },
            NOTICE_ISSUED => {
                p { (s(&d["text"], lang.code())) }
                details { summary { (if lang == Lang::Kk { "Орысша" } else { "Қазақша" }) } p { (s(&d["text"], if lang == Lang::Kk { "ru" } else { "kk" })) } }
            },
            NOTICE_DELIVERED | NOTICE_DELIVERY_FAILED => { "#" (d["attempt"]) ": " (s(d, "detail")) },
            APPEAL_FILED => dl {
                dt { (t(lang, "appeal")) } dd { (s(d, "appeal")) " — " (who(&d["filed_by"])) }
                dt { (t(lang, "appellant_grounds")) } dd { (s(d, "grounds")) }
                dt { (t(lang, "received_on")) } dd { (s(d, "received_on")) }
                dt { (t(lang, "deadline")) } dd { (d["deadline"].as_str().unwrap_or("—")) @if d["late"] == true { " " span.bad { (t(lang, "late")) } ": " (d["late_reason"].as_str().unwrap_or("—")) } }
                dt { (t(lang, "contested_step")) } dd { (s(d, "contested_step")) }
            },
            REMOVAL_SUSPENDED => { (t(lang, "suspended")) " — " (who(&d["by"])) },
            APPEAL_RECHECKED => { (t(lang, "step")) " " (s(d, "from_step")) "…: " strong { (t(lang, s(d, "verdict"))) } (grounds(lang, &d["grounds"])) },
            APPEAL_RESOLVED => {
                strong { (t(lang, s(d, "outcome"))) } " — " (who(&d["resolved_by"])) ": " (s(d, "reason"))
                @if d["reinstated"].is_object() { (value(lang, &d["reinstated"])) }
            },
            _ => pre { (serde_json::to_string_pretty(d).unwrap_or_default()) },
        }
    }
}

/// The verification marks of one event.
pub fn checked(lang: Lang, c: Option<&EventCheck>) -> Markup {
    let mark = |r: &Result<(), String>, ok: &str, bad: &str| {
        html! { @match r { Ok(()) => span.ok { "✓ " (t(lang, ok)) }, Err(e) => span.bad title=(e) { "✗ " (t(lang, bad)) } } }
    };
    html! {
        @if let Some(c) = c {
            span.check data-seq=(c.seq) {
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
