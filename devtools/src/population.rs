//! A synthetic population, made on demand from a seed: recipients on both lists with families,
//! localities, and realistic shares of every ground, of no-consent and malformed entries, of
//! registry faults, declined decisions and failing deliveries. Nothing is stored: a person is
//! regenerated from the index that his IIN encodes, so memory stays flat however large the
//! population. It can also be written out as a fixture file (for `registry-sim`).

use crate::sim::Source;
use chrono::{Datelike, NaiveDate};
use housing_ledger::registry::fixture::FaultKind;
use housing_ledger::registry::{Decision, Official};
use housing_ledger::rules::iin::check_digit;
use housing_ledger::rules::records::RegistryId;
use housing_ledger::rules::Procedure;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

pub const LOCALITIES: &[&str] = &["Астана", "Алматы", "Шымкент", "Караганда", "Актобе", "Семей", "Талдыкорган"];
/// The synthetic settlements' КАТО codes, as a source would send them with the names (decision
/// 19; the service keeps no classifier and compares only codes). Synthetic data: these stand in
/// for the codes the real registries send.
const KATO: &[&str] = &["710000000", "750000000", "790000000", "351010000", "151010000", "632810000", "191010000"];

/// The code of a synthetic settlement.
fn kato_of(locality: &str) -> &'static str {
    LOCALITIES.iter().position(|l| *l == locality).map_or("000000000", |i| KATO[i])
}
const SURNAMES: &[&str] = &["Ахметов", "Жумабаев", "Сапаров", "Ким", "Иванов", "Нурланов", "Бекова", "Омарова", "Тулегенов", "Садыков"];
const NAMES: &[&str] = &["Ерлан", "Айгерим", "Нурлан", "Данияр", "Марат", "Динара", "Асель", "Сергей", "Гульнара", "Арман"];
/// Serials per birth date (IIN digits 8-11 range over 1000..9999).
const PER_DAY: u64 = 9000;

/// Who an IIN belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Recipient,
    Spouse,
    Child(u8),
}

/// splitmix64: a small, well-mixed PRNG; one stream per person.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, procedure: Procedure, index: u64) -> Self {
        Self(seed ^ (index.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ if procedure == Procedure::LeaseTermination { 0xA5A5_5A5A } else { 0 })
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

/// A generated person and everything the registries say about his family.
#[derive(Clone, Debug, Default)]
pub struct Person {
    pub entry: Value,
    pub iin: String,
    pub records: BTreeMap<(RegistryId, String), Value>,
    pub fault: Option<(RegistryId, String, FaultKind)>,
    pub decision: Option<Decision>,
    pub delivery_faults: u32,
}

/// Persons kept generated at most (a person is asked about several times in a row).
const CACHE: usize = 4096;

#[derive(Clone, Debug)]
pub struct Population {
    /// Recipients per procedure.
    pub registry_removal: u64,
    pub lease_termination: u64,
    pub seed: u64,
    cache: std::sync::Arc<std::sync::Mutex<PersonCache>>,
}

/// Persons already made, by procedure and index.
type PersonCache = std::collections::HashMap<(Procedure, u64), std::sync::Arc<Person>>;

fn window(procedure: Procedure, role: Role) -> (i32, u8) {
    let lt = procedure == Procedure::LeaseTermination;
    match role {
        Role::Recipient => (if lt { 1975 } else { 1965 }, 3),
        Role::Spouse => (if lt { 1977 } else { 1967 }, 4),
        Role::Child(k) => (2005 + 3 * k as i32, if lt { 6 } else { 5 }),
    }
}

/// The IIN of person `index` in `role`; an index whose digits admit no check digit gets a wrong
/// one (such entries are the population's share of malformed IINs).
pub fn iin_of(procedure: Procedure, role: Role, index: u64) -> String {
    let (year, digit) = window(procedure, role);
    let date = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid") + chrono::Days::new(index / PER_DAY);
    let serial = 1000 + index % PER_DAY;
    // Digit by digit rather than through `format!`: the simulated registries call this for
    // every subject of every query.
    let (yy, mm, dd) = (date.year() as u64 % 100, date.month() as u64, date.day() as u64);
    let mut d = [0u8; 12];
    for (at, value, width) in [(0, yy, 2), (2, mm, 2), (4, dd, 2), (6, digit as u64, 1), (7, serial, 4)] {
        let mut v = value;
        for k in (at..at + width).rev() {
            d[k] = (v % 10) as u8;
            v /= 10;
        }
    }
    // Where no check digit exists, 0 is as good as any: the IIN fails the control either way.
    d[11] = check_digit(d[..11].try_into().expect("11 digits")).unwrap_or(0);
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

/// Decodes an IIN back to (procedure, role, index).
pub fn decode(iin: &str) -> Option<(Procedure, Role, u64)> {
    let b = iin.as_bytes();
    if b.len() != 12 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| iin[r].parse::<u32>().ok();
    let digit = b[6] - b'0';
    let century = match digit {
        3 | 4 => 1900,
        5 | 6 => 2000,
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(century + n(0..2)? as i32, n(2..4)?, n(4..6)?)?;
    let serial = n(7..11)? as u64;
    if serial < 1000 {
        return None;
    }
    for procedure in Procedure::ALL {
        for role in [Role::Recipient, Role::Spouse, Role::Child(0), Role::Child(1), Role::Child(2)] {
            let (year, d) = window(procedure, role);
            let start = NaiveDate::from_ymd_opt(year, 1, 1)?;
            let days = (date - start).num_days();
            if d == digit && (0..=700).contains(&days) {
                let index = days as u64 * PER_DAY + (serial - 1000);
                return (iin_of(procedure, role, index) == iin).then_some((procedure, role, index));
            }
        }
    }
    None
}

fn clean_gbd() -> Value {
    json!({"citizenship": "KZ", "residence_country": "KZ", "declared_missing": false, "declared_dead": false, "legally_incapable": false, "imprisoned": false})
}

impl Population {
    pub fn new(per_procedure: u64, seed: u64) -> Self {
        Self::with_sizes(per_procedure, per_procedure, seed)
    }

    pub fn with_sizes(registry_removal: u64, lease_termination: u64, seed: u64) -> Self {
        Self { registry_removal, lease_termination, seed, cache: Default::default() }
    }

    pub fn size(&self, procedure: Procedure) -> u64 {
        match procedure {
            Procedure::RegistryRemoval => self.registry_removal,
            Procedure::LeaseTermination => self.lease_termination,
        }
    }

    /// Generates recipient `index` of `procedure` with his family and their records.
    pub fn person(&self, procedure: Procedure, index: u64) -> Person {
        let mut r = Rng::new(self.seed, procedure, index);
        let iin = iin_of(procedure, Role::Recipient, index);
        let locality = *r.pick(LOCALITIES);
        let mut entry = json!({"iin": iin, "surname": r.pick(SURNAMES), "name": r.pick(NAMES), "patronymic": "Серикович", "category": if r.unit() < 0.8 { "serviceman" } else { "civilian" }, "locality": locality, "kato": kato_of(locality), "consent": r.unit() >= 0.03});
        match procedure {
            Procedure::RegistryRemoval => {
                entry["queue_number"] = json!(1000 + index);
                entry["registered_on"] =
                    json!(if r.unit() < 0.005 { "2019-02-30".to_string() } else { format!("20{:02}-{:02}-01", 10 + r.next() % 15, 1 + r.next() % 12) });
            }
            Procedure::LeaseTermination => {
                entry["lease_contract"] = json!(format!("СЖ-{}-{:05}", 2015 + r.next() % 10, index));
                entry["address"] = json!(format!("{locality}, ул. Казахстан, д. {}, кв. {}", 1 + r.next() % 200, 1 + r.next() % 90));
            }
        }
        let mut p = Person { entry, iin: iin.clone(), ..Default::default() };
        let valid = |i: &String| housing_ledger::rules::iin::Iin::parse(i).is_ok();
        if !valid(&iin) {
            // A malformed IIN: the registries know nothing under it.
            return p;
        }
        let spouse = (r.unit() < 0.7).then(|| iin_of(procedure, Role::Spouse, index)).filter(valid);
        let n_children = match r.unit() {
            x if x < 0.3 => 0,
            x if x < 0.6 => 1,
            x if x < 0.9 => 2,
            _ => 3,
        };
        let children: Vec<String> = (0..n_children).map(|k| iin_of(procedure, Role::Child(k), index)).filter(valid).collect();
        let mut zags = json!({});
        if let Some(s) = &spouse {
            zags["marriage"] = json!({"spouse_iin": s, "since": "2010-06-12"});
        }
        if !children.is_empty() {
            zags["children"] = json!(children);
        }
        if zags.as_object().is_some_and(|m| !m.is_empty()) {
            p.records.insert((RegistryId::Zags, iin.clone()), zags);
        }
        let family: Vec<String> = spouse.iter().cloned().chain(children.iter().cloned()).collect();
        for who in std::iter::once(&iin).chain(family.iter()) {
            p.records.insert((RegistryId::GbdFl, who.clone()), clean_gbd());
        }
        // Someone in the family, for grounds that may concern a family member.
        let anyone = |r: &mut Rng| if family.is_empty() || r.unit() < 0.5 { iin.clone() } else { r.pick(&family).clone() };
        holding(&mut p, &mut r, index, locality, &anyone);
        if r.unit() < 0.003 {
            let who = anyone(&mut r);
            p.records.remove(&(RegistryId::GbdFl, who));
        }
        if r.unit() < 0.015 {
            let registry = *r.pick(&RegistryId::ALL);
            let kind = *r.pick(&[FaultKind::Unavailable, FaultKind::Timeout, FaultKind::Malformed, FaultKind::BadSignature]);
            p.fault = Some((registry, iin.clone(), kind));
        }
        if r.unit() < 0.05 {
            let unit = 10000 + r.next() % 90000;
            p.decision = Some(Decision {
                outcome: "declined".into(),
                by: Some(format!("housing commission, unit {unit}")),
                reference: Some(format!("prot. {}", r.next() % 100)),
                official: Some(Official { position: format!("chairman, housing commission, unit {unit}"), ..demo_official() }),
            });
        }
        p.delivery_faults = match r.unit() {
            x if x < 0.005 => 9,
            x if x < 0.045 => 1 + (r.next() % 2) as u32,
            _ => 0,
        };
        p
    }

    fn owner(&self, iin: &str) -> Option<std::sync::Arc<Person>> {
        let (procedure, _, index) = decode(iin)?;
        if index >= self.size(procedure) {
            return None;
        }
        let mut cache = self.cache.lock().expect("cache lock");
        if let Some(p) = cache.get(&(procedure, index)) {
            return Some(p.clone());
        }
        if cache.len() >= CACHE {
            cache.clear();
        }
        let p = std::sync::Arc::new(self.person(procedure, index));
        cache.insert((procedure, index), p.clone());
        Some(p)
    }

    /// Writes the population as a fixture file, one person at a time.
    pub fn write_fixture(&self, out: &mut impl Write) -> std::io::Result<()> {
        let mut registries: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
        let (mut decisions, mut delivery, mut faults) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
        write!(out, "{{\"format\": \"{}\", \"segments\": {{", housing_ledger::registry::fixture::FIXTURE_FORMAT)?;
        for (n, procedure) in Procedure::ALL.into_iter().enumerate() {
            write!(out, "{}\"{procedure}\": [", if n > 0 { ", " } else { "" })?;
            for i in 0..self.size(procedure) {
                let p = self.person(procedure, i);
                write!(out, "{}{}", if i > 0 { ", " } else { "" }, p.entry)?;
                for ((r, who), rec) in p.records {
                    registries.entry(r.as_str()).or_default().insert(who, rec);
                }
                if let Some(d) = p.decision {
                    decisions.insert(p.iin.clone(), d);
                }
                if p.delivery_faults > 0 {
                    delivery.insert(p.iin.clone(), p.delivery_faults);
                }
                if let Some((r, who, kind)) = p.fault {
                    faults.push(json!({"registry": r, "iin": who, "kind": kind_name(kind)}));
                }
            }
            write!(out, "]")?;
        }
        write!(
            out,
            "}}, \"registries\": {}, \"decisions\": {}, \"default_official\": {}, \"delivery_faults\": {}, \"faults\": {}}}",
            json!(registries),
            json!(decisions),
            json!(demo_official()),
            json!(delivery),
            json!(faults)
        )?;
        Ok(())
    }
}

/// The simulated official who confirms every proposal not otherwise decided (decision 15).
pub fn demo_official() -> Official {
    let id = (0..10000u16).find_map(|serial| housing_ledger::rules::iin::Iin::build(1970, 3, 4, 3, serial)).expect("some serial gives a valid IIN");
    Official { id, name: "Сейткали Б. Н. (simulated official)".into(), position: "chairman, central housing commission (simulated)".into() }
}

fn kind_name(k: FaultKind) -> &'static str {
    match k {
        FaultKind::Unavailable => "unavailable",
        FaultKind::Timeout => "timeout",
        FaultKind::Malformed => "malformed",
        FaultKind::BadSignature => "bad_signature",
        FaultKind::SoapFault => "soap_fault",
        FaultKind::ErrorStatus => "error_status",
        FaultKind::OtherCorrelation => "other_correlation",
        FaultKind::WrappedSignature => "wrapped_signature",
    }
}

impl Source for Population {
    fn name(&self) -> String {
        format!("synthetic:{}:{}", self.registry_removal, self.seed)
    }

    fn entries(&self, procedure: Procedure, start: usize, len: usize) -> (Vec<Value>, bool) {
        let n = self.size(procedure);
        let end = (start as u64 + len as u64).min(n);
        ((start as u64..end).map(|i| self.person(procedure, i).entry).collect(), end < n)
    }

    fn record(&self, registry: RegistryId, iin: &str) -> Option<Value> {
        self.owner(iin)?.records.get(&(registry, iin.to_string())).cloned()
    }

    fn fault(&self, registry: RegistryId, subjects: &[String]) -> Option<FaultKind> {
        let owner = self.owner(subjects.first()?)?;
        owner.fault.as_ref().filter(|(r, who, _)| *r == registry && subjects.contains(who)).map(|(_, _, k)| *k)
    }

    fn decision(&self, iin: &str) -> Option<Decision> {
        self.owner(iin)?.decision.clone()
    }

    fn default_official(&self) -> Option<Official> {
        Some(demo_official())
    }

    fn delivery_faults(&self, iin: &str) -> u32 {
        self.owner(iin).map_or(0, |p| p.delivery_faults)
    }
}

/// What a person (or someone in his family, through `anyone`) holds, drawn in a fixed order so
/// that a seed always gives the same population: about 6% privatized housing, 4% shared
/// construction, 3% station housing (a third handed back), 6% state-fund housing, 6% a
/// criterion failing in the person database.
fn holding(p: &mut Person, r: &mut Rng, index: u64, locality: &'static str, anyone: &dyn Fn(&mut Rng) -> String) {
    let x = r.unit();
    if x < 0.06 {
        p.records.insert(
            (RegistryId::Gosreestr, anyone(r)),
            json!({"privatization_contracts": [{"number": format!("П-{index}"), "date": "2004-05-06", "address": format!("{locality}, мкр. 5")}]}),
        );
    } else if x < 0.10 {
        p.records.insert(
            (RegistryId::Kazreestr, anyone(r)),
            json!({"shared_construction_contracts": [{"number": format!("ДДУ-{index}"), "date": "2022-03-01", "object": "ЖК Алатау"}]}),
        );
    } else if x < 0.13 {
        p.records.insert(
            (RegistryId::IshAsMr, anyone(r)),
            // A third of it handed back years ago: history, not a ground (decision 21).
            json!({"prior_station_housing": [{"address": "Балхаш, в/ч 41", "locality": "Балхаш", "kato": "102010000", "duty_station": "в/ч 41", "since": "2012-09-01",
                   "until": if index.is_multiple_of(3) { json!("2016-08-31") } else { Value::Null }}]}),
        );
    } else if x < 0.19 {
        let y = r.unit();
        let (loc, right) = if y < 0.6 {
            (locality, "permanent_use")
        } else if y < 0.8 {
            (*r.pick(LOCALITIES), "permanent_use")
        } else {
            (locality, "ownership")
        };
        // Астана recorded under its 2019-2022 name now and then: the same code, the same
        // settlement (decision 19).
        let shown = if loc == "Астана" && index.is_multiple_of(2) { "Нур-Султан" } else { loc };
        p.records.insert(
            (RegistryId::Egkn, anyone(r)),
            json!({"state_fund_housing": [{"address": format!("{shown}, ул. Абая 1"), "locality": shown, "kato": kato_of(loc), "right": right, "since": "2017-01-01"}]}),
        );
    } else if x < 0.25 {
        let (who, field, value) = match r.next() % 6 {
            0 => (anyone(r), "declared_dead", json!(true)),
            1 => (p.iin.clone(), "citizenship", json!(if index.is_multiple_of(2) { "stateless" } else { "RU" })),
            2 => (p.iin.clone(), "residence_country", json!("DE")),
            3 => (p.iin.clone(), "legally_incapable", json!(true)),
            4 => (anyone(r), "imprisoned", json!(true)),
            _ => (anyone(r), "declared_missing", json!(true)),
        };
        if let Some(g) = p.records.get_mut(&(RegistryId::GbdFl, who)) {
            g[field] = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iins_decode_to_their_person() {
        for procedure in Procedure::ALL {
            for role in [Role::Recipient, Role::Spouse, Role::Child(0), Role::Child(2)] {
                for index in [0u64, 1, 8999, 9000, 123_456, 999_999] {
                    let iin = iin_of(procedure, role, index);
                    if housing_ledger::rules::iin::Iin::parse(&iin).is_ok() {
                        assert_eq!(decode(&iin), Some((procedure, role, index)), "{iin}");
                    }
                }
            }
        }
    }

    #[test]
    fn shares_are_realistic() {
        let pop = Population::new(5000, 1);
        let people: Vec<Person> = (0..5000).map(|i| pop.person(Procedure::RegistryRemoval, i)).collect();
        let share = |f: &dyn Fn(&Person) -> bool| people.iter().filter(|p| f(p)).count() as f64 / 5000.0;
        let privatized = share(&|p| p.records.keys().any(|(r, _)| *r == RegistryId::Gosreestr));
        let no_consent = share(&|p| p.entry["consent"] == false);
        let bad_iin = share(&|p| housing_ledger::rules::iin::Iin::parse(&p.iin).is_err());
        assert!((0.04..0.08).contains(&privatized), "{privatized}");
        assert!((0.015..0.045).contains(&no_consent), "{no_consent}");
        assert!(bad_iin > 0.0 && bad_iin < 0.03, "{bad_iin}");
    }
}
