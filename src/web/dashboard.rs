//! The dashboard (`/ui/dashboard`): removals and terminations per run over time, by procedure
//! and by ground, appeals by state with the share overturned by ground, filtered by procedure
//! and locality. Every figure links to the cases behind it (`/ui/dashboard/cases`), a paged
//! list whose every page is a recorded read of the persons it names. Figures come from the
//! persons projection alone.

use super::i18n::{t, Lang};
use super::{internal, view, Session, WebError};
use crate::auth::Role;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use maud::{html, Markup};
use projections::dashboard::{appeal_state, Filter, Removals, APPEAL_STATES};
use projections::person::ProcedureCase;
use std::collections::{BTreeMap, BTreeSet};

/// Cases per page of a figure's list, unless `per` asks for another number (up to
/// [`MOST_PER_PAGE`]).
const CASES_PAGE: usize = 50;
const MOST_PER_PAGE: usize = 500;

/// The procedures, in the order the pages show them.
const PROCEDURES: [&str; 2] = ["registry_removal", "lease_termination"];

/// The filter a query names; a procedure or an appeal state the service does not know is
/// refused, naming it.
fn filter_of(session: &Session, q: &BTreeMap<String, String>) -> Result<Filter, WebError> {
    let given = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let f = Filter {
        procedure: given("procedure"),
        locality: given("locality"),
        run: given("run"),
        ground: given("ground"),
        appeal: given("appeal"),
        reversed: given("reversed").is_some(),
        from: None,
        to: None,
    };
    // A period: days typed as people write them (DD.MM.YYYY) or as links carry them.
    let day = |k: &str| -> Result<Option<String>, WebError> {
        let Some(v) = given(k) else { return Ok(None) };
        crate::rules::calendar::parse_day(&v)
            .map(|d| Some(d.to_string()))
            .ok_or_else(|| session.fail(StatusCode::BAD_REQUEST, super::i18n::tf(session.lang, "err_not_a_date", std::slice::from_ref(&v))))
    };
    let f = Filter { from: day("from")?, to: day("to")?, ..f };
    if let Some(p) = f.procedure.as_deref().filter(|p| !PROCEDURES.contains(p)) {
        return Err(session.fail(StatusCode::BAD_REQUEST, format!("procedure: no procedure {p:?}")));
    }
    if let Some(a) = f.appeal.as_deref().filter(|a| *a != "any" && !APPEAL_STATES.contains(a)) {
        return Err(session.fail(StatusCode::BAD_REQUEST, format!("appeal: no appeal state {a:?}")));
    }
    Ok(f)
}

/// Every person's cases, from the stored projection.
pub(super) async fn all_cases(s: &AppState, l: Lang) -> Result<Vec<(String, BTreeMap<String, ProcedureCase>)>, WebError> {
    crate::read_models::catch_up(&s.ledger).await.map_err(internal(l))?;
    let rows = crate::read_models::all_persons(&s.ledger).await.map_err(internal(l))?;
    let mut all: Vec<(String, BTreeMap<String, ProcedureCase>)> =
        rows.into_iter().filter_map(|(iin, doc)| Some((iin, serde_json::from_str(&doc).ok()?))).collect();
    // Erased persons' cases still count, by what their erasure kept (under a blind id).
    all.extend(crate::erasure::erased_figures(&s.ledger).await.map_err(internal(l))?);
    Ok(all)
}

/// The link to the cases a figure counts.
fn cases_href(f: &Filter) -> String {
    format!("/ui/dashboard/cases?{}", query(f))
}

/// A filter as a query string.
fn query(f: &Filter) -> String {
    f.parts().into_iter().map(|(k, v)| format!("{k}={}", view::urlencode(&v))).collect::<Vec<_>>().join("&")
}

/// A figure, linked to its cases where the viewer may read them.
fn figure(n: u64, f: &Filter, linked: bool) -> Markup {
    html! { @if linked && n > 0 { a href=(cases_href(f)) { (n) } } @else { (n) } }
}

/// A run as the pages name it: its start in local time, and its procedure.
struct RunInfo {
    started: String,
    procedure: String,
}

pub async fn page(State(s): State<AppState>, session: Session, Query(q): Query<BTreeMap<String, String>>) -> Result<Html<String>, WebError> {
    let caller = session.require(&[Role::Auditor, Role::AppealsOfficer, Role::Operator])?;
    let linked = matches!(caller.role, Role::Auditor | Role::AppealsOfficer);
    let l = session.lang;
    // The page filters by procedure and locality only; a figure narrows it further.
    let f = filter_of(&session, &q)?;
    let f = Filter { procedure: f.procedure, locality: f.locality, from: f.from, to: f.to, ..Default::default() };
    let cases = all_cases(&s, l).await?;
    let started = s.ledger.log().read_all_by_type(events::types::RUN_STARTED).await.map_err(|e| internal(l)(e.into()))?;
    let runs: BTreeMap<String, RunInfo> = started
        .iter()
        .filter_map(|e| Some((e.as_type::<events::catalogue::RunStarted>()?, e.time.clone())))
        .map(|(r, time)| (r.run, RunInfo { started: time, procedure: r.procedure }))
        .collect();
    let mut localities = BTreeSet::new();
    let mut removals = Removals::default();
    for (_, by_procedure) in &cases {
        for (procedure, c) in by_procedure {
            localities.extend(c.locality.clone());
            if f.matches(procedure, c) {
                removals.add(procedure, c);
            }
        }
    }
    let run_name = |k: &str| runs.get(k).map(|r| format!("{} · {}", view::local_date_of(l, &r.started), t(l, &r.procedure))).unwrap_or_else(|| k.to_string());
    // Per run over time: one series per procedure, the runs in the order they started.
    let mut order: Vec<(&str, &RunInfo)> = runs.iter().map(|(k, r)| (k.as_str(), r)).collect();
    order.sort_by(|a, b| a.1.started.cmp(&b.1.started).then(a.0.cmp(b.0)));
    let counts: BTreeMap<&str, (u64, u64)> = removals.by_run.0.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let shown: Vec<(&str, &RunInfo)> =
        order.into_iter().filter(|(k, r)| (counts.contains_key(k) || f.procedure.as_deref().is_none_or(|p| p == r.procedure)) && f.in_period(k)).collect();
    let series: Vec<view::Series> = PROCEDURES
        .iter()
        .filter(|p| f.procedure.as_deref().is_none_or(|x| x == **p))
        .map(|p| view::Series {
            label: t(l, if *p == "registry_removal" { "removals_series" } else { "terminations_series" }),
            points: shown.iter().enumerate().filter(|(_, (_, r))| r.procedure == *p).map(|(i, (k, _))| (i, counts.get(k).map_or(0, |c| c.0))).collect(),
        })
        .collect();
    // Each run by its date; where two runs share a date, its time under it.
    let dates: Vec<String> = shown.iter().map(|(_, r)| view::local_date_of(l, &r.started)).collect();
    let x_labels: Vec<String> = shown
        .iter()
        .zip(&dates)
        .map(|((_, r), d)| match super::i18n::local_time(l, &r.started).filter(|_| dates.iter().filter(|x| *x == d).count() > 1) {
            Some(time) => format!("{d}\n{}", time.rsplit(", ").next().unwrap_or_default()),
            None => d.clone(),
        })
        .collect();
    let share = removals.share_reversed();
    let here = format!("/ui/dashboard{}", if q.is_empty() { String::new() } else { format!("?{}", query(&f)) });
    Ok(session.page(
        &t(l, "dashboard"),
        &here,
        html! {
            (filters_form(l, &f, &localities))
            div.card #totals {
                // Removals and lease terminations are different decisions: each its own figure.
                @for p in PROCEDURES.iter().filter(|p| f.procedure.as_deref().is_none_or(|x| x == **p)) {
                    (t(l, p)) ": " strong #(format!("total-{p}")) { (figure(removals.by_procedure.0.get(*p).map_or(0, |c| c.0), &f.and("procedure", p), linked)) } " · "
                }
                (t(l, "decisions_total")) ": " strong #total-removals { (figure(removals.total, &f, linked)) } " · "
                (t(l, "share_reversed")) ": " strong #share-reversed { (percent(share)) } " ("
                span #total-reversed { (figure(removals.reversed, &f.and("reversed", "1"), linked)) } ")"
            }
            div.card #per-run {
                h2 { (t(l, "per_run_over_time")) }
                (view::lines(l, "chart-runs", &series, &x_labels))
                table.figures {
                    thead { tr { th scope="col" { (t(l, "run")) } th scope="col" { (t(l, "removals")) } th scope="col" { (t(l, "reversed")) } } }
                    tbody {
                        @for (k, _) in shown.iter().rev() {
                            @let (n, r) = counts.get(k).copied().unwrap_or_default();
                            tr { th scope="row" { (run_name(k)) } td { (figure(n, &f.and("run", k), linked)) } td { (figure(r, &f.and("run", k).and("reversed", "1"), linked)) } }
                        }
                    }
                }
            }
            div.card #per-procedure {
                h2 { (t(l, "by_procedure")) }
                (view::bars(l, "chart-procedure", &removals.by_procedure.rows(|k| t(l, k))))
                (tally_table(l, &removals.by_procedure, &f, "procedure", linked))
            }
            div.card #per-ground {
                h2 { (t(l, "by_ground")) }
                (view::bars(l, "chart-ground", &removals.by_ground.rows(|k| t(l, k))))
                (tally_table(l, &removals.by_ground, &f, "ground", linked))
            }
            (appeals_card(l, &removals, &f, linked))
        },
    ))
}

/// A tally's rows as its chart draws them: the largest first, ties by label in `l`.
fn sorted(l: Lang, tally: &projections::dashboard::Tally) -> Vec<(&String, &(u64, u64))> {
    let mut rows: Vec<_> = tally.0.iter().collect();
    rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(t(l, a.0).cmp(&t(l, b.0))));
    rows
}

/// A day as the period's fields show it: DD.MM.YYYY.
fn ddmmyyyy(ymd: &str) -> String {
    chrono::NaiveDate::parse_from_str(ymd, "%Y-%m-%d").map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_else(|_| ymd.to_string())
}

/// A share as both languages write it: a decimal comma and a space before the sign (0,2 %).
pub fn percent(x: f64) -> String {
    format!("{x:.1}\u{a0}%").replace('.', ",")
}

/// A tally's rows as a table of linked figures: total and reversed.
fn tally_table(l: Lang, tally: &projections::dashboard::Tally, f: &Filter, part: &str, linked: bool) -> Markup {
    html! {
        table.figures {
            thead { tr { th scope="col" { (t(l, part)) } th scope="col" { (t(l, "removals")) } th scope="col" { (t(l, "reversed")) } } }
            tbody {
                // In the chart's order: the largest first, ties by their label.
                @for (k, (n, r)) in sorted(l, tally) {
                    tr { th scope="row" { (t(l, k)) } td { (figure(*n, &f.and(part, k), linked)) } td { (figure(*r, &f.and(part, k).and("reversed", "1"), linked)) } }
                }
            }
        }
    }
}

/// `/ui/dashboard/cases`: the cases a figure counts, a page at a time; the persons listed are
/// a recorded read.
pub async fn cases(State(s): State<AppState>, session: Session, Query(q): Query<BTreeMap<String, String>>) -> Result<Html<String>, WebError> {
    session.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let l = session.lang;
    let f = filter_of(&session, &q)?;
    let number = |k: &str, default: usize, most: usize| match q.get(k).map(|p| p.parse::<usize>()) {
        None => Ok(default),
        Some(Ok(n)) if (1..=most).contains(&n) => Ok(n),
        Some(_) => Err(session.fail(StatusCode::BAD_REQUEST, format!("{k}: a whole number from 1 to {most}"))),
    };
    let (page, per) = (number("page", 1, usize::MAX)?, number("per", CASES_PAGE, MOST_PER_PAGE)?);
    let all = all_cases(&s, l).await?;
    let mut matching: Vec<(&str, &str, &ProcedureCase)> =
        all.iter().flat_map(|(iin, by)| by.iter().filter(|(p, c)| f.matches(p, c)).map(move |(p, c)| (iin.as_str(), p.as_str(), c))).collect();
    // By IIN, then procedure: a page is the same page each time it is asked for.
    matching.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let total = matching.len();
    let from = (page - 1).saturating_mul(per);
    let shown = &matching[from.min(total)..from.saturating_add(per).min(total)];
    let href = |p: usize| format!("{}&page={p}{}", cases_href(&f), if per == CASES_PAGE { String::new() } else { format!("&per={per}") });
    let pages = total.div_ceil(per).max(1);
    Ok(session.page(
        &t(l, "cases_behind"),
        "/ui/dashboard/cases",
        html! {
            div.card #filter {
                dl {
                    @for (k, v) in f.parts() {
                        dt { (t(l, k)) } dd { @if k == "reversed" { (t(l, "yes")) } @else { (t(l, &v)) } }
                    }
                }
                p { a href="/ui/dashboard" { "← " (t(l, "dashboard")) } }
            }
            p #count { (t(l, "cases_count")) ": " strong { (total) } " · " (from.min(total) + (total > 0) as usize) "–" (from.min(total) + shown.len()) }
            table #cases {
                thead { tr {
                    th scope="col" { (t(l, "iin")) } th scope="col" { (t(l, "procedure")) } th scope="col" { (t(l, "status")) }
                    th scope="col" { (t(l, "grounds")) } th scope="col" { (t(l, "appeal")) } th scope="col" { (t(l, "locality")) }
                } }
                tbody {
                    @for (iin, p, c) in shown {
                        tr.case {
                            td { a href=(format!("/ui/persons/{iin}")) { (iin) } }
                            td { (t(l, p)) }
                            td { (t(l, c.status.as_str())) }
                            td { @for g in &c.grounds { (t(l, &g.code)) " " } }
                            td { (appeal_state(c).map(|a| t(l, a)).unwrap_or_default()) }
                            td { (c.locality.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
            (view::pager(l, "", page, pages, href))
        },
    ))
}

/// The page's own filter: procedure, locality and period (a figure's link narrows it further).
fn filters_form(l: Lang, f: &Filter, localities: &BTreeSet<String>) -> Markup {
    html! {
        form.card.filters #filters method="get" action="/ui/dashboard" {
            div.field.inline-field {
                label for="f-procedure" { (t(l, "procedure")) }
                select #f-procedure name="procedure" {
                    option value="" { (t(l, "all")) }
                    @for p in PROCEDURES { option value=(p) selected[f.procedure.as_deref() == Some(p)] { (t(l, p)) } }
                }
            }
            div.field.inline-field {
                label for="f-locality" { (t(l, "locality")) }
                select #f-locality name="locality" {
                    option value="" { (t(l, "all")) }
                    @for x in localities { option value=(x) selected[f.locality.as_deref() == Some(x.as_str())] { (x) } }
                }
            }
            div.field.inline-field {
                label for="f-from" { (t(l, "period_from")) }
                input #f-from type="text" name="from" inputmode="numeric" placeholder=(t(l, "date_format")) value=(f.from.as_deref().map(ddmmyyyy).unwrap_or_default());
            }
            div.field.inline-field {
                label for="f-to" { (t(l, "period_to")) }
                input #f-to type="text" name="to" inputmode="numeric" placeholder=(t(l, "date_format")) value=(f.to.as_deref().map(ddmmyyyy).unwrap_or_default());
            }
            button #apply-filters type="submit" { (t(l, "apply_filters")) }
    }
    }
}

/// Appeals by state, and per ground how many were overturned, each figure linked to its cases.
fn appeals_card(l: Lang, removals: &Removals, f: &Filter, linked: bool) -> Markup {
    html! {
        div.card #appeals {
            h2 { (t(l, "appeals_by_state")) }
            table.figures #appeal-states {
                thead { tr { @for state in APPEAL_STATES { th scope="col" { (t(l, state)) } } } }
                tbody { tr { @for state in APPEAL_STATES {
                    td data-state=(state) { (figure(removals.appeals.get(state).copied().unwrap_or(0), &f.and("appeal", state), linked)) }
                } } }
            }
            h3 { (t(l, "overturned_by_ground")) }
            table.figures #overturned-by-ground {
                thead { tr { th scope="col" { (t(l, "ground")) } th scope="col" { (t(l, "appeals")) } th scope="col" { (t(l, "overturned")) } th scope="col" { (t(l, "share")) } } }
                tbody {
                    @for (code, (n, over)) in &removals.appeals_by_ground.0 {
                        tr data-ground=(code) {
                            th scope="row" { (t(l, code)) }
                            td { (figure(*n, &f.and("ground", code).and("appeal", "any"), linked)) }
                            td { (figure(*over, &f.and("ground", code).and("appeal", "overturned"), linked)) }
                            td.share { (percent(100.0 * *over as f64 / (*n).max(1) as f64)) }
                        }
                    }
                }
            }
    }
    }
}
