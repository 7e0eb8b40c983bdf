//! The registry simulator: answers as the six registries would, from a fixture, signed with
//! per-registry keys derived from a seed, faults included. Used in process by the fixture
//! adapter and over HTTP by `registry-sim`.

use super::fixture::{FaultKind, Fixture};
use super::{sign_answer, sim_signer, Decision, RegistryFault, SignedAnswer};
use crate::rules::records::RegistryId;
use crate::rules::Procedure;
use events::LedgerSigner;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Entries per page of the step-4 list.
pub const LIST_PAGE: usize = 500;

/// Every answer the simulator can give; `Fault::Timeout` is the caller's to turn into silence.
pub struct Simulator {
    pub fixture: Arc<Fixture>,
    signers: BTreeMap<RegistryId, LedgerSigner>,
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Simulator {
    pub fn new(fixture: Arc<Fixture>, seed: &str) -> Self {
        Self {
            fixture,
            signers: RegistryId::ALL
                .iter()
                .map(|r| (*r, sim_signer(seed, *r)))
                .collect(),
        }
    }

    /// Signs `records`, then spoils the answer as the fault says.
    fn answer(
        &self,
        registry: RegistryId,
        subjects: &[String],
        request_id: &str,
        records: Value,
    ) -> Result<SignedAnswer, RegistryFault> {
        let fault = self.fixture.fault(registry, subjects);
        match fault {
            Some(FaultKind::Unavailable) => {
                return Err(RegistryFault::Unavailable(format!(
                    "{registry} answered with an error"
                )))
            }
            Some(FaultKind::Timeout) => {
                return Err(RegistryFault::Timeout(format!(
                    "{registry} did not answer within the deadline"
                )))
            }
            _ => {}
        }
        let records = if fault == Some(FaultKind::Malformed) {
            // Records that fail validation: a record of the wrong shape for each subject.
            Value::Object(
                subjects
                    .iter()
                    .map(|s| (s.clone(), json!({"unexpected": "garbled record"})))
                    .collect(),
            )
        } else {
            records
        };
        let answer = json!({"registry": registry.as_str(), "request_id": request_id, "subjects": subjects, "issued_at": now(), "records": records});
        let mut signed = sign_answer(answer, &self.signers[&registry]);
        if fault == Some(FaultKind::BadSignature) {
            // Signed over different content: the signature no longer matches the answer.
            let mut other = signed.answer.clone();
            other["issued_at"] = json!("1970-01-01T00:00:00.000Z");
            signed.source_sig = sign_answer(other, &self.signers[&registry]).source_sig;
        }
        Ok(signed)
    }

    pub fn list_page(
        &self,
        procedure: Procedure,
        page: u64,
        request_id: &str,
    ) -> Result<SignedAnswer, RegistryFault> {
        let entries = self.fixture.entries(procedure);
        let start = (page as usize).saturating_mul(LIST_PAGE).min(entries.len());
        let end = (start + LIST_PAGE).min(entries.len());
        let next = (end < entries.len()).then_some(page + 1);
        let records = json!({"segment": procedure.as_str(), "page": page, "next_page": next, "entries": &entries[start..end]});
        self.answer(RegistryId::IshAsMr, &[], request_id, records)
    }

    pub fn query(
        &self,
        registry: RegistryId,
        subjects: &[String],
        request_id: &str,
    ) -> Result<SignedAnswer, RegistryFault> {
        let records: Map<String, Value> = subjects
            .iter()
            .filter_map(|s| {
                self.fixture
                    .record(registry, s)
                    .map(|r| (s.clone(), r.clone()))
            })
            .collect();
        self.answer(registry, subjects, request_id, Value::Object(records))
    }

    pub fn decisions(
        &self,
        _procedure: Procedure,
        iins: &[String],
        request_id: &str,
    ) -> Result<SignedAnswer, RegistryFault> {
        let records: Map<String, Value> = iins
            .iter()
            .map(|iin| {
                let d = self
                    .fixture
                    .decisions
                    .get(iin)
                    .cloned()
                    .unwrap_or(Decision {
                        outcome: "confirmed".into(),
                        by: "ИШ АС МР".into(),
                        reference: None,
                    });
                (
                    iin.clone(),
                    serde_json::to_value(d).expect("decisions serialise"),
                )
            })
            .collect();
        // Decisions are not subject to registry faults: they come back on the list's channel.
        let answer = json!({"registry": "ish_as_mr", "request_id": request_id, "subjects": iins, "issued_at": now(), "records": records});
        Ok(sign_answer(answer, &self.signers[&RegistryId::IshAsMr]))
    }

    /// Fails the first `delivery_faults[iin]` attempts.
    pub fn deliver(&self, notice: &str, iin: &str, attempt: u32) -> Result<String, String> {
        let fails = self.fixture.delivery_faults.get(iin).copied().unwrap_or(0);
        if attempt <= fails {
            Err(format!(
                "personal cabinet of {iin} did not accept notice {notice} (attempt {attempt})"
            ))
        } else {
            Ok(format!(
                "delivered to the personal cabinet on attempt {attempt}"
            ))
        }
    }
}
