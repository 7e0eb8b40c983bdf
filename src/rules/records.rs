//! What each source registry says about one IIN, as typed records. Parsing is validation:
//! unknown fields, wrong types or impossible dates make an answer malformed.

use serde::{Deserialize, Deserializer, Serialize};

/// A `YYYY-MM-DD` date that exists.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Date(pub String);

impl Date {
    pub fn parse(s: &str) -> Result<Self, String> {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a real YYYY-MM-DD date"))?;
        if s.len() != 10 {
            return Err(format!("{s:?} is not a YYYY-MM-DD date"));
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
    pub duty_station: Option<String>,
    #[serde(default)]
    pub since: Option<Date>,
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
    pub right: Right,
    #[serde(default)]
    pub since: Option<Date>,
}

/// ЕГКН (`egkn`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egkn {
    #[serde(default)]
    pub state_fund_housing: Vec<StateFundHousing>,
}

/// ГБД ФЛ (`gbd_fl`). Every field is required: a criterion that cannot be read is not met.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GbdFl {
    pub citizenship: String,
    pub residence_country: String,
    pub declared_missing: bool,
    pub declared_dead: bool,
    pub legally_incapable: bool,
    pub imprisoned: bool,
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

    /// Checks one record of this registry (`null` or absent means "no records").
    pub fn validate_record(self, record: &serde_json::Value) -> Result<(), String> {
        fn check<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<(), String> {
            T::deserialize(v).map(|_| ()).map_err(|e| e.to_string())
        }
        match self {
            RegistryId::Zags => check::<Zags>(record),
            RegistryId::Gosreestr => check::<Gosreestr>(record),
            RegistryId::Kazreestr => check::<Kazreestr>(record),
            RegistryId::IshAsMr => check::<IshAsMr>(record),
            RegistryId::Egkn => check::<Egkn>(record),
            RegistryId::GbdFl => check::<GbdFl>(record),
        }
    }
}

impl std::fmt::Display for RegistryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
