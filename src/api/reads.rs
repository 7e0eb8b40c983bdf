//! Accountability of reads: every read of personal data through the API is appended to the
//! ledger (who — token id and role —, what, when) before the answer goes out. Reads are
//! group-committed: concurrent requests share one durable append.

use crate::auth::Caller;
use crate::ledger::Ledger;
use events::NewEvent;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub const PERSONAL_DATA_READ: &str = "PersonalDataRead";
/// Reads appended together at most.
const GROUP: usize = 512;

pub fn reads_stream(iin: &str) -> String {
    format!("reads:{iin}")
}

type Pending = (NewEvent, oneshot::Sender<Result<u64, String>>);

/// The handle requests record their reads through.
#[derive(Clone)]
pub struct ReadLog {
    tx: mpsc::Sender<Pending>,
}

impl ReadLog {
    /// Starts the writer task (needs a Tokio runtime).
    pub fn start(ledger: Arc<Ledger>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(4096);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut group = vec![first];
                while group.len() < GROUP {
                    match rx.try_recv() {
                        Ok(p) => group.push(p),
                        Err(_) => break,
                    }
                }
                let (events, waiters): (Vec<NewEvent>, Vec<_>) = group.into_iter().unzip();
                match ledger.append(events).await {
                    Ok(appended) => {
                        for (w, e) in waiters.into_iter().zip(appended) {
                            let _ = w.send(Ok(e.seq));
                        }
                    }
                    Err(e) => {
                        for w in waiters {
                            let _ = w.send(Err(e.to_string()));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Records that `caller` read `what` about `iin`; returns the seq of the record.
    pub async fn record(&self, caller: &Caller, iin: &str, what: &str) -> Result<u64, String> {
        let ev = NewEvent::new(reads_stream(iin), PERSONAL_DATA_READ, json!({"iin": iin, "token": caller.token_id, "role": caller.role, "read": what}));
        let (tx, rx) = oneshot::channel();
        self.tx.send((ev, tx)).await.map_err(|_| "the read log has stopped".to_string())?;
        rx.await.map_err(|_| "the read log has stopped".to_string())?
    }
}
