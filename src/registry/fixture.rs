//! Registry fixtures (`shared/spec/registry-fixture.md`), read strictly: an unknown field, a bad
//! IIN or a record that does not validate is an error naming its place in the file.

use super::{Decision, Official};
use crate::rules::iin::Iin;
use crate::rules::records::RegistryId;
use crate::rules::Procedure;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub const FIXTURE_FORMAT: &str = "housing-ledger/registry-fixture/v2";
/// The format before КАТО codes, `until` and `stateless`: still read, its settlements
/// compared by name, and fit for no live decision.
const FIXTURE_FORMAT_V1: &str = "housing-ledger/registry-fixture/v1";

/// Fields a list entry may carry (both segments); their values are checked by the pipeline's
/// format-logical control, so that a bad entry becomes `invalid_input`, not a broken fixture.
const ENTRY_FIELDS: &[&str] =
    &["iin", "surname", "name", "patronymic", "category", "locality", "kato", "consent", "queue_number", "registered_on", "lease_contract", "address"];

#[derive(Debug, thiserror::Error)]
#[error("fixture {file}: {place}: {detail}")]
pub struct FixtureError {
    pub file: String,
    pub place: String,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Unavailable,
    Timeout,
    Malformed,
    BadSignature,
    /// The gateway's own faults (`docs/implementation/gateway.md`): a SOAP fault, an error
    /// `status/code`, a response to another request, a signature moved to a wrapper. Reached
    /// without the gateway they are what they amount to: unavailable, malformed, bad signature.
    SoapFault,
    ErrorStatus,
    OtherCorrelation,
    WrappedSignature,
}

impl FaultKind {
    /// What a gateway fault amounts to on a transport without the gateway.
    pub fn without_gateway(self) -> Self {
        match self {
            FaultKind::SoapFault | FaultKind::ErrorStatus => FaultKind::Unavailable,
            FaultKind::OtherCorrelation => FaultKind::Malformed,
            FaultKind::WrappedSignature => FaultKind::BadSignature,
            k => k,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    registry: String,
    iin: String,
    kind: FaultKind,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    format: String,
    segments: BTreeMap<String, Vec<Map<String, Value>>>,
    registries: BTreeMap<String, BTreeMap<String, Value>>,
    #[serde(default)]
    decisions: BTreeMap<String, Decision>,
    #[serde(default)]
    default_official: Option<Official>,
    #[serde(default)]
    delivery_faults: BTreeMap<String, u32>,
    #[serde(default)]
    faults: Vec<RawFault>,
}

/// A parsed, checked fixture.
#[derive(Clone, Debug, Default)]
pub struct Fixture {
    pub name: String,
    pub segments: BTreeMap<Procedure, Vec<Value>>,
    pub registries: BTreeMap<RegistryId, BTreeMap<String, Value>>,
    pub decisions: BTreeMap<String, Decision>,
    /// Who confirms every proposal not in `decisions` (decision 15); none: such a decision
    /// names no official, and the service takes none.
    pub default_official: Option<Official>,
    pub delivery_faults: BTreeMap<String, u32>,
    /// (registry, iin or "*", kind)
    pub faults: Vec<(RegistryId, String, FaultKind)>,
}

impl Fixture {
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FixtureError { file: name.clone(), place: "file".into(), detail: e.to_string() })?;
        Self::parse(&name, &text)
    }

    pub fn parse(name: &str, text: &str) -> Result<Self, FixtureError> {
        let err = |place: String, detail: String| FixtureError { file: name.to_string(), place, detail };
        let raw: RawFixture = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text)).map_err(|e| {
            let place = if e.path().to_string() == "." { format!("line {} column {}", e.inner().line(), e.inner().column()) } else { e.path().to_string() };
            err(place, e.into_inner().to_string())
        })?;
        if raw.format == FIXTURE_FORMAT_V1 {
            tracing::warn!(
                fixture = name,
                "the fixture is format v1: its settlements have no КАТО codes and compare by name, which no live decision may rely on (decision 19)"
            );
        } else if raw.format != FIXTURE_FORMAT {
            return Err(err("format".into(), format!("{:?} is neither {FIXTURE_FORMAT:?} nor {FIXTURE_FORMAT_V1:?}", raw.format)));
        }
        let iin = |place: String, s: &str| Iin::parse(s).map(|_| ()).map_err(|e| err(place, e.to_string()));
        let mut f = Fixture { name: name.to_string(), ..Default::default() };
        for (seg, entries) in raw.segments {
            let p = Procedure::parse(&seg).map_err(|e| err(format!("segments.{seg}"), e.to_string()))?;
            for (i, e) in entries.iter().enumerate() {
                if let Some(k) = e.keys().find(|k| !ENTRY_FIELDS.contains(&k.as_str())) {
                    return Err(err(format!("segments.{seg}[{i}]"), format!("unknown field {k:?} (known: {})", ENTRY_FIELDS.join(", "))));
                }
            }
            f.segments.insert(p, entries.into_iter().map(Value::Object).collect());
        }
        for (reg, records) in raw.registries {
            let r = RegistryId::parse(&reg)
                .ok_or_else(|| err(format!("registries.{reg}"), "unknown registry (expected ish_as_mr, zags, gosreestr, kazreestr, egkn, gbd_fl)".into()))?;
            for (k, rec) in &records {
                iin(format!("registries.{reg}[{k:?}]"), k)?;
                if rec.is_null() {
                    continue;
                }
                r.validate_record(k, rec).map_err(|e| err(format!("registries.{reg}[{k:?}]"), e.to_string()))?;
                // A fixture's person record is whole: a query may ask for any of its fields.
                if r == RegistryId::GbdFl {
                    if let Some(f) = crate::rules::records::GbdFl::FIELDS.iter().find(|f| rec.get(**f).is_none()) {
                        return Err(err(format!("registries.{reg}[{k:?}].{f}"), "missing".into()));
                    }
                }
            }
            f.registries.insert(r, records);
        }
        for (k, d) in &raw.decisions {
            iin(format!("decisions[{k:?}]"), k)?;
            if d.known().is_none() {
                return Err(err(format!("decisions[{k:?}].outcome"), format!("{:?} is neither confirmed nor declined", d.outcome)));
            }
            if let Some(o) = &d.official {
                o.check().map_err(|e| err(format!("decisions[{k:?}]"), e.to_string()))?;
            }
        }
        if let Some(o) = &raw.default_official {
            o.check().map_err(|e| err("default_official".into(), e.to_string()))?;
        }
        for k in raw.delivery_faults.keys() {
            iin(format!("delivery_faults[{k:?}]"), k)?;
        }
        for (i, fault) in raw.faults.iter().enumerate() {
            let r = RegistryId::parse(&fault.registry).ok_or_else(|| err(format!("faults[{i}].registry"), format!("unknown registry {:?}", fault.registry)))?;
            if fault.iin != "*" {
                iin(format!("faults[{i}].iin"), &fault.iin)?;
            }
            f.faults.push((r, fault.iin.clone(), fault.kind));
        }
        f.decisions = raw.decisions;
        f.default_official = raw.default_official;
        f.delivery_faults = raw.delivery_faults;
        Ok(f)
    }

    /// The fault that applies to asking `registry` about `subjects`, if any.
    pub fn fault(&self, registry: RegistryId, subjects: &[String]) -> Option<FaultKind> {
        self.faults.iter().find(|(r, iin, _)| *r == registry && (iin == "*" || subjects.contains(iin))).map(|(_, _, k)| *k)
    }

    pub fn record(&self, registry: RegistryId, iin: &str) -> Option<&Value> {
        self.registries.get(&registry).and_then(|m| m.get(iin)).filter(|v| !v.is_null())
    }

    pub fn entries(&self, procedure: Procedure) -> &[Value] {
        self.segments.get(&procedure).map(Vec::as_slice).unwrap_or(&[])
    }
}
