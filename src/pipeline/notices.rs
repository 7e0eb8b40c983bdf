//! Step 12: a notice for each confirmed decision, then delivery through ИШ АС МР with
//! retries; every attempt is recorded. A simulation's notices are withheld from a live gateway
//! (decision 11).

use super::*;

impl<'a> Runner<'a> {
    /// Step 12: a notice for each confirmed decision, then delivery with retries; every attempt
    /// is recorded.
    pub(super) async fn notices(&mut self) -> Result<(), PipelineError> {
        let ctx = self.ctx.clone();
        self.ui.stage("notices");
        let issued: HashSet<String> = self.progress.notices.values().map(|n| n.iin.clone()).collect();
        let mut to_issue: Vec<(String, u64, u64)> = self
            .progress
            .proposals
            .iter()
            .filter_map(|(iin, prop)| match self.progress.decided.get(iin) {
                Some((seq, outcome)) if outcome == "confirmed" && !issued.contains(iin) => Some((iin.clone(), *prop, *seq)),
                _ => None,
            })
            .collect();
        to_issue.sort_by_key(|(_, p, _)| *p);
        let mut appends = Appends::new(self.ledger);
        for chunk in to_issue.chunks(500) {
            let proposals = self.ledger.log().read_seqs(&chunk.iter().flat_map(|(_, p, d)| [*p, *d]).collect::<Vec<_>>()).await?;
            let by_seq: BTreeMap<u64, &Event> = proposals.iter().map(|e| (e.seq, e)).collect();
            // Decision 22: what each proposal rests on (its entry, family and answers), read at once.
            let evidence: Vec<u64> =
                proposals.iter().filter_map(|e| e.decode::<ev::DecisionProposed>().ok()).flat_map(|p| p.evidence.into_iter().filter_map(|r| r.seq())).collect();
            let evidence = self.ledger.log().read_seqs(&evidence).await?;
            let evidence: BTreeMap<u64, &Event> = evidence.iter().map(|e| (e.seq, e)).collect();
            let mut batch = Vec::new();
            for (iin, prop, decision) in chunk {
                let proposal = by_seq.get(prop).and_then(|e| e.decode::<ev::DecisionProposed>().ok());
                let grounds = proposal.as_ref().map(|p| p.grounds.clone()).unwrap_or_default();
                // The body that took the decision: as its official's position names it.
                let body = by_seq
                    .get(decision)
                    .and_then(|e| e.decode::<ev::DecisionTaken>().ok())
                    .map(|d| d.official.map(|o| o.position).filter(|p| !p.is_empty()).unwrap_or(d.decided_by))
                    .unwrap_or_default();
                let rested_on: Vec<&Event> = proposal.iter().flat_map(|p| p.evidence.iter().filter_map(|r| evidence.get(&r.seq()?).copied())).collect();
                let findings = findings_of(iin, &grounds, &rested_on, &ctx);
                let text = crate::rules::explain::explained(notice::render(&ctx.rules, &grounds), &findings, &body);
                let explanation = Some(serde_json::json!({"findings": findings, "body": body}));
                let id = notice_id(&ctx.run, iin);
                let issued = ev::NoticeIssued {
                    run: Some(ctx.run.clone()),
                    notice: id.clone(),
                    kind: None,
                    appeal: None,
                    iin: iin.clone(),
                    procedure: ctx.procedure.to_string(),
                    decision: Ref::Seq(*decision),
                    proposal: Some(Ref::Seq(*prop)),
                    acknowledgement: None,
                    text: ev::NoticeText { kk: text.kk, ru: text.ru },
                    grounds,
                    simulation: ctx.simulation.then_some(true),
                    explanation,
                };
                batch.push(NewEvent::typed(notice_stream(&id), issued));
            }
            self.queue(&mut appends, batch).await?;
        }
        // Deliveries are for notices on the ledger only.
        self.settle(&mut appends).await?;
        if ctx.simulation && ctx.registries.is_live() {
            // Decision 11: a simulation never delivers through a live gateway.
            self.withhold(&mut appends).await?;
            return self.settle(&mut appends).await;
        }
        self.deliver(&mut appends).await
    }

    /// Decision 11: each notice not yet delivered or withheld is recorded as withheld.
    async fn withhold(&mut self, appends: &mut Appends<'a, ()>) -> Result<(), PipelineError> {
        let ctx = self.ctx.clone();
        let pending: Vec<(String, String)> =
            self.progress.notices.iter().filter(|(_, n)| !n.delivered && !n.withheld).map(|(id, n)| (id.clone(), n.iin.clone())).collect();
        for chunk in pending.chunks(500) {
            let batch = chunk
                .iter()
                .map(|(id, iin)| {
                    NewEvent::typed(
                        notice_stream(id),
                        ev::NoticeWithheld {
                            run: ctx.run.clone(),
                            notice: id.clone(),
                            iin: iin.clone(),
                            reason: "simulation, not a legal act: not delivered through the live gateway (decision 11)".into(),
                        },
                    )
                })
                .collect();
            self.queue(appends, batch).await?;
        }
        Ok(())
    }

    /// Delivery in rounds, each chosen from the last one's recorded outcomes, until every
    /// notice is delivered or has used its attempts.
    async fn deliver(&mut self, appends: &mut Appends<'a, ()>) -> Result<(), PipelineError> {
        let ctx = self.ctx.clone();
        loop {
            let pending: Vec<(String, String, u32)> = self
                .progress
                .notices
                .iter()
                .filter(|(_, n)| !n.delivered && n.attempts < self.settings.max_delivery_attempts)
                .map(|(id, n)| (id.clone(), n.iin.clone(), n.attempts + 1))
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            for chunk in pending.chunks(500) {
                let mut batch = Vec::new();
                for (id, iin, attempt) in chunk {
                    let of = DeliveryOf { run: Some(ctx.run.clone()), appeal: None };
                    batch.push(attempt_delivery(ctx.registries.as_ref(), id, iin, *attempt, self.settings.max_delivery_attempts, of).await);
                }
                self.queue(appends, batch).await?;
            }
            // The next round is chosen from this one's recorded outcomes.
            self.settle(appends).await?;
            tokio::time::sleep(self.settings.delivery_backoff).await;
        }
    }
}

/// Delivery attempts of a notice before it is left `failed`, a run's and an appeal's alike.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 5;

/// Whose notice is delivered: a run's or an appeal's.
pub struct DeliveryOf {
    pub run: Option<String>,
    pub appeal: Option<String>,
}

/// One attempt at delivering notice `notice` to `iin` through ИШ АС МР (clause 12): the event
/// that records it, `NoticeDelivered` or `NoticeDeliveryFailed` — `final` when the last allowed
/// attempt fails, which leaves the notice `failed`.
pub async fn attempt_delivery(registries: &dyn Registries, notice: &str, iin: &str, attempt: u32, max_attempts: u32, of: DeliveryOf) -> NewEvent {
    let (notice, iin, stream) = (notice.to_string(), iin.to_string(), notice_stream(notice));
    match registries.deliver(&notice, &iin, attempt).await {
        Ok(detail) => NewEvent::typed(stream, ev::NoticeDelivered { run: of.run, appeal: of.appeal, notice, iin, attempt, detail, r#final: false }),
        Err(fault) => {
            let (r#final, detail) = (attempt >= max_attempts, fault.to_string());
            NewEvent::typed(stream, ev::NoticeDeliveryFailed { run: of.run, appeal: of.appeal, notice, iin, attempt, detail, r#final })
        }
    }
}

/// Decision 22: what a proposal's grounds rest on, described: from the events it names (the
/// person's list entry, the family step 5 fixed, the registries' answers), judged as the run
/// judged them (its settlement, its decision date).
fn findings_of(iin: &str, grounds: &[ev::Ground], rested_on: &[&Event], ctx: &RunContext) -> Vec<crate::rules::explain::Finding> {
    let mut answers: BTreeMap<RegistryId, crate::rules::checks::Records> = BTreeMap::new();
    let mut family = crate::rules::checks::Family::default();
    let mut entry = Value::Null;
    for e in rested_on {
        match e.kind.as_str() {
            REGISTRY_RESPONDED => {
                if let (Ok(r), true) = (e.decode::<ev::RegistryResponded>(), e.stream.starts_with("person:")) {
                    if let Some(registry) = RegistryId::parse(&r.registry) {
                        answers.entry(registry).or_default().extend(crate::registry::records_of(crate::registry::records_in(&r.answer)));
                    }
                }
            }
            CHECK_EVALUATED => {
                if let Some(f) = e.decode::<ev::CheckEvaluated>().ok().and_then(|c| c.family).and_then(|f| serde_json::from_value(f).ok()) {
                    family = f;
                }
            }
            LIST_ENTRY_RECEIVED => {
                if let Ok(l) = e.decode::<ev::ListEntryReceived>() {
                    entry = l.entry;
                }
            }
            _ => {}
        }
    }
    let judged_by = crate::rules::checks::Context::of_entry(&entry, Some(&ctx.as_of), !ctx.simulation);
    crate::rules::explain::findings(iin, grounds, &family, &answers, &judged_by)
}
