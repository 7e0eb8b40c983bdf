//! An appeal's corrections (decision 16's other side): a source owner's signed correction
//! received and checked like any answer, the corrections the registries issued about the
//! person and his family, and one accepted into the appeal.

use super::*;

impl Appeals<'_> {
    /// Receives a source owner's signed correction; it is checked like any answer.
    pub async fn correction(&self, id: &str, c: &CorrectionFiling, by: &Caller) -> Result<Event> {
        require_named(by)?;
        let a = self.load(id).await?;
        a.open()?;
        let signed = SignedAnswer { item_sigs: Default::default(), ..c.signed.clone() };
        let person = self.ledger.log().read_stream(&person_stream(&a.iin), None).await?;
        let registry = Self::check_correction(self.keys, id, &c.registry, &signed, &appellant_and_family(&person, &a))?;
        let request_id = format!("{id}/{registry}");
        let received = ev::RegistryResponded {
            appeal: Some(id.to_string()),
            correction: Some(true),
            received_by: Some(actor(by)),
            ..signed.responded(&a.run, registry, &request_id)
        };
        let recorded = self.ledger.append(vec![NewEvent::typed(person_stream(&a.iin), received)]).await?.remove(0);
        crate::read_models::catch_up(self.ledger).await?;
        Ok(recorded)
    }

    /// The corrections the source owners issued about the appellant and his family (as the run
    /// fixed it), fetched from the registries; each checked as `correction` would check it.
    pub async fn issued_corrections(&self, id: &str) -> Result<Vec<IssuedCorrection>> {
        let a = self.load(id).await?;
        let person = self.ledger.log().read_stream(&person_stream(&a.iin), None).await?;
        let subjects = appellant_and_family(&person, &a);
        let registries = self.registries.clone().unwrap_or_else(|| Arc::new(NoSource));
        let issued = registries
            .corrections(id, &subjects)
            .await
            .map_err(|f| AppealError::SourceUnavailable(format!("the corrections could not be fetched from the registries: {f}")))?;
        let received: std::collections::BTreeMap<String, u64> = corrections_received(&person, id).map(|(e, c)| (c.source_sig, e.seq)).collect();
        Ok(issued
            .into_iter()
            .map(|signed| {
                let registry = crate::registry::AnswerHead::of(&signed.answer).registry.unwrap_or_default();
                let refused = Self::check_correction(self.keys, id, &registry, &signed, &subjects).err().map(|e| e.to_string());
                IssuedCorrection { received: received.get(&signed.source_sig).copied(), registry, signed, refused }
            })
            .collect())
    }

    /// Accepts the correction `registry`'s owner issued, the one with this source signature:
    /// it is fetched afresh and recorded as `correction` records one sent in.
    pub async fn accept_correction(&self, id: &str, registry: &str, source_sig: &str, by: &Caller) -> Result<Event> {
        let issued = self.issued_corrections(id).await?;
        let c = issued
            .into_iter()
            .find(|c| c.registry == registry && c.signed.source_sig == source_sig)
            .ok_or_else(|| AppealError::CorrectionRefused(format!("{registry} has issued no such correction about this appeal (withdrawn or never issued)")))?;
        if let Some(seq) = c.received {
            return Err(AppealError::WrongState(format!("this correction from {registry} was received already (#{seq})")));
        }
        let filing = CorrectionFiling { registry: c.registry, signed: c.signed };
        self.correction(id, &filing, by).await
    }

    /// A correction's answer checked like any answer, by the trusted key, to the request id
    /// `<appeal>/<registry>`, about the subjects it names.
    fn check_correction(keys: &TrustedKeys, id: &str, registry: &str, signed: &SignedAnswer, allowed: &[String]) -> Result<RegistryId> {
        if !keys.pinned() {
            return Err(AppealError::CorrectionRefused(
                "this server was started without a trust list of the sources' keys (--trust): it accepts no correction".into(),
            ));
        }
        let registry = RegistryId::parse(registry).ok_or_else(|| AppealError::CorrectionRefused(format!("unknown registry {registry:?}")))?;
        let subjects = subjects_of(&signed.answer);
        if subjects.is_empty() {
            return Err(AppealError::CorrectionRefused("the correction's answer names no subjects".into()));
        }
        // Only the appellant and the family his run fixed: a correction about anyone else has
        // no place in his case, whoever signed it.
        if let Some(other) = subjects.iter().find(|s| !allowed.contains(s)) {
            return Err(AppealError::CorrectionRefused(format!(
                "the correction is about {other}, who is neither the appellant nor a member of the family his run fixed"
            )));
        }
        check_answer(keys, registry, &format!("{id}/{registry}"), AnswerKind::Records(&subjects), signed).map_err(|f| {
            if let crate::registry::RegistryFault::BadSignature(why) = &f {
                let r = crate::security::Record::new(crate::security::Kind::SourceSignatureRefused, format!("{registry}, a correction for appeal {id}: {why}"));
                crate::security::record(r);
            }
            AppealError::CorrectionRefused(format!("the correction from {registry} is refused: {f}"))
        })?;
        Ok(registry)
    }
}
