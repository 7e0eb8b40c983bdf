//! A list entry as the source sent it, before the format-logical control (`control`, which reads
//! it member by member so as to name every bad field): so any member may be missing or of
//! another type, and each is read on its own, `None` where it is not one of its type.

use crate::view::{object_view, or_none};
use serde::Deserialize;
use serde_json::Value;

/// What the service and the verifier read of a received entry outside its control.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
pub struct EntryHead {
    #[serde(default, deserialize_with = "or_none")]
    pub iin: Option<String>,
    #[serde(default, deserialize_with = "or_none")]
    pub queue_number: Option<u64>,
    /// The settlement's name (decision 19: shown only).
    #[serde(default, deserialize_with = "or_none")]
    pub locality: Option<String>,
    /// Its КАТО code (decision 19: compared); a v1 entry has none.
    #[serde(default, deserialize_with = "or_none")]
    pub kato: Option<String>,
    /// When the person was put on the waiting list (registry removal).
    #[serde(default, deserialize_with = "or_none")]
    pub registered_on: Option<String>,
    /// The lease of service housing (lease termination).
    #[serde(default, deserialize_with = "or_none")]
    pub lease_contract: Option<String>,
    #[serde(default, deserialize_with = "or_none")]
    consent: Option<bool>,
}

impl EntryHead {
    /// The head of `entry`; an empty one where it is not an object.
    pub fn of(entry: &Value) -> Self {
        object_view(entry).unwrap_or_default()
    }

    /// Consent, given only as `true` (decision 14).
    pub fn consents(&self) -> bool {
        self.consent == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn consent_is_given_only_as_true() {
        let cases = [
            (json!({"iin": "1", "consent": true}), true),
            (json!({"iin": "1", "consent": false}), false),
            (json!({"iin": "1"}), false),
            (json!({"iin": "1", "consent": "true"}), false),
            (json!({"iin": "1", "consent": null}), false),
            (json!("not an entry"), false),
            (json!([true]), false),
        ];
        for (entry, given) in cases {
            assert_eq!(EntryHead::of(&entry).consents(), given, "{entry}");
        }
    }

    #[test]
    fn each_member_is_read_on_its_own() {
        let head = |v: Value| EntryHead::of(&v);
        let full = head(json!({"iin": "850101300124", "queue_number": 17, "locality": "Астана", "kato": "711000000", "consent": true}));
        assert_eq!(
            full,
            EntryHead {
                iin: Some("850101300124".into()),
                queue_number: Some(17),
                locality: Some("Астана".into()),
                kato: Some("711000000".into()),
                registered_on: None,
                lease_contract: None,
                consent: Some(true)
            }
        );
        assert_eq!(head(json!({"iin": 850101300124u64, "queue_number": "17", "kato": 711000000})), EntryHead::default(), "of another type: none");
        let some = head(json!({"iin": "1", "queue_number": -3, "locality": "Косшы", "registered_on": "2015-03-02", "lease_contract": 7}));
        assert_eq!((some.iin.as_deref(), some.queue_number, some.locality.as_deref(), some.kato), (Some("1"), None, Some("Косшы"), None));
        assert_eq!((some.registered_on.as_deref(), some.lease_contract), (Some("2015-03-02"), None));
        assert_eq!(head(json!(["850101300124", 17, "Астана"])), EntryHead::default(), "not an object");
    }
}
