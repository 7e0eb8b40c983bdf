//! What each source registry says about one IIN, as typed records. Parsing is validation:
//! unknown fields, wrong types or impossible dates make an answer malformed.

use serde::{Deserialize, Deserializer, Serialize};

/// A `YYYY-MM-DD` date that exists.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Date(pub String);

/// A value of a record's field that is not of its stated form (decision 13).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("{0:?} is not a real YYYY-MM-DD date")]
    NotARealDate(String),
    #[error("{0:?} is not a YYYY-MM-DD date")]
    NotADate(String),
    #[error("{0:?} is not an ISO 3166-1 alpha-2 country code in capitals (such as \"KZ\")")]
    NotACountry(String),
    #[error("{0:?} is not an ISO 3166-1 alpha-2 country code in capitals (such as \"KZ\"), nor \"stateless\"")]
    NotACitizenship(String),
    #[error("{0:?} is not a КАТО code (nine digits)")]
    NotAKato(String),
}

/// A registry's record about one IIN that is not one the registry could give.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A field not of its form, named by its path (none for the record as a whole).
    #[error("{}{detail}", path.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
    Field { path: Option<String>, detail: String },
    #[error("marriage.spouse_iin: {0} is named as his own spouse")]
    OwnSpouse(String),
    #[error("children: {0} is named as his own child")]
    OwnChild(String),
    #[error("{path}.until: {until} is before its since {since}")]
    OutOfOrder { path: String, until: String, since: String },
}

impl Date {
    pub fn parse(s: &str) -> Result<Self, FormError> {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| FormError::NotARealDate(s.into()))?;
        if s.len() != 10 {
            return Err(FormError::NotADate(s.into()));
        }
        Ok(Self(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Date::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

use super::iin::Iin;

/// ISO 3166-1 alpha-2 codes (decision 13), from `rules/reference/`, with their source.
const ISO_3166_1: &str = include_str!("../../../rules/reference/iso-3166-1-alpha-2.json");

fn iso_codes() -> &'static std::collections::BTreeSet<String> {
    static CODES: std::sync::OnceLock<std::collections::BTreeSet<String>> = std::sync::OnceLock::new();
    CODES.get_or_init(|| {
        let v: serde_json::Value = serde_json::from_str(ISO_3166_1).expect("the ISO 3166-1 list is valid JSON");
        v["codes"].as_array().expect("the list has codes").iter().map(|c| c.as_str().expect("codes are strings").to_string()).collect()
    })
}

/// A country as ISO 3166-1 alpha-2, in capitals (`KZ`): a code of the published list, never a
/// name, a lower-case code or an empty string (decision 13).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CountryCode(pub String);

impl CountryCode {
    pub fn parse(s: &str) -> Result<Self, FormError> {
        if iso_codes().contains(s) {
            Ok(Self(s.to_string()))
        } else {
            Err(FormError::NotACountry(s.into()))
        }
    }

    pub fn is_kazakhstan(&self) -> bool {
        self.0 == "KZ"
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CountryCode::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Citizenship as ГБД ФЛ states it (decision 20): a country code, or `stateless` (лицо без
/// гражданства / азаматтығы жоқ адам), who is not a citizen of Kazakhstan.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Citizenship {
    Country(CountryCode),
    Stateless,
}

impl Citizenship {
    pub const STATELESS: &'static str = "stateless";

    pub fn parse(s: &str) -> Result<Self, FormError> {
        if s == Self::STATELESS {
            return Ok(Self::Stateless);
        }
        CountryCode::parse(s).map(Self::Country).map_err(|_| FormError::NotACitizenship(s.into()))
    }

    pub fn is_kazakhstan(&self) -> bool {
        matches!(self, Self::Country(c) if c.is_kazakhstan())
    }
}

impl Serialize for Citizenship {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Country(c) => c.serialize(s),
            Self::Stateless => s.serialize_str(Self::STATELESS),
        }
    }
}

impl<'de> Deserialize<'de> for Citizenship {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Citizenship::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A settlement's code in the Classifier of Administrative-Territorial Objects (КАТО): nine
/// digits (decision 19). Codes are what the sources send; none is invented here.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Kato(pub String);

impl Kato {
    pub fn parse(s: &str) -> Result<Self, FormError> {
        if s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_string()))
        } else {
            Err(FormError::NotAKato(s.into()))
        }
    }
}

impl<'de> Deserialize<'de> for Kato {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Kato::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marriage {
    pub spouse_iin: Iin,
    #[serde(default)]
    pub since: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Death {
    pub date: Date,
    #[serde(default)]
    pub record: Option<String>,
}

/// ЗАГС / АХАЖ (`zags`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zags {
    #[serde(default)]
    pub marriage: Option<Marriage>,
    #[serde(default)]
    pub children: Vec<Iin>,
    #[serde(default)]
    pub death: Option<Death>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub date: Option<Date>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub object: Option<String>,
}

/// ГосРеестр (`gosreestr`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gosreestr {
    #[serde(default)]
    pub privatization_contracts: Vec<Contract>,
}

/// Казреестр (`kazreestr`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kazreestr {
    #[serde(default)]
    pub shared_construction_contracts: Vec<Contract>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorStationHousing {
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub locality: Option<String>,
    #[serde(default)]
    pub kato: Option<Kato>,
    #[serde(default)]
    pub duty_station: Option<String>,
    #[serde(default)]
    pub since: Option<Date>,
    /// When it was handed back (decision 21); `None` while held.
    #[serde(default)]
    pub until: Option<Date>,
}

/// ИШ АС МР (`ish_as_mr`), for step 8.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IshAsMr {
    #[serde(default)]
    pub prior_station_housing: Vec<PriorStationHousing>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    PermanentUse,
    Ownership,
    TemporaryUse,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFundHousing {
    #[serde(default)]
    pub address: Option<String>,
    pub locality: String,
    #[serde(default)]
    pub kato: Option<Kato>,
    pub right: Right,
    #[serde(default)]
    pub since: Option<Date>,
    /// When permanent use ended (decision 21); `None` while held.
    #[serde(default)]
    pub until: Option<Date>,
}

/// ЕГКН (`egkn`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egkn {
    #[serde(default)]
    pub state_fund_housing: Vec<StateFundHousing>,
}

/// ГБД ФЛ (`gbd_fl`). An answer holds the fields asked for (decision 14), each of its stated
/// form (decision 13); a criterion whose field the answer does not state cannot be judged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GbdFl {
    #[serde(default)]
    pub citizenship: Option<Citizenship>,
    #[serde(default)]
    pub residence_country: Option<CountryCode>,
    #[serde(default)]
    pub declared_missing: Option<bool>,
    #[serde(default)]
    pub declared_dead: Option<bool>,
    #[serde(default)]
    pub legally_incapable: Option<bool>,
    #[serde(default)]
    pub imprisoned: Option<bool>,
}

impl GbdFl {
    /// Every field: what a fixture's full record must hold.
    pub const FIELDS: [&'static str; 6] = ["citizenship", "residence_country", "declared_missing", "declared_dead", "legally_incapable", "imprisoned"];
}

/// The six source registries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryId {
    IshAsMr,
    Zags,
    Gosreestr,
    Kazreestr,
    Egkn,
    GbdFl,
}

impl RegistryId {
    pub const ALL: [RegistryId; 6] = [RegistryId::IshAsMr, RegistryId::Zags, RegistryId::Gosreestr, RegistryId::Kazreestr, RegistryId::Egkn, RegistryId::GbdFl];

    pub fn as_str(self) -> &'static str {
        match self {
            RegistryId::IshAsMr => "ish_as_mr",
            RegistryId::Zags => "zags",
            RegistryId::Gosreestr => "gosreestr",
            RegistryId::Kazreestr => "kazreestr",
            RegistryId::Egkn => "egkn",
            RegistryId::GbdFl => "gbd_fl",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Checks the record of this registry about `iin` (`null` or absent means "no records"):
    /// every field of its stated form, named by its path where one is not (decision 13). A
    /// person named in his own family (his own spouse or child) makes the record malformed.
    pub fn validate_record(self, iin: &str, record: &serde_json::Value) -> Result<(), RecordError> {
        fn check<T: serde::de::DeserializeOwned + Serialize>(v: &serde_json::Value) -> Result<T, RecordError> {
            let positional = |path: Option<String>| RecordError::Field { path, detail: "invalid type: sequence, expected a record of named fields".into() };
            let typed: T = serde_path_to_error::deserialize(v).map_err(|e| {
                let path = e.path().to_string();
                RecordError::Field { path: (path != ".").then_some(path), detail: e.inner().to_string() }
            })?;
            // serde reads a struct from an array too, by position: where the typed record
            // writes an object, the record must have given one (a marriage is named fields).
            let written = serde_json::to_value(&typed).expect("records serialise");
            match crate::view::read_by_position(v, &written) {
                Some(path) => Err(positional((!path.is_empty()).then_some(path))),
                None => Ok(typed),
            }
        }
        match self {
            RegistryId::Zags => {
                let z: Zags = check(record)?;
                if z.marriage.as_ref().is_some_and(|m| m.spouse_iin.as_str() == iin) {
                    return Err(RecordError::OwnSpouse(iin.into()));
                }
                if z.children.iter().any(|c| c.as_str() == iin) {
                    return Err(RecordError::OwnChild(iin.into()));
                }
                Ok(())
            }
            RegistryId::Gosreestr => check::<Gosreestr>(record).map(drop),
            RegistryId::Kazreestr => check::<Kazreestr>(record).map(drop),
            RegistryId::IshAsMr => {
                let r: IshAsMr = check(record)?;
                r.prior_station_housing.iter().enumerate().try_for_each(|(i, h)| held_in_order(&format!("prior_station_housing[{i}]"), &h.since, &h.until))
            }
            RegistryId::Egkn => {
                let r: Egkn = check(record)?;
                r.state_fund_housing.iter().enumerate().try_for_each(|(i, h)| held_in_order(&format!("state_fund_housing[{i}]"), &h.since, &h.until))
            }
            RegistryId::GbdFl => check::<GbdFl>(record).map(drop),
        }
    }
}

/// A housing record cannot end before it began.
fn held_in_order(path: &str, since: &Option<Date>, until: &Option<Date>) -> Result<(), RecordError> {
    match (since, until) {
        (Some(s), Some(u)) if u < s => Err(RecordError::OutOfOrder { path: path.into(), until: u.0.clone(), since: s.0.clone() }),
        _ => Ok(()),
    }
}

impl std::fmt::Display for RegistryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
