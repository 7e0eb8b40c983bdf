//! Witnesses (C2SP `tlog-witness`, `tlog-cosignature`): accountability against the operator
//! itself. A witness cosigns a checkpoint only if it is consistent with the largest one it has
//! cosigned of that log, so two histories under one log key cannot both be cosigned.
//!
//! - [`Witness`]: the witness side, `housing-ledger witness serve`. Its state per log (the size
//!   and root it last cosigned) is written durably (fsync, atomic rename) before it answers,
//!   under one lock, so a crash never lets it cosign two inconsistent trees.
//! - [`Witnesses`]: the log side. Every checkpoint the log signs goes to each witness with a
//!   consistency proof from the size that witness last cosigned; cosignatures are stored with
//!   the checkpoint, refusals recorded as events, faults retried with backoff and reported.

use crate::ledger::{Ledger, LedgerError};
use crate::store::{StoreError, StoredCheckpoint};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use events::cosignature::{self, Cosigner, CosignerKey};
use events::{Checkpoint, NewEvent, VerifierKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const KEY_FILE: &str = "witness.key";
const STATE_FILE: &str = "witness-state.json";
/// Consistency proof lines a request may carry at most (C2SP).
const MAX_PROOF_LINES: usize = 63;

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("witness {path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error(transparent)]
    Format(#[from] events::Error),
}

/// Why a witness does not cosign; each maps to the status C2SP names.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unknown log {0:?}")]
    UnknownLog(String),
    #[error("no signature by a trusted key of {0:?}")]
    Untrusted(String),
    /// The old size is not the size last cosigned (which it carries), or the same size has
    /// another root.
    #[error("conflict: the witness last cosigned size {0}")]
    Conflict(u64),
    #[error("the consistency proof does not verify: {0}")]
    BadProof(String),
    #[error("the witness could not record its state: {0}")]
    Internal(String),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let text = self.to_string();
        match self {
            Refusal::Conflict(size) => (StatusCode::CONFLICT, [(header::CONTENT_TYPE, "text/x.tlog.size")], format!("{size}\n")).into_response(),
            Refusal::BadRequest(_) => (StatusCode::BAD_REQUEST, text).into_response(),
            Refusal::UnknownLog(_) => (StatusCode::NOT_FOUND, text).into_response(),
            Refusal::Untrusted(_) => (StatusCode::FORBIDDEN, text).into_response(),
            Refusal::BadProof(_) => {
                // A checkpoint that does not extend what this witness cosigned: a fork.
                crate::security::record(crate::security::Record::new(
                    crate::security::Kind::Fork,
                    format!("witness: a checkpoint inconsistent with the tree it cosigned was refused: {text}"),
                ));
                (StatusCode::UNPROCESSABLE_ENTITY, text).into_response()
            }
            Refusal::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, text).into_response(),
        }
    }
}

/// What a witness last cosigned of one log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogState {
    pub size: u64,
    /// Base64 root hash.
    pub root: String,
}

/// The witness: its key, the logs it follows and its durable state.
pub struct Witness {
    cosigner: Cosigner,
    logs: BTreeMap<String, Vec<VerifierKey>>,
    state_path: PathBuf,
    state: tokio::sync::Mutex<BTreeMap<String, LogState>>,
}

/// The witness's key in `dir` (made on first use, 0600), named `name`.
pub fn witness_key(dir: &Path, name: &str) -> Result<Cosigner, WitnessError> {
    let path = dir.join(KEY_FILE);
    let bad = |detail: String| WitnessError::File { path: path.clone(), detail };
    crate::private_files::create_dir(dir).map_err(|e| bad(e.to_string()))?;
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).map_err(|e| bad(e.to_string()))?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(bad(format!("mode is {:o}; a key file must be 0600", mode & 0o777)));
                }
            }
            Cosigner::parse(&text)?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Cosigner::generate(name)?;
            crate::private_files::write_durably(&path, format!("{}\n", key.to_private_text()).as_bytes()).map_err(|e| bad(e.to_string()))?;
            key
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    if key.public().name != name {
        return Err(bad(format!("the key is named {:?}, not {name:?}", key.public().name)));
    }
    Ok(key)
}

/// A parsed `add-checkpoint` body: the old size, the proof, the signed checkpoint note.
fn parse_request(body: &str) -> Result<(u64, Vec<[u8; 32]>, &str), Refusal> {
    let bad = |m: &str| Refusal::BadRequest(m.to_string());
    let (head, note) = body.split_once("\n\n").ok_or_else(|| bad("no empty line before the checkpoint"))?;
    let mut lines = head.split('\n');
    let old = lines.next().and_then(|l| l.strip_prefix("old ")).ok_or_else(|| bad("the first line is not `old <size>`"))?;
    if old.is_empty() || (old.len() > 1 && old.starts_with('0')) || !old.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the old size is not a decimal number without leading zeros"));
    }
    let old: u64 = old.parse().map_err(|_| bad("the old size is out of range"))?;
    let proof = lines
        .map(|l| B64.decode(l).ok().and_then(|h| <[u8; 32]>::try_from(h).ok()).ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash")))
        .collect::<Result<Vec<_>, _>>()?;
    if proof.len() > MAX_PROOF_LINES {
        return Err(bad("more than 63 proof lines"));
    }
    Ok((old, proof, note))
}

impl Witness {
    /// A witness in `dir` named `name`, following the logs whose keys are `logs`.
    pub fn open(dir: &Path, name: &str, logs: Vec<VerifierKey>) -> Result<Self, WitnessError> {
        let cosigner = witness_key(dir, name)?;
        let state_path = dir.join(STATE_FILE);
        let state = match std::fs::read_to_string(&state_path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| WitnessError::File { path: state_path.clone(), detail: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(WitnessError::File { path: state_path, detail: e.to_string() }),
        };
        let mut by_origin: BTreeMap<String, Vec<VerifierKey>> = BTreeMap::new();
        for k in logs {
            by_origin.entry(k.name.clone()).or_default().push(k);
        }
        Ok(Self { cosigner, logs: by_origin, state_path, state: tokio::sync::Mutex::new(state) })
    }

    pub fn key(&self) -> &CosignerKey {
        self.cosigner.public()
    }

    /// C2SP `add-checkpoint`: checks the request, and if the checkpoint is consistent with the
    /// last one cosigned, records it durably and returns the cosignature line.
    pub async fn add_checkpoint(&self, body: &str) -> Result<String, Refusal> {
        let (old, proof, note) = parse_request(body)?;
        let (text, _) = events::note::split(note).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let cp = Checkpoint::parse_body(text).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        let keys = self.logs.get(&cp.origin).ok_or_else(|| Refusal::UnknownLog(cp.origin.clone()))?;
        if !keys.iter().any(|k| Checkpoint::verify_note(note, k).is_ok()) {
            return Err(Refusal::Untrusted(cp.origin.clone()));
        }
        if old > cp.size {
            return Err(Refusal::BadRequest(format!("old size {old} is larger than the checkpoint's {}", cp.size)));
        }
        // One request at a time per witness: the check and the record are one step.
        let mut state = self.state.lock().await;
        let known = state.get(&cp.origin).cloned();
        let known_size = known.as_ref().map_or(0, |k| k.size);
        if old != known_size {
            return Err(Refusal::Conflict(known_size));
        }
        let root = B64.encode(cp.root);
        if old == 0 {
            if !proof.is_empty() {
                return Err(Refusal::BadRequest("a proof from size 0 must be empty".into()));
            }
        } else if old == cp.size {
            if known.as_ref().is_some_and(|k| k.root != root) {
                return Err(Refusal::Conflict(known_size));
            }
        } else {
            let known_root = B64.decode(&known.as_ref().expect("a size above 0 was recorded").root).map_err(|e| Refusal::Internal(e.to_string()))?;
            events::merkle::verify_consistency(old, cp.size, &known_root, &cp.root, &proof).map_err(|e| Refusal::BadProof(e.to_string()))?;
        }
        let mut next = state.clone();
        next.insert(cp.origin.clone(), LogState { size: cp.size, root });
        let json = serde_json::to_string_pretty(&next).expect("state serialises");
        // Durable before the answer: a crash after this point has recorded what it cosigns.
        crate::private_files::write_durably(&self.state_path, json.as_bytes()).map_err(|e| Refusal::Internal(e.to_string()))?;
        *state = next;
        let time = chrono::Utc::now().timestamp().max(0) as u64;
        Ok(self.cosigner.cosign(text, time))
    }
}

/// The witness's HTTP routes (C2SP `tlog-witness`).
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route(
            "/add-checkpoint",
            post(|State(w): State<Arc<Witness>>, body: String| async move {
                match w.add_checkpoint(&body).await {
                    Ok(line) => (StatusCode::OK, line).into_response(),
                    Err(r) => {
                        tracing::warn!(refusal = %r, "checkpoint not cosigned");
                        r.into_response()
                    }
                }
            }),
        )
        .with_state(witness)
}

pub use crate::cosigners::{WitnessSpecError, Witnesses};

/// Checkpoints signed and sent to the witnesses: the ledger signs, this module gathers the
/// cosignatures and chooses what to serve (so the ledger needs nothing of the witnesses but
/// their list).
impl Ledger {
    /// A checkpoint whose tree holds event `seq`: the latest, if it does; otherwise one signed now.
    pub async fn checkpoint_covering(&self, seq: u64) -> Result<StoredCheckpoint, LedgerError> {
        match self.checkpoints().latest_checkpoint().await? {
            Some(cp) if cp.tree_size > seq => Ok(cp),
            _ => self.checkpoint().await,
        }
    }

    /// Signs a checkpoint of the log as it is (or returns the latest, if the log has not grown)
    /// and, with witnesses, gathers their cosignatures; see [`Ledger::checkpoint_cosigned`].
    pub async fn checkpoint(&self) -> Result<StoredCheckpoint, LedgerError> {
        Ok(self.checkpoint_cosigned().await?.0)
    }

    /// [`Ledger::checkpoint`], with what the witnesses said (`None` without witnesses). A
    /// witness that has cosigned this size already is not asked again.
    pub async fn checkpoint_cosigned(&self) -> Result<(StoredCheckpoint, Option<CosignReport>), LedgerError> {
        // Earlier checkpoints left untimestamped are stamped before the next one is signed, so
        // that every token's genTime falls before the checkpoint after it.
        self.timestamp_pending().await?;
        let cp = self.sign_checkpoint().await?;
        let report = match self.witnesses() {
            Some(w) => Some(gather(self, w, cp.tree_size, &cp.note).await?),
            None => None,
        };
        self.timestamp_pending().await?;
        Ok((cp, report))
    }

    /// The checkpoint to serve as the latest, with every cosignature stored for it: with
    /// witnesses, the largest one a quorum has cosigned (a refused or not yet cosigned one is
    /// never served as the latest); without (a `serve` started without the `--witness` flags),
    /// the latest signed, still with the cosignatures it gathered (issue 33).
    pub async fn latest_served(&self) -> Result<Option<(StoredCheckpoint, String)>, LedgerError> {
        let Some(w) = self.witnesses() else {
            let Some(cp) = self.checkpoints().latest_checkpoint().await? else { return Ok(None) };
            let note = cosigned_note(self, &cp.note, cp.tree_size).await?;
            return Ok(Some((cp, note)));
        };
        let names: Vec<String> = w.witnesses.iter().map(|(k, _)| k.name.clone()).collect();
        let quorate = |lines: &[(String, String)]| lines.iter().filter(|(n, _)| names.contains(n)).count() >= w.quorum;
        // Usually the latest has its quorum: every checkpoint is read only where it has not.
        let latest = self.checkpoints().latest_checkpoint().await?;
        let candidates = match latest {
            Some(cp) if quorate(&self.checkpoints().cosignatures(cp.tree_size).await?) => vec![cp],
            _ => self.checkpoints().checkpoints().await?.into_iter().rev().collect(),
        };
        for cp in candidates {
            if quorate(&self.checkpoints().cosignatures(cp.tree_size).await?) {
                let note = cosigned_note(self, &cp.note, cp.tree_size).await?;
                return Ok(Some((cp, note)));
            }
        }
        Ok(None)
    }
}

/// How one witness answered for a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Cosigned,
    /// It has seen another tree (409 that a consistency proof cannot mend, 422), or refuses
    /// the log (403, 404): recorded as an event.
    Refused(String),
    /// Down, slow, or an answer that does not verify: reported and retried next time.
    Failed(String),
}

/// What the witnesses said of one checkpoint.
#[derive(Clone, Debug)]
pub struct CosignReport {
    pub tree_size: u64,
    pub outcomes: Vec<(String, Outcome)>,
    pub quorum: usize,
}

impl CosignReport {
    pub fn cosigned(&self) -> usize {
        self.outcomes.iter().filter(|(_, o)| *o == Outcome::Cosigned).count()
    }

    pub fn reached(&self) -> bool {
        self.cosigned() >= self.quorum
    }
}

/// The stream refusals by witnesses are recorded in.
pub const WITNESSES_STREAM: &str = "witnesses";

/// A witness that could not be asked, or whose answer could not be read.
#[derive(Debug, thiserror::Error)]
enum Unreached {
    #[error("{url}: {error}")]
    Send { url: String, error: reqwest::Error },
    #[error("{url}: {error}")]
    Read { url: String, error: crate::bounded::BodyError },
}

/// One `add-checkpoint` exchange: `Ok(line)`, or the status and body.
async fn submit(client: &reqwest::Client, url: &str, body: String) -> Result<Result<String, (u16, String)>, Unreached> {
    let resp = client.post(format!("{url}/add-checkpoint")).body(body).send().await.map_err(|error| Unreached::Send { url: url.into(), error })?;
    let status = resp.status().as_u16();
    let text = match crate::bounded::read_text(resp, crate::bounded::WITNESS_ANSWER).await {
        Ok(t) => t,
        // A refusal is one whatever it says; a cosignature that large is none.
        Err(crate::bounded::BodyError::TooLarge { max }) if status != 200 => format!("(a body larger than {max} bytes, not read)"),
        Err(error) => return Err(Unreached::Read { url: url.into(), error }),
    };
    Ok(if status == 200 { Ok(text) } else { Err((status, text)) })
}

/// Sends the checkpoint of `tree_size` (signed `note`, root `root`) to every witness, from the
/// size each last cosigned, stores the cosignatures and records refusals.
async fn gather(ledger: &Ledger, w: &Witnesses, tree_size: u64, note: &str) -> Result<CosignReport, LedgerError> {
    let client = reqwest::Client::builder().timeout(w.timeout).build().expect("HTTP client builds");
    let (text, _) = events::note::split(note)?;
    let mut outcomes = Vec::new();
    let already = ledger.checkpoints().cosignatures(tree_size).await?;
    for (key, url) in &w.witnesses {
        if already.iter().any(|(n, _)| *n == key.name) {
            outcomes.push((key.name.clone(), Outcome::Cosigned));
            continue;
        }
        let mut old = ledger.checkpoints().last_cosigned(&key.name).await?.unwrap_or(0).min(tree_size);
        let mut outcome = Outcome::Failed("not tried".into());
        let mut mended = false;
        // A refusal's status: 409 and 422 say the witness has seen another tree (a fork).
        let mut refused_with = 0;
        for attempt in 0..w.attempts {
            let proof = if old == 0 || old == tree_size { Vec::new() } else { ledger.consistency_proof(old, tree_size).await? };
            let mut body = format!("old {old}\n");
            for h in proof {
                body.push_str(&B64.encode(h));
                body.push('\n');
            }
            body.push('\n');
            body.push_str(note);
            outcome = match submit(&client, url, body).await {
                Ok(Ok(lines)) => {
                    let line = lines.lines().find(|l| l.starts_with(&format!("\u{2014} {} ", key.name))).map(|l| format!("{l}\n"));
                    match line.map(|l| (cosignature::verified(&format!("{text}\n{l}"), std::slice::from_ref(key)), l)) {
                        Some((Ok(v), l)) if !v.is_empty() => {
                            ledger.checkpoints().add_cosignature(tree_size, &key.name, &l).await?;
                            Outcome::Cosigned
                        }
                        _ => Outcome::Failed(format!("{url} answered no valid cosignature by {}", key.name)),
                    }
                }
                // The witness knows a size the log has not recorded (a crash after it
                // cosigned): prove consistency from that size instead, once.
                Ok(Err((409, size))) if !mended && size.trim().parse::<u64>().is_ok_and(|s| s != old && s <= tree_size) => {
                    old = size.trim().parse().expect("checked");
                    mended = true;
                    continue;
                }
                Ok(Err((status @ (403 | 404 | 409 | 422), detail))) => {
                    refused_with = status;
                    Outcome::Refused(format!("{url} answered {status}: {}", detail.trim()))
                }
                Ok(Err((status, detail))) => Outcome::Failed(format!("{url} answered {status}: {}", detail.trim())),
                Err(e) => Outcome::Failed(e.to_string()),
            };
            if !matches!(outcome, Outcome::Failed(_)) {
                break;
            }
            if attempt + 1 < w.attempts {
                tokio::time::sleep(w.backoff * 2u32.pow(attempt)).await;
            }
        }
        match &outcome {
            Outcome::Refused(why) => {
                tracing::error!(witness = %key.name, tree_size, why, "a witness refused the checkpoint");
                let kind = if matches!(refused_with, 409 | 422) { crate::security::Kind::Fork } else { crate::security::Kind::WitnessRefused };
                crate::security::record(crate::security::Record::new(
                    kind,
                    format!("witness {} refused the checkpoint of size {tree_size}: {}", key.name, crate::bounded::for_ledger(why)),
                ));
                // The witness's words, cut to a stated size: any witness could fill the log.
                let detail = crate::bounded::for_ledger(why);
                let refused = events::catalogue::CheckpointRefused { tree_size, witness: key.to_string(), detail, checkpoint: note.to_string() };
                let ev = NewEvent::typed(WITNESSES_STREAM, refused);
                ledger.append(vec![ev]).await?;
            }
            Outcome::Failed(why) => tracing::warn!(witness = %key.name, tree_size, why, "a witness did not cosign"),
            Outcome::Cosigned => {}
        }
        outcomes.push((key.name.clone(), outcome));
    }
    Ok(CosignReport { tree_size, outcomes, quorum: w.quorum })
}

/// The note of the checkpoint of `tree_size` with every cosignature stored for it.
pub async fn cosigned_note(ledger: &Ledger, note: &str, tree_size: u64) -> Result<String, StoreError> {
    let mut out = note.to_string();
    for (_, line) in ledger.checkpoints().cosignatures(tree_size).await? {
        out.push_str(&line);
    }
    Ok(out)
}
