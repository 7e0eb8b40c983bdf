//! Decision 16: an overturned decision's reinstatement submitted to ИШ АС МР, again until it
//! is acknowledged, and then the notice of reinstatement issued and delivered.

use super::*;

impl Appeals<'_> {
    /// Decision 16: submits an overturned decision's reinstatement to ИШ АС МР again, where it
    /// is not yet acknowledged; once it is, the notice of reinstatement goes out.
    pub async fn reinstate(&self, id: &str, by: &Caller) -> Result<Appeal> {
        require_named(by)?;
        let a = self.load(id).await?;
        match &a.resolved {
            Some((_, r)) if r.outcome == AppealOutcome::Overturned => {}
            _ => return Err(AppealError::WrongState(format!("appeal {id} has not overturned a decision; there is nothing to reinstate"))),
        }
        if a.events.iter().any(|e| e.kind == REINSTATEMENT_ACKNOWLEDGED) {
            return Err(AppealError::WrongState(format!("the reinstatement under appeal {id} is already acknowledged")));
        }
        self.reinstate_and_notify(&a).await?;
        self.ledger.checkpoint().await?;
        self.written(id).await
    }

    /// Asks ИШ АС МР to restore the person, recording each attempt; on its signed
    /// acknowledgement, issues and delivers the notice of reinstatement. Without one, the
    /// reinstatement stays pending and no notice goes out.
    pub(super) async fn reinstate_and_notify(&self, a: &Appeal) -> Result<()> {
        let resolved = a.resolved.as_ref().expect("an overturned appeal is resolved");
        let registries = self.registries.clone().unwrap_or_else(|| Arc::new(NoSource));
        let request =
            Reinstatement { iin: a.iin.clone(), procedure: a.procedure, appeal: a.id.clone(), restore: resolved.1.reinstated.clone().unwrap_or_default() };
        let tried = a.events.iter().filter(|e| e.kind == REINSTATEMENT_FAILED).count() as u32;
        let stream = appeal_stream(&a.id);
        for (next, attempt) in (a.next_seq()..).zip(tried + 1..=tried + REINSTATE_ATTEMPTS) {
            let request_id = format!("{}/reinstatement/{attempt}", a.id);
            let subjects = [a.iin.clone()];
            // Not asked at all where no acknowledgement could be accepted.
            let asked = if self.keys.pinned() {
                registries.reinstate(&request, &request_id).await
            } else {
                Err(crate::registry::RegistryFault::BadSignature(
                    "this server was started without a trust list of the sources' keys (--trust): it accepts no acknowledgement".into(),
                ))
            };
            let result = asked.and_then(|s| {
                // The borrowed records are not needed: only that the answer checks.
                check_answer(self.keys, RegistryId::IshAsMr, &request_id, AnswerKind::Acknowledgement(&subjects), &s)?;
                Ok(s)
            });
            let (appeal, iin, procedure, registry) = (a.id.clone(), a.iin.clone(), a.procedure.to_string(), RegistryId::IshAsMr.to_string());
            let event = match result {
                Ok(signed) => NewEvent::typed(
                    &stream,
                    ev::ReinstatementAcknowledged {
                        appeal,
                        iin,
                        procedure,
                        registry,
                        request_id,
                        attempt,
                        source_key: signed.source_key,
                        source_sig: signed.source_sig,
                        answer: signed.answer,
                    },
                ),
                Err(fault) => NewEvent::typed(
                    &stream,
                    ev::ReinstatementFailed { appeal, iin, procedure, registry, request_id, attempt, kind: fault.kind().into(), detail: fault.detail() },
                ),
            }
            .expecting(next);
            let acknowledged = event.kind == ev::ReinstatementAcknowledged::TYPE;
            let recorded = self.ledger.append(vec![event]).await.map_err(stream_conflict)?.remove(0);
            if acknowledged {
                return self.notify_reinstatement(a, &recorded).await;
            }
        }
        Ok(())
    }

    /// The notice of reinstatement, after ИШ АС МР acknowledged it (`ack`).
    async fn notify_reinstatement(&self, a: &Appeal, ack: &Event) -> Result<()> {
        let (resolved_event, resolved) = a.resolved.as_ref().expect("an overturned appeal is resolved");
        let mut fields = resolved.reinstated.clone().unwrap_or_default();
        fields["received_on"] = a.filing.received_on.clone().into();
        let text = notice::reinstatement(a.procedure, &fields);
        let notice = reinstatement_notice_id(&a.id);
        let issued = ev::NoticeIssued {
            run: None,
            notice: notice.clone(),
            kind: Some("reinstatement".into()),
            appeal: Some(a.id.clone()),
            iin: a.iin.clone(),
            procedure: a.procedure.to_string(),
            decision: Ref::Seq(resolved_event.seq),
            proposal: None,
            acknowledgement: Some(Ref::Seq(ack.seq)),
            text: ev::NoticeText { kk: text.kk, ru: text.ru },
            grounds: Vec::new(),
            simulation: None,
            explanation: None,
        };
        let issued = self.ledger.append(vec![NewEvent::typed(notice_stream(&notice), issued).expecting(0)]).await.map_err(stream_conflict)?.remove(0);
        self.deliver(&issued).await
    }

    /// Delivers a reinstatement notice through ИШ АС МР, recording every attempt.
    async fn deliver(&self, issued: &Event) -> Result<()> {
        let Some(registries) = &self.registries else { return Ok(()) };
        let issued: ev::NoticeIssued = decoded(issued)?;
        let max = crate::pipeline::MAX_DELIVERY_ATTEMPTS;
        for attempt in 1..=max {
            let of = crate::pipeline::DeliveryOf { run: None, appeal: issued.appeal.clone() };
            let event = crate::pipeline::attempt_delivery(registries.as_ref(), &issued.notice, &issued.iin, attempt, max, of).await;
            let delivered = event.kind == NOTICE_DELIVERED;
            self.ledger.append(vec![event]).await?;
            if delivered {
                break;
            }
        }
        Ok(())
    }
}
