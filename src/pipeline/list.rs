//! Step 4 and steps 5-10: the list page by page, each page recorded before its entries are
//! taken up, then each accepted entry checked on its own task (`person`), in a window ahead of
//! the appends.

use super::person::{self, Batch, RunContext};
use super::*;
use crate::registry::ListPage;

impl<'a> Runner<'a> {
    /// Step 4 and steps 5-10, as one stream. The list is asked for page by page, each page
    /// recorded before its entries are taken up, and the next page is asked for while this
    /// one's persons are checked. A window of persons is checked in parallel, in list order,
    /// ahead of the appends; while one batch commits the next is sealed. So neither the cores
    /// nor the disk wait for the other, nor for a page boundary.
    pub(super) async fn list_and_persons(&mut self) -> Result<(), PipelineError> {
        let per_append = self.settings.persons_per_append.max(1);
        let (ledger, ui, ctx) = (self.ledger, self.ui, self.ctx.clone());
        // Entries already taken up (when resuming) and pages already recorded.
        let (done, known_pages) = (self.progress.positions_done.clone(), self.progress.list_pages.clone());
        let (page_tx, page_rx) = tokio::sync::mpsc::channel::<(Vec<ListItem>, u64, Arc<Duplicates>)>(1);
        let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(per_append);
        let seen: HashSet<String> = self.progress.status.keys().cloned().collect();
        let producer = tokio::spawn(check_persons(ctx.clone(), page_rx, tx, seen));
        let fetching = async move {
            let mut appended: Vec<Event> = Vec::new();
            let mut page = 0u64;
            // Decision 24: the whole list is read before any entry is judged, so that an IIN
            // listed twice with differing entries is known before either is taken up.
            let mut read: Vec<(u64, Vec<ListItem>)> = Vec::new();
            let outcome = loop {
                let (list_seq, records, sigs) = match list_page(ledger, &ctx, known_pages.get(&page).copied(), page, &mut appended).await {
                    Ok(read) => read,
                    Err(e) => break Err(e),
                };
                let listed = ListPage::of(&records);
                let next = listed.as_ref().and_then(ListPage::next);
                // Each entry with its own signature by the source (evidence per person).
                let entries = listed.map(|l| l.entries).unwrap_or_default();
                let all: Vec<ListItem> = entries.into_iter().enumerate().map(|(i, e)| (format!("{page}:{i}"), e, sigs.get(&i.to_string()).cloned())).collect();
                read.push((list_seq, all));
                match next {
                    Some(next) if next > page => page = next,
                    _ => break Ok(()),
                }
            };
            if outcome.is_ok() {
                let duplicates = Arc::new(Duplicates::of(read.iter().flat_map(|(_, all)| all.iter().map(|(_, e, _)| e))));
                for (list_seq, all) in read {
                    let todo: Vec<_> = all.into_iter().filter(|(pos, _, _)| !done.contains(pos)).collect();
                    ui.add_total(todo.len() as u64);
                    if page_tx.send((todo, list_seq, duplicates.clone())).await.is_err() {
                        break; // the checker stopped because the appender did; it reports why
                    }
                }
            }
            drop(page_tx);
            (appended, outcome)
        };
        let appending = async {
            // Owned here, so that an error drops it, which stops the checker and the page fetching.
            let mut rx = rx;
            // Up to three appends in flight: one sealing while the one before it waits for the
            // one before that to commit. Each is tagged with the persons it covers.
            let mut appends = Appends::new(ledger);
            let mut received: Vec<Batch> = Vec::with_capacity(per_append);
            let mut open = true;
            loop {
                if received.len() >= per_append || (!open && !received.is_empty()) {
                    let n = received.len();
                    let parts = std::mem::replace(&mut received, Vec::with_capacity(per_append)).into_iter().map(|b| b.events).collect();
                    appends.start(parts, n);
                }
                if !open && appends.is_empty() {
                    return Ok(());
                }
                let done = if appends.full() || !open {
                    appends.next().await?
                } else {
                    tokio::select! {
                        done = appends.next(), if !appends.is_empty() => done?,
                        one = rx.recv() => {
                            match one {
                                Some(b) => received.push(b),
                                None => open = false,
                            }
                            None
                        }
                    }
                };
                if let Some((evs, n)) = done {
                    self.absorb(&evs);
                    ui.advance(n as u64);
                    // Freeing a batch's values is real work: not on the thread that feeds the writer.
                    rayon::spawn(move || drop(evs));
                }
            }
        };
        let ((pages, fetched), appended) = tokio::join!(fetching, appending);
        self.absorb(&pages);
        if let Err(e) = appended {
            producer.abort();
            return Err(e);
        }
        producer.await.expect("the person checker does not panic");
        fetched
    }
}

/// Steps 5-10 on their own task: each page's entries checked in list order, up to
/// [`PERSONS_IN_FLIGHT`] at once, each person's batch sent on to the appender in that order.
async fn check_persons(
    ctx: Arc<RunContext>,
    mut pages: tokio::sync::mpsc::Receiver<(Vec<ListItem>, u64, Arc<Duplicates>)>,
    tx: tokio::sync::mpsc::Sender<Batch>,
    mut seen: HashSet<String>,
) {
    use futures::StreamExt;
    let mut in_flight = futures::stream::FuturesOrdered::new();
    'pages: while let Some((todo, list_seq, duplicates)) = pages.recv().await {
        for (position, raw, sig) in todo {
            in_flight.push_back(check_person(ctx.clone(), position, raw, sig, list_seq, &mut seen, &duplicates));
            if in_flight.len() >= PERSONS_IN_FLIGHT {
                let batch = in_flight.next().await.expect("a person is in flight");
                if tx.send(batch).await.is_err() {
                    break 'pages; // the appender stopped on an error; it reports it
                }
            }
        }
    }
    while let Some(batch) = in_flight.next().await {
        if tx.send(batch).await.is_err() {
            break;
        }
    }
}

/// Step 4, page `page`: read back from the ledger when a resumed run recorded it already
/// (`known`), else asked for and recorded (the event pushed onto `appended`). Returns its seq,
/// its records and the source's signature of each entry.
async fn list_page(
    ledger: &Ledger,
    ctx: &RunContext,
    known: Option<u64>,
    page: u64,
    appended: &mut Vec<Event>,
) -> Result<(u64, Value, BTreeMap<String, String>), PipelineError> {
    let Some(seq) = known else {
        let (ev, fetched) = fetch_list_page(ledger, ctx, page).await?;
        let sigs = ev.as_type::<ev::RegistryResponded>().and_then(|r| r.item_sigs).unwrap_or_default();
        let seq = ev.seq;
        appended.push(ev);
        return fetched.map(|records| (seq, records, sigs)).map_err(PipelineError::List);
    };
    let e = ledger.log().read_seqs(&[seq]).await?.pop().ok_or(LedgerError::NoSuchEvent { seq, size: 0 })?;
    let r = e.decode::<ev::RegistryResponded>().map_err(LedgerError::from)?;
    Ok((seq, crate::registry::records_in(&r.answer).clone(), r.item_sigs.unwrap_or_default()))
}

/// Step 4: one page of the list, asked for and recorded. Returns the event recorded, with the
/// page's records or the fault.
async fn fetch_list_page(ledger: &Ledger, ctx: &RunContext, page: u64) -> Result<(Event, Result<Value, RegistryFault>), PipelineError> {
    let request_id = format!("{}/list/{page}", ctx.run);
    let checked = ctx
        .registries
        .list_page(ctx.procedure, page, &request_id)
        .await
        .and_then(|s| check_answer(&ctx.keys, RegistryId::IshAsMr, &request_id, AnswerKind::List, &s).cloned().map(|r| (s, r)));
    let stream = run_stream(&ctx.run);
    let (ev, outcome) = match checked {
        Ok((signed, records)) if ListPage::of(&records).is_some() => {
            let item_sigs = Some(signed.item_sigs.clone());
            let responded = ev::RegistryResponded {
                step: Some("4".into()),
                list_page: Some(page),
                item_sigs,
                ..signed.responded(&ctx.run, RegistryId::IshAsMr, &request_id)
            };
            (NewEvent::typed(&stream, responded), Ok(records))
        }
        other => {
            let fault = match other {
                Err(f) => f,
                Ok(_) => RegistryFault::Malformed("the list answer has no entries array".into()),
            };
            crate::registry::report(&fault, &ctx.run, RegistryId::IshAsMr, "4", ctx.simulation);
            let failed = ev::RegistryFailed { list_page: Some(page), ..fault.failed(&ctx.run, RegistryId::IshAsMr, &request_id, "4") };
            (NewEvent::typed(&stream, failed), Err(fault))
        }
    };
    let recorded = ledger.append(vec![ev]).await?.remove(0);
    Ok((recorded, outcome))
}

/// One entry of the list: its position (`page:index`), the entry, its own source signature.
type ListItem = (String, Value, Option<String>);

/// Decision 24: the IINs the list names more than once. Identical entries are one entry (the
/// first is taken); entries that differ are all rejected, naming the fields that differ.
#[derive(Debug, Default)]
struct Duplicates {
    /// IIN → the fields its entries differ in.
    conflicting: std::collections::HashMap<String, Vec<String>>,
}

impl Duplicates {
    pub fn of<'e>(entries: impl Iterator<Item = &'e Value>) -> Self {
        let mut by_iin: std::collections::HashMap<String, Vec<&Value>> = std::collections::HashMap::new();
        for e in entries {
            if let Some(iin) = verifier::registry::EntryHead::of(e).iin {
                by_iin.entry(iin).or_default().push(e);
            }
        }
        let mut conflicting = std::collections::HashMap::new();
        for (iin, es) in by_iin.into_iter().filter(|(_, es)| es.len() > 1) {
            let mut fields: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
            for e in &es[1..] {
                let keys = e.as_object().into_iter().chain(es[0].as_object()).flat_map(|m| m.keys());
                fields.extend(keys.filter(|k| e.get(k.as_str()) != es[0].get(k.as_str())).cloned());
            }
            if !fields.is_empty() {
                conflicting.insert(iin, fields.into_iter().collect());
            }
        }
        Self { conflicting }
    }
}

/// The reason code of an entry rejected under decision 24.
pub const CONFLICTING_ENTRIES: &str = "conflicting_entries";

/// Format-logical control for one entry, in list order (it fixes which of identical duplicates
/// is taken); then, for an accepted entry, steps 5-10 on their own task.
fn check_person(
    ctx: Arc<RunContext>,
    position: String,
    raw: Value,
    sig: Option<String>,
    list_seq: u64,
    seen: &mut HashSet<String>,
    duplicates: &Duplicates,
) -> impl std::future::Future<Output = Batch> {
    let checked = check_entry(&ctx.rules, ctx.procedure, &ctx.as_of, !ctx.simulation, &raw).and_then(|e| {
        if let Some(fields) = duplicates.conflicting.get(e.iin.as_str()) {
            // Decision 24: taking either would guess which registration is real.
            Err(vec![format!(
                "{CONFLICTING_ENTRIES}: {} is listed more than once with entries that differ in {}; none is judged until the list is consistent (decision 24)",
                e.iin,
                fields.join(", ")
            )])
        } else if seen.insert(e.iin.to_string()) {
            Ok(e)
        } else {
            Err(vec![format!("iin: {} appears more than once in the list with identical entries: one entry, the first, is taken (decision 24)", e.iin)])
        }
    });
    let task = match checked {
        Ok(entry) => Ok(tokio::spawn(person::process(ctx, entry, raw, sig, position, list_seq))),
        Err(reasons) => {
            let mut b = Batch::default();
            let rejected = ev::InputRejected {
                run: ctx.run.clone(),
                procedure: ctx.procedure.to_string(),
                entry: raw,
                reasons,
                position,
                evidence: vec![Ref::Seq(list_seq)],
            };
            b.push(&run_stream(&ctx.run), rejected);
            Err(b)
        }
    };
    async move {
        match task {
            Ok(handle) => handle.await.expect("person task does not panic"),
            Err(rejected) => rejected,
        }
    }
}
