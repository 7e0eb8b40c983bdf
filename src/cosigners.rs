//! The witnesses a log sends its checkpoints to, as configured (`--witness VKEY=URL`,
//! `--witness-quorum`): their keys, addresses and quorum. Apart from `witness`, which talks to
//! them, so that the ledger can hold the list without depending on the exchange.

use events::cosignature::CosignerKey;
use std::time::Duration;

/// The log side: the witnesses every checkpoint goes to, and how many must cosign.
#[derive(Clone, Debug)]
pub struct Witnesses {
    pub witnesses: Vec<(CosignerKey, String)>,
    pub quorum: usize,
    pub timeout: Duration,
    pub attempts: u32,
    pub backoff: Duration,
}

/// A `--witness` or `--witness-quorum` value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WitnessSpecError {
    #[error("--witness {0:?}: expected VKEY=URL")]
    NotKeyUrl(String),
    #[error("--witness {spec:?}: {error}")]
    Key { spec: String, error: events::Error },
    #[error("--witness-quorum {quorum} is more than the {named} witnesses named")]
    QuorumTooLarge { quorum: usize, named: usize },
}

impl Witnesses {
    /// From `--witness VKEY=URL` values and `--witness-quorum` (default: every witness).
    pub fn parse(specs: &[String], quorum: Option<usize>) -> Result<Self, WitnessSpecError> {
        let mut witnesses = Vec::new();
        for s in specs {
            let (vkey, url) = s.split_once('=').ok_or_else(|| WitnessSpecError::NotKeyUrl(s.clone()))?;
            let key = CosignerKey::parse(vkey).map_err(|error| WitnessSpecError::Key { spec: s.clone(), error })?;
            witnesses.push((key, url.trim_end_matches('/').to_string()));
        }
        let quorum = quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            return Err(WitnessSpecError::QuorumTooLarge { quorum, named: witnesses.len() });
        }
        Ok(Self { witnesses, quorum, timeout: Duration::from_secs(5), attempts: 3, backoff: Duration::from_millis(200) })
    }

    pub fn keys(&self) -> Vec<CosignerKey> {
        self.witnesses.iter().map(|(k, _)| k.clone()).collect()
    }
}
