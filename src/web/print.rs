//! The printable case file of an appeal (`/ui/appeals/{id}/print`), for a court or a
//! commission: the notice as sent in both languages, the decision with its official, the
//! grounds with the registry answers they rest on, the appeal's steps, the checkpoint with its
//! cosignatures, and how to verify it all offline. Built from the same case file the JSON
//! download holds, and verified here as `verify-proof` verifies it; the stylesheet's print
//! rules paginate it (no script: the browser's own Print).

use super::i18n::{t, Lang};
use super::{view, Session, WebError};
use crate::auth::Role;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::Html;
use events::catalogue::{self as c, seqs};
use events::types::*;
use events::Event;
use maud::{html, Markup};
use std::collections::BTreeMap;

pub async fn page(State(s): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Html<String>, WebError> {
    session.require(&[Role::Auditor, Role::AppealsOfficer])?;
    let l = session.lang;
    // A recorded read of the person, as the JSON case file is.
    let file = crate::api::case_file_of(&s, &id).await.map_err(|e| super::not_found_in(&session, e, &id))?;
    let history = s.ledger.key_history().await.map_err(super::internal(l))?;
    let keys = history.all();
    // As `verify-proof` checks it: from the ledger's first key, through its rotations.
    let verified = keys.first().map(|k| crate::proof::verify_case_file(&file, k, &s.book, &crate::proof::Sources::List((*s.registry_keys).clone())));
    let bundle = &file.proof;
    let by_seq: BTreeMap<u64, &Event> = bundle.events.iter().map(|e| (e.seq, e)).collect();
    let decision = bundle.events.iter().rev().find_map(|e| Some((e, e.as_type::<c::DecisionTaken>()?)));
    let notice = file.notice.as_ref().and_then(|e| Some((e, e.as_type::<c::NoticeIssued>()?)));
    // The witnesses this server sends its checkpoints to: their cosignatures checked by their
    // keys, each with the time it cosigned.
    let witnesses: Vec<events::CosignerKey> = s.ledger.witnesses().map(|w| w.witnesses.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
    let cosigned: BTreeMap<String, u64> = events::cosignature::verified(&bundle.checkpoint, &witnesses).map(|v| v.into_iter().collect()).unwrap_or_default();
    let quorum = s.ledger.witnesses().map(|w| w.quorum);
    let verify_command = verify_command(&id, keys.first(), &witnesses, quorum);
    // The case as the file's own events show it: its explanation and the last day to contest.
    let mut persons = projections::person::Persons::default();
    bundle.events.iter().for_each(|e| persons.apply(e));
    let case = persons.cases.get(&bundle.iin).and_then(|m| m.get(&bundle.procedure));
    let explanation = case.and_then(crate::appeal::explanation_of);
    // The grounds the decision rested on, shown after an overturn too (marked so).
    let contested = case.and_then(|c| c.appeal.as_ref()).filter(|a| a.outcome == Some(c::AppealOutcome::Overturned)).map(|a| &a.contested_grounds);
    let overturned = contested.is_some();
    let grounds = if bundle.grounds.is_empty() { contested.unwrap_or(&bundle.grounds) } else { &bundle.grounds };
    let title = format!("{} {id}", t(l, "print_title"));
    Ok(session.page(
        &title,
        &format!("/ui/appeals/{id}/print"),
        html! {
            p.noprint.muted { (t(l, "print_hint")) " " a #back href=(format!("/ui/persons/{}", bundle.iin)) { (t(l, "back_to_case")) } }
            // Decision 22: what the decision rests on and how to contest it, first.
            section.card #print-explanation {
                h2 { "1. " (t(l, "print_explanation")) }
                @match &explanation {
                    Some(e) => (super::view::explanation(l, "explanation", e)),
                    None => p.muted { "—" },
                }
            }
            section.card #print-person {
                h2 { "2. " (t(l, "print_person")) }
                dl {
                    dt { (t(l, "iin")) } dd #print-iin { (bundle.iin) }
                    dt { (t(l, "procedure")) } dd { (t(l, &bundle.procedure)) }
                    dt { (t(l, "status")) } dd #print-status {
                        (t(l, bundle.status.as_str()))
                        @if let Some(o) = case.and_then(|c| super::view::appeal_outcome(l, c)) { " — " (o) }
                    }
                    @if bundle.simulation.is_some() { dt { "" } dd.bad { (t(l, "simulation_banner")) } }
                }
            }
            (notice_and_decision(l, notice, decision, case))
            (grounds_section(l, grounds, overturned, &by_seq))
            section.card #print-appeal {
                h2 { "6. " (t(l, "print_appeal_steps")) }
                table {
                    thead { tr { th { "#" } th { (t(l, "time")) } th { (t(l, "event")) } th { "" } } }
                    tbody {
                        @for e in &file.appeal_events {
                            tr data-type=(e.kind) {
                                td { (e.seq) }
                                td { (view::when(l, &e.time)) }
                                td { strong { (t(l, &e.kind)) } }
                                td { @if e.kind != NOTICE_ISSUED { (view::event(l, e)) } @else { (view::notice_texts(l, e)) } }
                            }
                        }
                    }
                }
            }
            (checkpoint_section(l, &bundle.checkpoint, &cosigned, &verified))
            section.card #print-verify {
                h2 { "8. " (t(l, "print_how")) }
                p { (t(l, "print_how_text")) }
                pre #print-command { (verify_command) }
                p.noprint { a href=(format!("/ui/appeals/{id}/case-file")) { (t(l, "case_file")) } }
            }
        },
    ))
}

/// The command a reader runs to check the file offline: the ledger's first key, the sources'
/// trust list the reader holds (never the file's claim), and the witnesses with their quorum.
fn verify_command(id: &str, first_key: Option<&events::VerifierKey>, witnesses: &[events::CosignerKey], quorum: Option<usize>) -> String {
    let mut command = format!(
        "housing-ledger verify-proof case-file-{id}.json --ledger-key {} --trust sources-trust-list.json",
        first_key.map(|k| k.to_string()).unwrap_or_default()
    );
    for w in witnesses {
        command.push_str(&format!(" --witness {w}"));
    }
    if let Some(q) = quorum.filter(|_| !witnesses.is_empty()) {
        command.push_str(&format!(" --quorum {q}"));
    }
    command
}

/// Section 5: each ground with the registry answers it rests on; after an overturn, the
/// contested grounds, marked so.
fn grounds_section(l: Lang, grounds: &[c::Ground], overturned: bool, by_seq: &BTreeMap<u64, &Event>) -> Markup {
    html! {
        section.card #print-grounds {
            h2 { "5. " (t(l, "grounds")) }
            @if grounds.is_empty() { p.muted { "—" } }
            @if overturned { p.appeal-outcome.overturned { (t(l, "overturned")) } }
            @for g in grounds {
                div.ground {
                    h3 { (t(l, &g.code)) " (" (g.clause) ")" }
                    p { (t(l, g.subject.as_str())) " " (g.subject_iin) ", " (t(l, &g.registry)) }
                    @for seq in seqs(&g.evidence) {
                        @if let Some(answer) = by_seq.get(&seq).and_then(|e| e.as_type::<c::RegistryResponded>()) {
                            div.answer {
                                p.muted { (t(l, "RegistryResponded")) " #" (seq) " · " (t(l, &answer.registry)) " · " (answer.request_id) " · "
                                    (view::issued_at(l, &answer.answer)) }
                                (view::subjects_records(l, &answer.answer))
                            }
                        }
                    }
                }
            }
    }
    }
}

/// Section 7: the checkpoint, each signature named (the log's, a witness's checked
/// cosignature with its time, or one this server cannot check), and the file's verification.
fn checkpoint_section(
    l: Lang,
    checkpoint: &str,
    cosigned: &BTreeMap<String, u64>,
    verified: &Option<Result<crate::proof::Verified, crate::proof::ProofError>>,
) -> Markup {
    let (body, signatures) = events::note::split(checkpoint).unwrap_or((checkpoint, Vec::new()));
    let (origin, size) = (body.lines().next().unwrap_or_default(), body.lines().nth(1).unwrap_or_default());
    html! {
        section.card #print-checkpoint {
            h2 { "7. " (t(l, "checkpoint")) }
            dl {
                dt { (t(l, "tree_size")) } dd #print-tree-size { (size) }
                dt { (t(l, "print_signatures")) } dd {
                    ul #print-signatures {
                        @for (name, key_id, _) in &signatures {
                            li {
                                (name) " (" (hex::encode(key_id)) ") — "
                                @if name == origin { (t(l, "print_log_signature")) }
                                @else if let Some(at) = cosigned.get(name) {
                                    span.ok { "✓ " (t(l, "print_cosignature")) } ", " (view::when(l, &chrono::DateTime::from_timestamp(*at as i64, 0).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()))
                                }
                                @else { (t(l, "print_cosignature_unknown")) }
                            }
                        }
                    }
                }
                dt { (t(l, "print_verified")) } dd #print-verified {
                    @match verified {
                        Some(Ok(v)) => span.ok { "✓ " (t(l, "print_verifies")) " (" (v.events) " " (t(l, "print_events")) ", " (t(l, "tree_size")) " " (v.tree_size) ")" },
                        Some(Err(e)) => span.bad { "✗ " (e) },
                        None => span.bad { "✗" },
                    }
                }
            }
            pre.note { (checkpoint) }
    }
    }
}

/// Sections 3 and 4: the notice as sent in both languages, and the decision with its official
/// and, after an appeal, its outcome.
fn notice_and_decision(
    l: Lang,
    notice: Option<(&Event, c::NoticeIssued)>,
    decision: Option<(&Event, c::DecisionTaken)>,
    case: Option<&projections::person::ProcedureCase>,
) -> Markup {
    html! {
        section.card #print-notice {
            h2 { "3. " (t(l, "print_notice")) }
            @match &notice {
                Some((e, n)) => {
                    p.muted { (n.notice) " · #" (e.seq) " · " (view::when(l, &e.time)) }
                    h3 lang="kk" { "Қазақша" } p lang="kk" { (n.text.kk) }
                    h3 lang="ru" { "Русский" } p lang="ru" { (n.text.ru) }
                },
                None => p.muted { "—" },
            }
        }
        section.card #print-decision {
            h2 { "4. " (t(l, "decision")) }
            @match &decision {
                Some((e, d)) => dl {
                    dt { (t(l, "outcome")) } dd #print-outcome {
                        (t(l, d.outcome.as_str())) " · #" (e.seq) " · " (view::when(l, &e.time))
                        @if let Some(o) = case.and_then(|c| super::view::appeal_outcome(l, c)) { " — " (o) }
                    }
                    dt { (t(l, "decided_by")) } dd { (d.decided_by) }
                    @if let Some(o) = &d.official {
                        dt { (t(l, "official")) } dd #print-official { (o.name) ", " (o.position) " (" (t(l, "iin")) " " (o.id) ")" }
                    }
                    dt { (t(l, "reference")) } dd { (d.reference.as_deref().unwrap_or("—")) }
                },
                None => p.muted { "—" },
            }
        }
    }
}
