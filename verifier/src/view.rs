//! Typed views of JSON a source sent (`serde_json::Value`), read member by member: a member of
//! another type reads as `None` and leaves the others as they are, and only an object is a view
//! at all (serde would read a struct from an array by position).

use serde::Deserialize;
use serde_json::Value;

/// A view `T` of `v` when `v` is an object; `None` otherwise, or where it does not read as one.
/// serde reads a struct from an array too, member by position: `["gbd_fl", "r-1"]` read as an
/// answer whose registry is `gbd_fl`, and `[true]` as an entry that consents, where a member
/// looked up by name (as these views' readers did, and as the format means) finds nothing.
pub(crate) fn object_view<'v, T: Deserialize<'v>>(v: &'v Value) -> Option<T> {
    v.is_object().then(|| T::deserialize(v).ok()).flatten()
}

/// A member as `T`, or `None` where it is not one. Only for views read from a `Value`, where
/// each member's deserializer stands alone, so that a failed one leaves nothing half-read.
pub(crate) fn or_none<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(T::deserialize(d).ok())
}

/// Where `given` holds an array that its typed reading (`written`: the typed value written
/// back) has as an object, that is, a struct serde read by position: its path (`""` for
/// `given` itself); `None` if nowhere.
pub(crate) fn read_by_position(given: &Value, written: &Value) -> Option<String> {
    fn at(given: &Value, written: &Value, path: String) -> Option<String> {
        match (given, written) {
            (Value::Array(_), Value::Object(_)) => Some(path),
            (Value::Array(g), Value::Array(w)) => g.iter().zip(w).enumerate().find_map(|(i, (g, w))| at(g, w, format!("{path}[{i}]"))),
            (Value::Object(g), Value::Object(w)) => g.iter().find_map(|(k, g)| {
                let member = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                w.get(k).and_then(|w| at(g, w, member))
            }),
            _ => None,
        }
    }
    at(given, written, String::new())
}
