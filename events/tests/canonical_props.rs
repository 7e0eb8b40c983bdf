//! Property test: the direct serde_json path of `canonical::value_to_vec` gives exactly the bytes
//! of the RFC 8785 canonicaliser, for values whose keys and strings mix ASCII, Cyrillic, controls,
//! characters just below U+E000 (lead byte 0xED), at U+E000 and above, and outside the BMP (where
//! UTF-8 and UTF-16 orders differ), and numbers inside and outside ±2^53, integral and not.

use events::canonical;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

fn text() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => Just('"'),
        1 => Just('\\'),
        1 => Just('\u{7f}'),
        2 => proptest::char::range('А', 'я'),
        1 => proptest::char::range('\u{d7f0}', '\u{d7ff}'),
        1 => proptest::char::range('\u{e000}', '\u{e010}'),
        1 => proptest::char::range('\u{fff0}', '\u{fffd}'),
        1 => proptest::char::range('\u{1f600}', '\u{1f610}'),
        1 => Just('\u{2028}'),
    ];
    proptest::collection::vec(ch, 0..6).prop_map(|cs| cs.into_iter().collect())
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-1000i64..1000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(Value::from(canonical::MAX_SAFE_INTEGER)),
        Just(Value::from(canonical::MAX_SAFE_INTEGER + 1)),
        Just(Value::from(-(canonical::MAX_SAFE_INTEGER as i64))),
        (-1e22f64..1e22).prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        Just(Value::Number(Number::from_f64(1e21).unwrap())),
        Just(Value::Number(Number::from_f64(0.1).unwrap())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::Bool), number(), text().prop_map(Value::String)];
    leaf.prop_recursive(3, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..6).prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn direct_path_writes_the_canonicalisers_bytes(v in value()) {
        let direct = canonical::value_to_vec(&v).unwrap();
        let reference = canonical::to_vec(&v).unwrap();
        prop_assert_eq!(String::from_utf8_lossy(&direct), String::from_utf8_lossy(&reference));
    }

    #[test]
    fn strings_are_written_as_the_canonicaliser_writes_them(s in text()) {
        let mut written = b"x".to_vec();
        canonical::write_str(&mut written, &s);
        prop_assert_eq!(&written[1..], &canonical::to_vec(&s).unwrap()[..]);
    }
}
