//! Step 4 and steps 5-10: the list page by page, each page recorded before its entries are
//! taken up, then each accepted entry checked on its own task (`person`), in a window ahead of
//! the appends.

use super::person::{self, Batch, RunContext};
use super::*;

impl<'a> Runner<'a> {
    /// Step 4 and steps 5-10, as one stream. The list is asked for page by page, each page
    /// recorded before its entries are taken up, and the next page is asked for while this
    /// one's persons are checked. A window of persons is checked in parallel, in list order,
    /// ahead of the appends; while one batch commits the next is sealed. So neither the cores
    /// nor the disk wait for the other, nor for a page boundary.
    pub(super) async fn list_and_persons(&mut self) -> Result<(), PipelineError> {
        use futures::StreamExt;
        let per_append = self.settings.persons_per_append.max(1);
        let (ledger, ui, ctx) = (self.ledger, self.ui, self.ctx.clone());
        // Entries already taken up (when resuming) and pages already recorded.
        let (done, known_pages) = (self.progress.positions_done.clone(), self.progress.list_pages.clone());
        let (page_tx, page_rx) = tokio::sync::mpsc::channel::<(Vec<(String, Value, Option<String>)>, u64)>(1);
        let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(per_append);
        let mut seen: HashSet<String> = self.progress.status.keys().cloned().collect();
        let producer = tokio::spawn({
            let ctx = ctx.clone();
            async move {
                let (mut pages, mut in_flight) = (page_rx, futures::stream::FuturesOrdered::new());
                'pages: while let Some((todo, list_seq)) = pages.recv().await {
                    for (position, raw, sig) in todo {
                        in_flight.push_back(check_person(ctx.clone(), position, raw, sig, list_seq, &mut seen));
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
        });
        let fetching = async move {
            let mut appended: Vec<Event> = Vec::new();
            let mut page = 0u64;
            let outcome = loop {
                let (list_seq, records, sigs) = match known_pages.get(&page) {
                    Some(seq) => match ledger.read_seqs(&[*seq]).await.map(|mut evs| evs.pop()) {
                        Ok(Some(e)) => match e.decode::<ev::RegistryResponded>() {
                            Ok(r) => (*seq, r.answer["records"].clone(), r.item_sigs.unwrap_or_default()),
                            Err(err) => break Err(PipelineError::Ledger(err.into())),
                        },
                        Ok(None) => break Err(PipelineError::Ledger(LedgerError::NoSuchEvent { seq: *seq, size: 0 })),
                        Err(e) => break Err(e.into()),
                    },
                    None => match fetch_list_page(ledger, &ctx, page).await {
                        Ok((ev, fetched)) => {
                            let sigs = ev.as_type::<ev::RegistryResponded>().and_then(|r| r.item_sigs).unwrap_or_default();
                            let seq = ev.seq;
                            appended.push(ev);
                            match fetched {
                                Ok(records) => (seq, records, sigs),
                                Err(fault) => break Err(PipelineError::List(fault)),
                            }
                        }
                        Err(e) => break Err(e),
                    },
                };
                let entries = records["entries"].as_array().cloned().unwrap_or_default();
                // Each entry with its own signature by the source (evidence per person).
                let todo: Vec<(String, Value, Option<String>)> = entries
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| (format!("{page}:{i}"), e, sigs.get(&i.to_string()).cloned()))
                    .filter(|(pos, _, _)| !done.contains(pos))
                    .collect();
                ui.add_total(todo.len() as u64);
                if page_tx.send((todo, list_seq)).await.is_err() {
                    break Ok(()); // the checker stopped because the appender did; it reports why
                }
                match records["next_page"].as_u64() {
                    Some(next) if next > page => page = next,
                    _ => break Ok(()),
                }
            };
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
        Ok((signed, records)) if records["entries"].is_array() => {
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
            let failed = ev::RegistryFailed { list_page: Some(page), ..fault.failed(&ctx.run, RegistryId::IshAsMr, &request_id, "4") };
            (NewEvent::typed(&stream, failed), Err(fault))
        }
    };
    let recorded = ledger.append(vec![ev]).await?.remove(0);
    Ok((recorded, outcome))
}

/// Format-logical control for one entry, in list order (it fixes which duplicate is taken);
/// then, for an accepted entry, steps 5-10 on their own task.
fn check_person(
    ctx: Arc<RunContext>,
    position: String,
    raw: Value,
    sig: Option<String>,
    list_seq: u64,
    seen: &mut HashSet<String>,
) -> impl std::future::Future<Output = Batch> {
    let checked = check_entry(&ctx.rules, ctx.procedure, &ctx.as_of, !ctx.simulation, &raw).and_then(|e| {
        if seen.insert(e.iin.to_string()) {
            Ok(e)
        } else {
            Err(vec![format!("iin: {} appears more than once in the list; its first entry is taken", e.iin)])
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
