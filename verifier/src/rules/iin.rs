//! The IIN and its format-logical control (decision 8 of `algorithm.md`; `000:17`).
//! 12 digits: YYMMDD, a century-and-sex digit, four serial digits, a check digit.

use std::fmt;

/// A checked IIN.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Iin(String);

/// Why an IIN fails the control; the message names the failed check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IinError {
    #[error("IIN must be 12 digits, got {0:?}")]
    Shape(String),
    #[error("IIN {0}: century-and-sex digit {1} is not 1 to 6")]
    Century(String, u8),
    #[error("IIN {0}: birth date {1} is not a real date")]
    BirthDate(String, String),
    #[error("IIN {0}: check digit does not match (expected {1})")]
    CheckDigit(String, String),
}

/// The check digit of the first 11 digits, or `None` where both passes give 10 (invalid).
pub fn check_digit(d: &[u8; 11]) -> Option<u8> {
    let first: u32 = d.iter().enumerate().map(|(i, x)| (i as u32 + 1) * *x as u32).sum::<u32>() % 11;
    if first != 10 {
        return Some(first as u8);
    }
    // Second pass: weights 3, 4, ..., 11, 1, 2.
    let second: u32 = d.iter().enumerate().map(|(i, x)| (((i as u32 + 2) % 11) + 1) * *x as u32).sum::<u32>() % 11;
    (second != 10).then_some(second as u8)
}

pub fn is_real_date(y: i32, m: u32, d: u32) -> bool {
    chrono::NaiveDate::from_ymd_opt(y, m, d).is_some()
}

impl Iin {
    pub fn parse(text: &str) -> Result<Self, IinError> {
        let b = text.as_bytes();
        if b.len() != 12 || !b.iter().all(u8::is_ascii_digit) {
            return Err(IinError::Shape(text.to_string()));
        }
        let d: Vec<u8> = b.iter().map(|c| c - b'0').collect();
        let century = match d[6] {
            1 | 2 => 1800,
            3 | 4 => 1900,
            5 | 6 => 2000,
            c => return Err(IinError::Century(text.into(), c)),
        };
        let (yy, mm, dd) = (d[0] as i32 * 10 + d[1] as i32, d[2] as u32 * 10 + d[3] as u32, d[4] as u32 * 10 + d[5] as u32);
        if !is_real_date(century + yy, mm, dd) {
            return Err(IinError::BirthDate(text.into(), format!("{:04}-{mm:02}-{dd:02}", century + yy)));
        }
        let first: [u8; 11] = d[..11].try_into().expect("12 digits");
        match check_digit(&first) {
            Some(c) if c == d[11] => Ok(Self(text.to_string())),
            Some(c) => Err(IinError::CheckDigit(text.into(), c.to_string())),
            None => Err(IinError::CheckDigit(text.into(), "none: the IIN cannot be valid".into())),
        }
    }

    /// Builds a valid IIN from a birth date, a century-and-sex digit and a serial, where one
    /// exists (used by the population generator).
    pub fn build(y: i32, m: u32, d: u32, sex_digit: u8, serial: u16) -> Option<Self> {
        let s = format!("{:02}{m:02}{d:02}{sex_digit}{serial:04}", y % 100);
        let digits: Vec<u8> = s.bytes().map(|c| c - b'0').collect();
        let c = check_digit(&digits[..11].try_into().ok()?)?;
        Self::parse(&format!("{s}{c}")).ok()
    }

    /// The birth date the IIN encodes (its first six digits and the century digit).
    pub fn birth_date(&self) -> chrono::NaiveDate {
        let d: Vec<i32> = self.0.bytes().map(|c| (c - b'0') as i32).collect();
        let century = match d[6] {
            1 | 2 => 1800,
            3 | 4 => 1900,
            _ => 2000,
        };
        chrono::NaiveDate::from_ymd_opt(century + d[0] * 10 + d[1], (d[2] * 10 + d[3]) as u32, (d[4] * 10 + d[5]) as u32)
            .expect("a parsed IIN has a real birth date")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Iin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Iin::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    fn check(input: &str, expect: Expect) {
        let got = match Iin::parse(input) {
            Ok(i) => format!("ok {i}"),
            Err(e) => format!("err {e}"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn iin_control() {
        check("850415350079", expect!["ok 850415350079"]);
        check("870602450144", expect!["ok 870602450144"]);
        check("120110550212", expect!["ok 120110550212"]);
        check("850415350078", expect!["err IIN 850415350078: check digit does not match (expected 9)"]);
        check("85041535007", expect![[r#"err IIN must be 12 digits, got "85041535007""#]]);
        check("85041535007a", expect![[r#"err IIN must be 12 digits, got "85041535007a""#]]);
        check("850415750079", expect!["err IIN 850415750079: century-and-sex digit 7 is not 1 to 6"]);
        check("850230350079", expect!["err IIN 850230350079: birth date 1985-02-30 is not a real date"]);
    }

    #[test]
    fn built_iins_are_valid() {
        for serial in 0..200 {
            if let Some(i) = Iin::build(1990, 7, 14, 3, serial) {
                assert!(Iin::parse(i.as_str()).is_ok());
            }
        }
    }
}
