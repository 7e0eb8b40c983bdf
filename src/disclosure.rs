//! One mechanism for every answer that shows personal data (issue 35, F6 and F7): a layer over
//! the whole router, API and pages alike, that records a read of every person an answer shows
//! before the answer is sent. No handler records reads itself, so a new route cannot forget.
//!
//! Who is shown is found, not declared:
//! - the answer's body, read through: JSON by walking it (every value under a key `iin`, and
//!   every run of 12 digits inside a string that is a valid IIN: family members, subjects of
//!   answers, request ids), HTML and text by the same scan of the text. Reads themselves are
//!   left out: a page of the reads log recorded as a read would grow the log while an auditor
//!   pages to its end;
//! - the route's own subject: the IIN in its path (`{iin}`), or an appeal's appellant and every
//!   person his case names (`{id}` under `/appeals/`). These count whatever the status, a 404
//!   or a 409 included (they tell something about the person), but not a refusal of the
//!   request itself (400, 401, 403, ...).
//!
//! Who reads is the caller the request's extractor authenticated (a token or a page session),
//! left in the request's [`Viewer`] slot. An answer with no caller that names a person is
//! withheld (500): personal data never leaves unaccounted for.

use crate::auth::Caller;
use crate::rules::iin::Iin;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, request::Parts, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use events::types::{PERSONAL_DATA_READ, PERSONAL_DATA_READS};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

/// The caller a request was answered for, set by the extractor that authenticated him.
#[derive(Clone, Default)]
pub struct Viewer(Arc<OnceLock<Caller>>);

impl Viewer {
    /// The caller, once an extractor authenticated him.
    pub fn caller(&self) -> Option<&Caller> {
        self.0.get()
    }

    /// Notes that `caller` is who the request at `parts` is answered for.
    pub fn note(parts: &Parts, caller: &Caller) {
        if let Some(v) = parts.extensions.get::<Viewer>() {
            let _ = v.0.set(caller.clone());
        }
    }
}

/// The labels of an appeal's filing: its answer's read is recorded right after the filing
/// (what the filing showed), and the audit accepts it as the officer's read.
pub const FILING_READS: [&str; 2] = ["appeal-filing", "web:appeal-filing"];

/// Marks an answer to no one that repeats the request's own words and nothing from the ledger
/// (the login page keeps the page asked for, which may hold an IIN): not withheld.
#[derive(Clone, Copy, Debug)]
pub struct OnlyEchoes;

/// What a read is recorded as, when the handler knows better than the route (a response
/// extension): the range of the log a page showed.
#[derive(Clone, Debug)]
pub struct ReadAs(pub String);

/// What a read is recorded as, per route: `{name}` is the path's or the query's parameter of
/// that name. A route not listed is recorded as its method and pattern.
const LABELS: &[(&str, &str, &str)] = &[
    ("GET", "/v1/persons/{iin}", "person"),
    ("GET", "/v1/persons/{iin}/proof", "proof:{procedure}"),
    ("GET", "/v1/persons/{iin}/events", "events"),
    ("GET", "/v1/persons/{iin}/reads", "reads"),
    ("GET", "/v1/persons/{iin}/appeals", "appeals"),
    ("POST", "/v1/persons/{iin}/appeals", "appeal-filing"),
    ("GET", "/v1/runs/{id}", "run:{id}:rejected"),
    ("GET", "/v1/appeals/{id}", "appeal:{id}"),
    ("POST", "/v1/appeals/{id}/suspension", "appeal:{id}:suspension"),
    ("POST", "/v1/appeals/{id}/corrections", "appeal:{id}:correction"),
    ("GET", "/v1/appeals/{id}/corrections/issued", "corrections-issued:{id}"),
    ("POST", "/v1/appeals/{id}/recheck", "appeal:{id}:recheck"),
    ("POST", "/v1/appeals/{id}/resolution", "appeal:{id}:resolution"),
    ("POST", "/v1/appeals/{id}/reinstatement", "appeal:{id}:reinstatement"),
    ("GET", "/v1/appeals/{id}/case-file", "case-file:{id}"),
    ("GET", "/ui", "web:worklist"),
    ("GET", "/ui/search", "web:search-by-name"),
    ("GET", "/ui/persons/{iin}", "web:case"),
    ("POST", "/ui/persons/{iin}/appeals", "web:appeal-filing"),
    ("GET", "/ui/appeals/{id}/case-file", "case-file:{id}"),
    ("GET", "/ui/appeals/{id}/print", "web:print:{id}"),
    ("POST", "/ui/appeals/{id}/{action}", "web:appeal:{id}:{action}"),
    ("GET", "/ui/dashboard/cases", "web:dashboard-cases"),
    ("POST", "/ui/what-if", "web:what-if"),
];

/// Longest parameter value a label quotes.
const LABEL_VALUE: usize = 64;

/// The route's parameters by name: the path's against its pattern, then the query's.
fn params(pattern: &str, path: &str, query: Option<&str>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = query.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    for (p, v) in pattern.split('/').zip(path.split('/')) {
        if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            out.insert(name.to_string(), v.to_string());
        }
    }
    out
}

/// The label a read through `method pattern` is recorded under.
pub fn label(method: &Method, pattern: &str, params: &BTreeMap<String, String>) -> String {
    let Some((_, _, template)) = LABELS.iter().find(|(m, p, _)| *m == method.as_str() && *p == pattern) else {
        return format!("{method} {pattern}");
    };
    let mut out = template.to_string();
    for (name, value) in params {
        let value: String = value.chars().take(LABEL_VALUE).collect();
        out = out.replace(&format!("{{{name}}}"), &value);
    }
    out
}

/// Adds to `out` every valid IIN written in `text` as a run of exactly 12 digits (bounded by
/// no letter or digit).
fn iins_in_text(text: &str, out: &mut BTreeSet<String>) {
    let b = text.as_bytes();
    for r in twelve_digit_runs(text) {
        let bounded = (r.start == 0 || !b[r.start - 1].is_ascii_alphabetic()) && (r.end == b.len() || !b[r.end].is_ascii_alphabetic());
        if bounded && Iin::parse(&text[r.clone()]).is_ok() {
            out.insert(text[r].to_string());
        }
    }
}

pub use events::personal::twelve_digit_runs;

/// Adds to `out` the persons a JSON value shows: every value under a key `iin` (an entry's,
/// even one failing its check digit), and every IIN in a string. Events of reads are left out.
fn iins_in_json(v: &Value, key: Option<&str>, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if key == Some("iin") => {
            out.insert(s.clone());
        }
        Value::String(s) => iins_in_text(s, out),
        Value::Array(a) => a.iter().for_each(|x| iins_in_json(x, key, out)),
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str);
            if kind == Some(PERSONAL_DATA_READS) || kind == Some(PERSONAL_DATA_READ) {
                return;
            }
            o.iter().for_each(|(k, x)| iins_in_json(x, Some(k), out))
        }
        _ => {}
    }
}

/// The persons a body shows, by its content type (a binary body shows none).
fn iins_in_body(content_type: &str, body: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => iins_in_json(&v, None, &mut out),
            Err(_) => iins_in_text(&String::from_utf8_lossy(body), &mut out),
        }
    } else if content_type.starts_with("text/") {
        iins_in_text(&String::from_utf8_lossy(body), &mut out);
    }
    out
}

/// Whether a status answers the request (and so may tell something about its subject), rather
/// than refusing it.
fn answered(status: StatusCode) -> bool {
    status.is_success() || status.is_redirection() || matches!(status.as_u16(), 404 | 409 | 410)
}

/// The persons the route's own subject stands for: the path's IIN, or an appeal's appellant;
/// on the appeal routes, with every person his appeal and his case name (his family).
async fn route_subjects(s: &AppState, params: &BTreeMap<String, String>, pattern: &str) -> Result<BTreeSet<String>, crate::ledger::LedgerError> {
    let mut out = BTreeSet::new();
    let mut appeal = Vec::new();
    let mut appellant = None;
    if let Some(iin) = params.get("iin").filter(|_| pattern.contains("{iin}")) {
        if iin.len() == 12 && iin.bytes().all(|b| b.is_ascii_digit()) {
            out.insert(iin.clone());
            appellant = Some(iin.clone()).filter(|_| pattern.contains("/appeals"));
        }
    }
    if let Some(id) = params.get("id").filter(|_| pattern.contains("/appeals/{id}")) {
        if let Ok(a) = s.appeals().load(id).await {
            out.insert(a.iin.clone());
            appellant = Some(a.iin);
            appeal = a.events;
        }
    }
    if let Some(iin) = appellant {
        let case = s.ledger.log().read_stream(&events::types::person_stream(&iin), None).await?;
        for e in appeal.iter().chain(&case) {
            iins_in_text(&e.stream, &mut out);
            iins_in_json(&e.data, None, &mut out);
        }
    }
    Ok(out)
}

fn withheld(why: String) -> Response {
    tracing::error!(%why, "an answer was withheld");
    crate::api::AppError::Internal(why).into_response()
}

/// The layer: answers the request, finds whom the answer shows, records the read, and only
/// then lets the answer go.
pub async fn record_shown(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let pattern = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
    let params = params(&pattern, req.uri().path(), req.uri().query());
    let label = label(&method, &pattern, &params);
    // The security feed's layer, outside this one, may have made the slot already.
    let viewer = req.extensions().get::<Viewer>().cloned().unwrap_or_default();
    req.extensions_mut().insert(viewer.clone());
    let resp = next.run(req).await;
    // An erased person's routes answer 410 naming the erasure, once the caller may ask at all
    // (a refusal of the request itself stays what it was, and tells nothing of an erasure).
    if let Some(iin) = params.get("iin").filter(|_| !matches!(resp.status().as_u16(), 400 | 401 | 403 | 413)) {
        match crate::erasure::erased(&s.ledger, iin).await {
            Ok(Some(seq)) => {
                return crate::api::AppError::Gone(format!("this person's data was erased (SubjectErased at seq {seq}): it can no longer be read by anyone"))
                    .into_response()
            }
            Ok(None) => {}
            Err(e) => return withheld(format!("finding whether the person was erased: {e}")),
        }
    }
    let content_type = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let caller = viewer.0.get();
    if caller.is_none() && !(content_type.starts_with("application/json") || content_type.starts_with("text/")) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // Our own answer, already made: read through, whatever its size.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return withheld(format!("reading the answer: {e}")),
    };
    let mut shown = iins_in_body(&content_type, &bytes);
    match caller {
        None if !shown.is_empty() && parts.extensions.get::<OnlyEchoes>().is_none() => {
            return withheld(format!("{method} {pattern}: an answer without a caller named {} person(s)", shown.len()))
        }
        None => {}
        Some(caller) => {
            if answered(parts.status) {
                match route_subjects(&s, &params, &pattern).await {
                    Ok(subjects) => shown.extend(subjects),
                    Err(e) => return withheld(format!("finding whom the answer concerns: {e}")),
                }
            }
            if !shown.is_empty() {
                let label = parts.extensions.get::<ReadAs>().map(|r| r.0.clone()).unwrap_or(label);
                if let Err(e) = s.reads.record(caller, shown.into_iter().collect(), label).await {
                    return withheld(format!("recording the read: {e}"));
                }
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}
