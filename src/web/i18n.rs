//! The pages' words in Kazakh and Russian, kept as data (`labels.json`: key → [kk, ru]), so
//! that a translator reviews one file. A key with no label shows as itself.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Kk,
    Ru,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kk" => Some(Lang::Kk),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }
}

fn labels() -> &'static HashMap<String, [String; 2]> {
    static LABELS: OnceLock<HashMap<String, [String; 2]>> = OnceLock::new();
    LABELS.get_or_init(|| serde_json::from_str(include_str!("labels.json")).expect("labels.json maps keys to [kk, ru]"))
}

/// The label of `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    match labels().get(key) {
        Some([kk, ru]) => if lang == Lang::Kk { kk } else { ru }.clone(),
        None => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_both_languages() {
        for (k, [kk, ru]) in labels() {
            assert!(!kk.trim().is_empty() && !ru.trim().is_empty(), "{k} lacks a language");
        }
        assert_eq!(t(Lang::Ru, "removed"), "снят с учёта");
        assert_eq!(t(Lang::Kk, "no-such-key"), "no-such-key");
    }
}
