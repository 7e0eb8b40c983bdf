//! A person's case page (`/ui/persons/{iin}`): each procedure's status and its notice, the
//! corrections issued, the appeal block with its filing form and actions, and the timeline of
//! every event with whether its signature and inclusion proof verify; and the case file an
//! appeal's officer downloads.

use super::*;
use verifier::registry::EntryHead;

fn status_line(l: Lang, procedure: &str, c: &ProcedureCase, link: &dyn Fn(u64) -> String, entry: Option<&EntryHead>) -> Markup {
    let field = |f: fn(&EntryHead) -> &Option<String>| entry.and_then(|e| f(e).clone());
    html! {
        @if c.simulation {
            p.simulation #(format!("simulation-{procedure}")) { strong { (t(l, "simulation_banner")) } }
        }
        // A summary card (GOV.UK): who, where, which registration, then the status.
        dl.summary #(format!("summary-{procedure}")) {
            @if let Some(name) = &c.name { dt { (t(l, "full_name")) } dd { (name) } }
            @if let Some(x) = field(|e| &e.locality) { dt { (t(l, "locality")) } dd { (x) } }
            @if let Some(q) = entry.and_then(|e| e.queue_number) { dt { (t(l, "queue_number")) } dd { (q) } }
            @if let Some(x) = field(|e| &e.registered_on) { dt { (t(l, "registered_on")) } dd { (view::day(l, &x)) } }
            @if let Some(x) = field(|e| &e.lease_contract) { dt { (t(l, "lease_contract")) } dd { (x) } }
        }
        dl {
            dt { (t(l, "status")) } dd {
                span.status #(format!("status-{procedure}")) { (t(l, c.status.as_str())) }
                @if let Some(o) = view::appeal_outcome(l, c) { " — " span #(format!("status-appeal-{procedure}")) { (o) } }
            }
            dt { (t(l, "grounds")) } dd { (view::grounds_linked(l, &c.grounds, Some(link))) }
            @if let Some(d) = &c.decision {
                dt { (t(l, "decision")) } dd {
                    (t(l, d.outcome.as_str())) " — " (d.decided_by) " (#" (d.seq) ")"
                    @if let Some(o) = view::appeal_outcome(l, c) { " — " (o) }
                }
                @if let Some(position) = d.official.as_ref().map(|o| o.position.as_str()) {
                    dt { (t(l, "official")) } dd { (d.decided_by) ", " (position) }
                }
            }
            @if let Some(why) = &c.decision_not_taken {
                dt { (t(l, "decision_not_taken")) } dd { (why) }
            }
            @if let Some(n) = &c.notice {
                dt { (t(l, "notice")) } dd { (t(l, &n.state)) ", " (i18n::attempts(l, n.attempts)) }
            }
            @if let Some(r) = &c.reinstated {
                dt { (t(l, "reinstated")) } dd #(format!("reinstated-{procedure}")) { (view::value(l, r)) }
            }
            @if let Some(r) = &c.reinstatement {
                dt { (t(l, "reinstatement")) } dd #(format!("reinstatement-{procedure}")) { (t(l, r)) }
            }
        }
    }
}

/// The corrections the source owners issued about an open appeal: each as readable fields,
/// with its check, and a button that accepts it. Pasting a signed answer stays possible, out
/// of the way (an auditor's exceptional case).
fn corrections_block(
    l: Lang,
    appeal: &str,
    issued: Option<&Result<Vec<IssuedCorrection>, NotListed>>,
    officer: bool,
    csrf: &str,
    was: &dyn Fn(&str) -> Option<serde_json::Value>,
) -> Markup {
    html! {
        div.corrections #(format!("corrections-{appeal}")) {
            h4 { (t(l, "corrections_issued")) }
            @match issued {
                Some(Err(e)) => p.bad { (t(l, "corrections_unavailable")) ": " (e) },
                Some(Ok(list)) if list.is_empty() => p.muted { (t(l, "no_corrections")) },
                Some(Ok(list)) => @for c in list {
                    div.correction data-registry=(c.registry) {
                        strong { (t(l, &c.registry)) } " — " (t(l, "issued_at")) " "
                        (view::issued_at(l, &c.signed.answer))
                        // Issue 30, item 9: what the correction replaces, beside it.
                        div.was-now {
                            div.was { h5 { (t(l, "was")) } @match was(&c.registry) { Some(a) => (view::subjects_records(l, &a)), None => span.muted { "—" } } }
                            div.now { h5 { (t(l, "now")) } (view::subjects_records(l, &c.signed.answer)) }
                        }
                        @if let Some(why) = &c.refused {
                            p.bad { "✗ " (t(l, "correction_refused")) ": " (why) }
                        } @else if let Some(seq) = c.received {
                            p.ok { "✓ " (t(l, "correction_received")) " (#" (seq) ")" }
                        } @else if officer {
                            form method="post" action=(format!("/ui/appeals/{appeal}/accept-correction")) {
                                (view::csrf_field(csrf))
                                input type="hidden" name="registry" value=(c.registry);
                                input type="hidden" name="source_sig" value=(c.signed.source_sig);
                                button.accept-correction #(format!("accept-{}", c.registry)) type="submit" { (t(l, "accept_correction")) }
                            }
                        }
                    }
                },
                None => {},
            }
            p { a.ask-again href=(format!("?ask={appeal}#corrections-{appeal}")) { (t(l, "ask_again")) } }
            @if officer {
                details.raw {
                    summary { (t(l, "raw_correction")) }
                    form method="post" action=(format!("/ui/appeals/{appeal}/correction")) {
                        (view::csrf_field(csrf))
                        (view::field(l, "correction", "correction_json", true, html! { textarea #correction name="signed" rows="4" required {} }))
                        button #submit-correction type="submit" { (t(l, "submit_correction")) }
                    }
                }
            }
        }
    }
}

/// What a case page is drawn with, beyond the person's cases.
struct CaseView<'a> {
    l: Lang,
    iin: &'a str,
    officer: bool,
    csrf: String,
    /// The corrections issued for each open appeal, by appeal.
    issued: BTreeMap<String, Result<Vec<IssuedCorrection>, NotListed>>,
    /// A filing sent back, with what is wrong in it.
    refiled: Option<(&'a FilingForm, &'a FieldError)>,
    /// The person's events, for the notice's delivery and the deadline.
    events: &'a [events::Event],
    today: chrono::NaiveDate,
}

impl CaseView<'_> {
    /// The error of `field` of a filing sent back for `procedure`, in the page's language.
    fn error(&self, procedure: &str, field: &str) -> Option<String> {
        self.refiled.filter(|(f, e)| f.procedure == procedure && e.field == field).map(|(_, e)| i18n::field_error(self.l, e))
    }

    /// What was typed in `field` of a filing sent back for `procedure`.
    fn typed(&self, procedure: &str, field: fn(&FilingForm) -> &str) -> String {
        self.refiled.filter(|(f, _)| f.procedure == procedure).map(|(f, _)| field(f).to_string()).unwrap_or_default()
    }

    /// The deadline to appeal, and the days left, shown before filing (decision 17).
    fn deadline(&self, procedure: &str, c: &ProcedureCase) -> Markup {
        let l = self.l;
        html! {
            @if let Some((delivered, d)) = crate::appeal::deadline_of(c, self.events) {
                @let left = (d.last_day - self.today).num_days();
                dl #(format!("deadline-{procedure}")) {
                    dt { (t(l, "delivered_on")) } dd { (view::day(l, &delivered.to_string())) }
                    dt { (t(l, "deadline")) } dd {
                        (view::day(l, &d.last_day.to_string())) " — "
                        @if left >= 0 { strong.days-left { (left) " " (t(l, "days_left")) } }
                        @else { span.bad { (t(l, "deadline_passed")) " " (-left) } " " (t(l, "late_needs_reason")) }
                        @if d.provisional.is_some() { " " span.provisional { (t(l, "deadline_provisional")) } }
                    }
                }
            }
        }
    }
}

/// The contested step, chosen from the case's steps by name (issue 30, item 8); left as it is,
/// it is the step that found the ground, and the choice says so.
fn contested_step_field(v: &CaseView, procedure: &str, c: &ProcedureCase) -> Markup {
    let error = v.error(procedure, "contested_step");
    let (described, invalid) = view::error_attrs("contested_step", error.as_deref());
    let typed = v.typed(procedure, |f| &f.contested_step);
    let found = c.grounds.first().map(|g| g.clause.rsplit(':').next().unwrap_or_default().split('.').next().unwrap_or_default().to_string());
    let steps: Vec<(&str, &str)> = vec![("5", "zags"), ("6", "gosreestr"), ("7", "kazreestr"), ("8", "ish_as_mr"), ("9", "egkn"), ("10", "gbd_fl")];
    let l = v.l;
    let select = html! {
        select #contested_step name="contested_step" aria-describedby=[described] aria-invalid=[invalid] {
            option value="" selected[typed.is_empty()] {
                (t(l, "contested_default")) @if let Some(f) = &found { " (" (t(l, "step")) " " (f) ")" }
            }
            @for (step, registry) in &steps {
                @if found.as_deref().is_none_or(|f| f.parse::<u32>().unwrap_or(99) >= step.parse::<u32>().unwrap_or(0)) {
                    option value=(step) selected[typed == *step] { (t(l, "step")) " " (step) " — " (t(l, registry)) }
                }
            }
        }
    };
    view::field_with(l, "contested_step", "contested_step", false, error.as_deref(), select)
}

/// A textarea or input of the filing form, with its error beside it.
fn filing_field(v: &CaseView, procedure: &str, name: &'static str, label: &str, required: bool, value: fn(&FilingForm) -> &str, kind: &str) -> Markup {
    let error = v.error(procedure, name);
    let (described, invalid) = view::error_attrs(name, error.as_deref());
    let typed = v.typed(procedure, value);
    let input = match kind {
        "textarea" => html! { textarea id=(name) name=(name) rows="3" required[required] aria-describedby=[described] aria-invalid=[invalid] { (typed) } },
        // A date as people here write it (DD.MM.YYYY) in a text field, checked by the server:
        // the browser's date picker shows its own locale's order (mm/dd/yyyy).
        "date" => html! {
            input id=(name) type="text" name=(name) value=(typed) inputmode="numeric" placeholder=(t(v.l, "date_format"))
                required[required] aria-describedby=[described] aria-invalid=[invalid];
        },
        kind => html! { input id=(name) type=(kind) name=(name) value=(typed) required[required] aria-describedby=[described] aria-invalid=[invalid]; },
    };
    view::field_with(v.l, name, label, required, error.as_deref(), input)
}

fn appeal_block(v: &CaseView, procedure: &str, c: &ProcedureCase) -> Markup {
    let (l, iin, officer, csrf) = (v.l, v.iin, v.officer, v.csrf.as_str());
    html! {
        @if let Some(a) = &c.appeal {
            div.card #(format!("appeal-{procedure}")) {
                h3 { (t(l, "appeal")) " " (a.appeal) ": " span #(format!("appeal-state-{procedure}")) { (t(l, &a.state)) } }
                dl {
                    dt { (t(l, "received_on")) } dd { (view::day(l, &a.received_on)) }
                    dt { (t(l, "deadline")) } dd { (a.deadline.as_deref().map(|x| view::day(l, x)).unwrap_or_else(|| html! { "—" })) @if a.late { " " span.bad { (t(l, "late")) } } }
                    @if a.suspended { dt { "" } dd.bad { (t(l, "suspended")) } }
                    @if let Some(r) = &a.recheck { dt { (t(l, "recheck")) } dd { (t(l, r.verdict.as_str())) (view::grounds(l, &r.grounds)) } }
                    @if let Some(o) = &a.outcome { dt { (t(l, "outcome")) } dd #(format!("appeal-outcome-{procedure}")) { (t(l, o.as_str())) " — " (a.resolved_by.clone().unwrap_or_default()) } }
                }
                p {
                    a #(format!("case-file-{procedure}")) href=(format!("/ui/appeals/{}/case-file", a.appeal)) { (t(l, "case_file")) } " · "
                    a #(format!("print-{procedure}")) href=(format!("/ui/appeals/{}/print", a.appeal)) { (t(l, "print_case")) }
                }
                @if a.state != "resolved" {
                    @let was = |registry: &str| {
                        // The answer of the run the appeal contests, from that registry.
                        v.events.iter().rev().filter(|e| e.kind == "RegistryResponded" && e.run() == Some(c.run.as_str()) && e.appeal().is_none())
                            .filter_map(|e| e.decode::<events::catalogue::RegistryResponded>().ok())
                            .find(|r| r.registry == registry && r.correction != Some(true))
                            .map(|r| r.answer)
                    };
                    (corrections_block(l, &a.appeal, v.issued.get(&a.appeal), officer, csrf, &was))
                }
                @if officer && a.state != "resolved" {
                    @if !a.suspended {
                        form method="post" action=(format!("/ui/appeals/{}/suspend", a.appeal)) { (view::csrf_field(csrf)) button #suspend type="submit" { (t(l, "suspend")) } }
                    }
                    // Issue 30, item 5: the appeal as a task list, each step offered in its
                    // order: a correction (above), the re-check, then the decision, which only a
                    // re-check that cleared may overturn (decision 10) and which is confirmed.
                    @let cleared = a.recheck.as_ref().is_some_and(|r| r.verdict == events::catalogue::CheckVerdict::Clear);
                    ol.tasks #(format!("tasks-{procedure}")) {
                        li.task {
                            h4 { "1. " (t(l, "task_recheck")) }
                            form method="post" action=(format!("/ui/appeals/{}/recheck", a.appeal)) { (view::csrf_field(csrf)) button #recheck type="submit" { (t(l, "recheck")) } }
                        }
                        li.task {
                            h4 { "2. " (t(l, "task_decision")) }
                            @if a.recheck.is_none() { p.muted #(format!("decision-waits-{procedure}")) { (t(l, "decision_waits_recheck")) } }
                            @else {
                                form method="post" action=(format!("/ui/appeals/{}/resolve", a.appeal)) {
                                    (view::csrf_field(csrf))
                                    (view::field(l, "reason", "reason", true, html! { textarea #reason name="reason" rows="2" required {} }))
                                    @if cleared { button #overturn type="submit" name="outcome" value="overturned" { (t(l, "do_overturn")) } }
                                    @else { button #uphold type="submit" name="outcome" value="upheld" { (t(l, "do_uphold")) } }
                                }
                            }
                        }
                    }
                }
            }
        } @else if officer && c.decision.as_ref().is_some_and(|d| d.outcome == "confirmed") {
            form.card #(format!("file-{procedure}")) method="post" action=(format!("/ui/persons/{iin}/appeals")) {
                h3 { (t(l, "file_appeal")) }
                (v.deadline(procedure, c))
                // An error summary whose links lead to the field (GOV.UK's pattern).
                @if let Some((_, e)) = v.refiled.filter(|(f, _)| f.procedure == procedure) {
                    div.error-summary #(format!("error-summary-{procedure}")) role="alert" {
                        p.field-error { (t(l, "form_has_errors")) }
                        ul { li { a href=(format!("#{}", e.field)) { (i18n::field_error(l, e)) } } }
                    }
                }
                (view::csrf_field(csrf))
                input type="hidden" name="procedure" value=(procedure);
                (filing_field(v, procedure, "grounds", "appellant_grounds", true, |f| &f.grounds, "textarea"))
                (filing_field(v, procedure, "received_on", "received_on", false, |f| &f.received_on, "date"))
                (filing_field(v, procedure, "late_reason", "late_reason", false, |f| &f.late_reason, "text"))
                (contested_step_field(v, procedure, c))
                div.field { input #suspend_on_file type="checkbox" name="suspend" value="on"; " " label.inline for="suspend_on_file" { (t(l, "suspend")) } }
                button #file-appeal type="submit" { (t(l, "file_appeal")) }
            }
        }
    }
}

pub(super) async fn case_page(
    State(s): State<AppState>,
    session: Session,
    Path(iin): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Html<String>, WebError> {
    let caller = session.require(&[Role::Auditor, Role::AppealsOfficer])?.clone();
    let iin = Iin::parse(&iin).map_err(|e| session.fail(StatusCode::BAD_REQUEST, i18n::iin_error(session.lang, &e)))?;
    case_view(&s, &session, &caller, &iin, &q, None).await
}

/// The case page: the person's cases, their appeals, and the timeline with its checks. The
/// caller has recorded the read.
async fn case_view(
    s: &AppState,
    session: &Session,
    caller: &Caller,
    iin: &Iin,
    q: &BTreeMap<String, String>,
    refiled: Option<(&FilingForm, &FieldError)>,
) -> Result<Html<String>, WebError> {
    let l = session.lang;
    let cases = crate::read_models::person(&s.ledger, iin.as_str()).await.map_err(internal(l))?;
    // What the last action came to, once; a message in the URL is never shown.
    let flash = match &session.id {
        Some(id) => session::take_flash(s.ledger.access().as_ref(), id).await.map_err(|e| internal(l)(e.into()))?,
        None => None,
    };
    let Some(cases) = cases else {
        return Err(session.fail(StatusCode::NOT_FOUND, format!("{} {iin}", t(l, "no_case"))));
    };
    let events = crate::appeal::timeline(&s.ledger, iin.as_str()).await.map_err(internal(l))?;
    let (note, checks) = crate::proof::check_events(&s.ledger, &s.registry_keys, &events).await.map_err(internal(l))?;
    let history = s.ledger.key_history().await.map_err(internal(l))?;
    let cp = history.all().iter().find_map(|k| events::Checkpoint::verify_note(&note, k).ok());
    let checks: BTreeMap<u64, crate::proof::EventCheck> = checks.into_iter().map(|c| (c.seq, c)).collect();
    let issued = issued_corrections(s, &cases).await;
    let view = CaseView {
        l,
        iin: iin.as_str(),
        officer: caller.role == Role::AppealsOfficer,
        csrf: session.csrf().unwrap_or_default(),
        issued,
        refiled,
        events: &events,
        today: s.appeals().today,
    };
    let here = format!("/ui/persons/{iin}");
    // Long timelines come in pages, a registry step never split between two.
    let number = |k: &str, default: usize, most: usize| q.get(k).and_then(|v| v.parse::<usize>().ok()).filter(|n| (1..=most).contains(n)).unwrap_or(default);
    let (page, per) = (number("page", 1, usize::MAX), number("per", TIMELINE_PAGE, 1000));
    let per_q = if per == TIMELINE_PAGE { String::new() } else { format!("&per={per}") };
    let all_groups = view::groups(&events);
    let (shown, pages) = view::page_of(&all_groups, per, page);
    let page = page.min(pages);
    // Where each event is in the timeline's pages: a ground's link lands on its answer.
    let mut page_of_seq: BTreeMap<u64, usize> = BTreeMap::new();
    for p in 1..=pages {
        for g in view::page_of(&all_groups, per, p).0 {
            page_of_seq.extend(g.events.iter().map(|e| (e.seq, p)));
        }
    }
    let evidence_link = |seq: u64| format!("{here}?page={}{per_q}#event-{seq}", page_of_seq.get(&seq).copied().unwrap_or(1));
    Ok(session.page(
        &format!("{} {iin}", t(l, "case_of")),
        &here,
        html! {
            @if let Some((k, m)) = &flash {
                @if k == "err" { div.card.err #error role="alert" { (m) } } @else { div.card.flash #flash role="status" { (m) } }
            }
            @for (procedure, c) in &cases {
                div.card {
                    h2 { (t(l, procedure)) }
                    @let entry = events.iter().rev().find_map(|e| e.as_type::<events::catalogue::ListEntryReceived>().filter(|r| r.run == c.run)).map(|r| EntryHead::of(&r.entry));
                    (status_line(l, procedure, c, &evidence_link, entry.as_ref()))
                    @if let Some(e) = crate::appeal::explanation_of(c) { (view::explanation(l, &format!("explanation-{procedure}"), &e)) }
                }
                (appeal_block(&view, procedure, c))
            }
            div.card #checkpoint {
                (t(l, "checkpoint")) ": "
                @match &cp {
                    Some(cp) => span.ok { "✓ " (cp.size) " — " (t(l, "checkpoint_ok")) },
                    None => span.bad { "✗" },
                }
            }
            h2 #timeline-title { (t(l, "timeline")) }
            @let passed = checks.values().filter(|c| c.signature.is_ok() && c.inclusion.is_ok() && c.source.as_ref().is_none_or(|s| s.is_ok())).count();
            p #timeline-verified {
                @if passed == checks.len() { span.ok { "✓ " (i18n::tf(l, "all_verified", &[checks.len().to_string()])) } }
                @else { span.bad { "✗ " (i18n::tf(l, "some_not_verified", &[(checks.len() - passed).to_string(), checks.len().to_string()])) } }
            }
            (timeline_table(l, shown, &checks))
            @if pages > 1 { (view::pager(l, "timeline-", page, pages, |n| format!("{here}?page={n}{per_q}"))) }
        },
    ))
}

/// The corrections issued for each open appeal, asked of the registries now; a source that
/// does not answer within [`CORRECTIONS_WAIT`] is shown as such.
async fn issued_corrections(s: &AppState, cases: &BTreeMap<String, ProcedureCase>) -> BTreeMap<String, Result<Vec<IssuedCorrection>, NotListed>> {
    let mut issued = BTreeMap::new();
    for c in cases.values() {
        if let Some(a) = c.appeal.as_ref().filter(|a| a.state != "resolved") {
            let asked = tokio::time::timeout(CORRECTIONS_WAIT, s.appeals().issued_corrections(&a.appeal)).await;
            let got = asked.map_err(|_| NotListed::Late(CORRECTIONS_WAIT.as_secs())).and_then(|r| r.map_err(NotListed::Failed));
            issued.insert(a.appeal.clone(), got);
        }
    }
    issued
}

/// The timeline, each registry step a group under its heading, each event with its checks.
fn timeline_table(l: Lang, shown: &[view::Group], checks: &BTreeMap<u64, crate::proof::EventCheck>) -> Markup {
    html! {
        table #timeline aria-labelledby="timeline-title" {
            @for g in shown {
                @match &g.step {
                    Some(step) => tbody.step data-step=(step) {
                        tr.step-head {
                            th colspan="4" scope="rowgroup" {
                                (t(l, "step")) " " (step)
                                @if let Some(r) = &g.registry { " · " (t(l, r)) }
                                @for v in g.events.iter().filter_map(|e| view::StepOf::of(e)?.verdict.0) { " — " (t(l, v)) }
                            }
                        }
                        @for e in &g.events { (timeline_row(l, e, checks)) }
                    },
                    None => tbody { @for e in &g.events { (timeline_row(l, e, checks)) } },
                }
            }
        }
    }
}

/// Why the corrections issued for an appeal are not shown.
#[derive(Debug, thiserror::Error)]
enum NotListed {
    #[error("no answer within {0} s")]
    Late(u64),
    #[error("{0}")]
    Failed(AppealError),
}

/// How long a case page waits for the registries to list the corrections issued.
const CORRECTIONS_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Events per page of a person's timeline, unless `per` asks for another number.
const TIMELINE_PAGE: usize = 60;

/// One event of the timeline: when, what, its content readably, and its checks.
fn timeline_row(l: Lang, e: &events::Event, checks: &BTreeMap<u64, crate::proof::EventCheck>) -> Markup {
    html! {
        tr.event id=(format!("event-{}", e.seq)) data-type=(e.kind) {
            td { "#" (e.seq) br; span.muted { (view::when(l, &e.time)) } }
            td { strong { (t(l, &e.kind)) } }
            td { (view::event(l, e)) }
            td { (view::checked(l, checks.get(&e.seq))) }
        }
    }
}

/// Back to the case page with what happened: the message is kept with the session on the
/// server and shown once (issue 30, item 11), never carried in the URL.
async fn back_to(s: &AppState, session: &Session, iin: &str, result: Result<String, AppealError>) -> Response {
    let (k, m) = match result {
        Ok(m) => ("msg", m),
        Err(e) => {
            if let AppealError::Ledger(e) = &e {
                tracing::error!(error = %e, "an appeal's step");
            }
            ("err", i18n::appeal_error(session.lang, &e))
        }
    };
    if let Some(id) = &session.id {
        if let Err(e) = session::flash(s.ledger.access().as_ref(), id, k, &m).await {
            tracing::error!(error = %e, "keeping a page's message");
        }
    }
    Redirect::to(&format!("/ui/persons/{iin}")).into_response()
}

#[derive(Deserialize)]
pub(super) struct FilingForm {
    procedure: String,
    grounds: String,
    #[serde(default)]
    received_on: String,
    #[serde(default)]
    late_reason: String,
    #[serde(default)]
    contested_step: String,
    #[serde(default)]
    suspend: Option<String>,
    #[serde(default)]
    csrf: String,
}

fn non_empty(s: String) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

pub(super) async fn file_appeal(State(s): State<AppState>, session: Session, Path(iin): Path<String>, Form(f): Form<FilingForm>) -> Result<Response, WebError> {
    let caller = session.require(&[Role::AppealsOfficer])?;
    session.check_csrf(&f.csrf)?;
    let iin = Iin::parse(&iin).map_err(|e| session.fail(StatusCode::BAD_REQUEST, e))?;
    let filing = Filing {
        procedure: f.procedure.clone(),
        grounds: f.grounds.clone(),
        contested_step: non_empty(f.contested_step.clone()),
        received_on: non_empty(f.received_on.clone()),
        late_reason: non_empty(f.late_reason.clone()),
        suspend: f.suspend.is_some(),
    };
    match s.appeals().file(iin.as_str(), &filing, caller).await {
        // The form again, as typed, with what is wrong beside its field.
        Err(AppealError::Field(e)) => {
            let page = case_view(&s, &session, caller, &iin, &BTreeMap::new(), Some((&f, &e))).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        r => Ok(back_to(&s, &session, iin.as_str(), r.map(|a| format!("{}: {}", t(session.lang, "AppealFiled"), a.id))).await),
    }
}

#[derive(Deserialize)]
pub(super) struct ActionForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    signed: String,
    #[serde(default)]
    registry: String,
    #[serde(default)]
    source_sig: String,
    #[serde(default)]
    csrf: String,
    /// `yes` once the officer has confirmed the final decision.
    #[serde(default)]
    confirm: String,
}

/// The confirmation of an appeal's final decision: what it decides and why, with "confirm"
/// and the way back (GOV.UK's confirmation before an irreversible action).
fn confirm_resolution(session: &Session, iin: &str, id: &str, f: &ActionForm) -> Html<String> {
    let l = session.lang;
    let (title, effect) = if f.outcome == "overturned" { ("do_overturn", "overturn_effect") } else { ("do_uphold", "uphold_effect") };
    session.page(
        &t(l, "confirm_decision"),
        &format!("/ui/persons/{iin}"),
        html! {
            div.card #confirm-resolution {
                h2 { (t(l, title)) ": " (t(l, "appeal")) " " (id) }
                p.warning { (t(l, effect)) }
                dl { dt { (t(l, "reason")) } dd #confirm-reason { (f.reason) } }
                form method="post" action=(format!("/ui/appeals/{id}/resolve")) {
                    (view::csrf_field(session.csrf().as_deref().unwrap_or_default()))
                    input type="hidden" name="outcome" value=(f.outcome);
                    input type="hidden" name="reason" value=(f.reason);
                    input type="hidden" name="confirm" value="yes";
                    button #confirm type="submit" { (t(l, "confirm")) }
                }
                p { a #back href=(format!("/ui/persons/{iin}")) { (t(l, "back_to_case")) } }
            }
        },
    )
}

pub(super) async fn appeal_action(
    State(s): State<AppState>,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Result<Response, WebError> {
    let caller = session.require(&[Role::AppealsOfficer])?;
    session.check_csrf(&f.csrf)?;
    let appeals = s.appeals();
    let a = appeals.load(&id).await.map_err(|e| {
        let e = crate::api::AppError::from(e);
        session.fail(e.status(), e)
    })?;
    let l = session.lang;
    let done = |kind: &str| format!("{}: {id}", t(l, kind));
    let r = match action.as_str() {
        "suspend" => appeals.suspend(&id, caller).await.map(|_| done("RemovalSuspended")),
        "recheck" => appeals.recheck(&id, caller).await.map(|a| {
            let v = a.recheck.as_ref().map(|(_, r)| r.verdict.as_str()).unwrap_or_default();
            format!("{} — {}", done("AppealRechecked"), t(l, v))
        }),
        // The final decision is asked again, with what it will do, before it is taken.
        "resolve" if f.confirm != "yes" => return Ok(confirm_resolution(&session, &a.iin, &id, &f).into_response()),
        "resolve" => appeals.resolve(&id, &Resolution { outcome: f.outcome, reason: f.reason }, caller).await.map(|_| done("AppealResolved")),
        "correction" => match serde_json::from_str::<crate::api::CorrectionFiling>(&f.signed) {
            Ok(c) => appeals.correction(&id, &c.into(), caller).await.map(|e| format!("{}: #{}", t(l, "correction"), e.seq)),
            Err(e) => Err(AppealError::CorrectionRefused(format!("the correction is not a signed answer: {e}"))),
        },
        "accept-correction" => {
            // Said in words: whose correction, for which appeal (the seq is on the timeline).
            appeals
                .accept_correction(&id, &f.registry, &f.source_sig, caller)
                .await
                .map(|_| i18n::tf(l, "correction_accepted", &[t(l, &f.registry), id.clone()]))
        }
        other => return Err(session.fail(StatusCode::NOT_FOUND, format!("no action {other:?}"))),
    };
    Ok(back_to(&s, &session, &a.iin, r).await)
}

pub(super) async fn case_file(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Response, WebError> {
    session.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let file = crate::api::case_file_of(&s, &id).await.map_err(|e| not_found_in(&session, e, &id))?;
    let body = serde_json::to_vec_pretty(&file).expect("case files serialise");
    Ok(([(header::CONTENT_TYPE, "application/json".to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"case-file-{id}.json\""))], body)
        .into_response())
}
