//! Step 11: the formed list goes to ИШ АС МР, and each person's decision comes back signed
//! (decision 9), by an identified official (decision 15).

use super::person::Batch;
use super::*;

/// Proposals in one part of the list submission: a bundle carries one part (about 4 KB), where
/// one event of the whole list grew with the run (430 KB at 500,000 persons, in every bundle).
pub const LIST_PART: usize = 500;

impl<'a> Runner<'a> {
    /// Step 11: the formed list goes to ИШ АС МР.
    pub(super) async fn submit(&mut self) -> Result<(), PipelineError> {
        if self.progress.submitted.is_some() {
            return Ok(());
        }
        let proposals: Vec<Ref> = self.progress.proposals.iter().map(|(_, s)| Ref::Seq(*s)).collect();
        // Decision 24: the conflicting entries go back to the list's keeper with the list.
        let rejected = self.ledger.log().read_stream(&self.run_stream(), Some(INPUT_REJECTED)).await?;
        let conflicts: Vec<Ref> = rejected
            .iter()
            .filter(|e| e.as_type::<ev::InputRejected>().is_some_and(|r| r.reasons.iter().any(|why| why.starts_with(super::list::CONFLICTING_ENTRIES))))
            .map(|e| Ref::Seq(e.seq))
            .collect();
        // One append: the run's projection sees the whole list submitted, or none of it.
        let parts: Vec<&[Ref]> = if proposals.is_empty() { vec![&[]] } else { proposals.chunks(self.settings.list_part.max(1)).collect() };
        let n = parts.len() as u64;
        let submitted = parts
            .into_iter()
            .enumerate()
            .map(|(k, part)| {
                let e = ev::ListSubmitted {
                    run: self.ctx.run.clone(),
                    procedure: self.ctx.procedure.to_string(),
                    proposals: part.to_vec(),
                    rule_set_sha256: self.ctx.rules.sha256.clone(),
                    part: Some(k as u64 + 1),
                    parts: Some(n),
                    conflicts: if k == 0 { conflicts.clone() } else { Vec::new() },
                };
                NewEvent::typed(self.run_stream(), e)
            })
            .collect();
        self.append(submitted).await?;
        Ok(())
    }

    /// Decision 9: the decision is taken on the ИШ АС МР side, per person.
    pub(super) async fn decisions(&mut self) -> Result<(), PipelineError> {
        let ctx = self.ctx.clone();
        let pending: Vec<(String, u64)> = self.progress.proposals.iter().filter(|(iin, _)| !self.progress.decided.contains_key(iin)).cloned().collect();
        self.ui.stage("decisions");
        let mut appends = Appends::new(self.ledger);
        for (k, chunk) in pending.chunks(self.settings.decisions_per_request).enumerate() {
            let iins: Vec<String> = chunk.iter().map(|(i, _)| i.clone()).collect();
            let request_id = format!("{}/decisions/{}/{k}", ctx.run, chunk[0].1);
            let checked = ctx
                .registries
                .decisions(ctx.procedure, &iins, &request_id)
                .await
                .and_then(|s| check_answer(&ctx.keys, RegistryId::IshAsMr, &request_id, AnswerKind::Decisions(&iins), &s).cloned().map(|r| (s, r)));
            let (signed, records) = match checked {
                Ok(x) => x,
                Err(fault) => {
                    let ev = NewEvent::typed(self.run_stream(), fault.failed(&ctx.run, RegistryId::IshAsMr, &request_id, "11"));
                    self.queue(&mut appends, vec![ev]).await?;
                    self.settle(&mut appends).await?;
                    return Err(PipelineError::Decisions(fault));
                }
            };
            let signed_items = signed.item_sigs.clone();
            let mut b = Batch::default();
            let answer_ix =
                b.push(&self.run_stream(), ev::RegistryResponded { step: Some("11".into()), ..signed.responded(&ctx.run, RegistryId::IshAsMr, &request_id) });
            for (iin, proposal) in chunk {
                // A missing or unreadable decision leaves the proposal open for the next run.
                let Some((d, outcome)) =
                    records.get(iin).and_then(|v| serde_json::from_value::<Decision>(v.clone()).ok()).and_then(|d| d.known().map(|o| (d, o)))
                else {
                    continue;
                };
                // Decision 15: no identified official, no decision (and so no notice).
                let official = match d.official() {
                    Ok(o) => o,
                    Err(why) => {
                        b.push(
                            &person_stream(iin),
                            ev::DecisionNotTaken {
                                run: ctx.run.clone(),
                                procedure: ctx.procedure.to_string(),
                                proposal: *proposal,
                                outcome,
                                reason: why.to_string(),
                                evidence: vec![Ref::at(answer_ix)],
                            },
                        );
                        continue;
                    }
                };
                // Evidence per person: the decision as the source sent it, with its own signature.
                let taken = ev::DecisionTaken {
                    run: ctx.run.clone(),
                    procedure: ctx.procedure.to_string(),
                    proposal: Ref::Seq(*proposal),
                    outcome,
                    decided_by: official.name.clone(),
                    official: Some(official.record()),
                    body: d.by.clone().into(),
                    reference: d.reference.clone(),
                    evidence: Some(vec![Ref::at(answer_ix)]),
                    decision: Some(records[iin].clone()),
                    decision_sig: signed_items.get(iin).cloned().into(),
                    simulation: ctx.simulation.then_some(true),
                };
                b.push(&person_stream(iin), taken);
            }
            self.queue(&mut appends, b.events).await?;
        }
        self.settle(&mut appends).await
    }
}
