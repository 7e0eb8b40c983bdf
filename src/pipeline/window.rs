//! The append window: a stage builds its next batch while up to `APPENDS_IN_FLIGHT` earlier
//! ones are sealed and committed, and gets each back in the order started.

use super::{PipelineError, APPENDS_IN_FLIGHT};
use crate::ledger::{Ledger, LedgerError};
use events::{Event, NewEvent};

/// Appends under way, at most `APPENDS_IN_FLIGHT` at once: a stage builds its next batch while
/// earlier ones are sealed and committed, and gets each back, with the tag it was started with,
/// in the order started. Each batch refers only to events already written or inside itself, so
/// none waits for another's seqs, and which commits first does not matter.
pub(super) struct Appends<'l, T> {
    ledger: &'l Ledger,
    under_way: futures::stream::FuturesOrdered<Appending<'l, T>>,
}

/// One batch's append under way, with what the caller tagged it with.
type Appending<'l, T> = futures::future::BoxFuture<'l, (Result<Vec<Event>, LedgerError>, T)>;

impl<'l, T: Send + 'l> Appends<'l, T> {
    pub(super) fn new(ledger: &'l Ledger) -> Self {
        Self { ledger, under_way: futures::stream::FuturesOrdered::new() }
    }

    pub(super) fn full(&self) -> bool {
        self.under_way.len() >= APPENDS_IN_FLIGHT
    }

    pub(super) fn is_empty(&self) -> bool {
        self.under_way.is_empty()
    }

    /// Starts appending `parts` as one batch; each part's `{"$rel": k}` counts from its own
    /// first event.
    pub(super) fn start(&mut self, parts: Vec<Vec<NewEvent>>, tag: T) {
        let ledger = self.ledger;
        self.under_way.push_back(Box::pin(async move { (ledger.append_relative_parts(parts).await, tag) }));
    }

    /// The oldest append's events and tag once it is done; `None` when none is under way.
    pub(super) async fn next(&mut self) -> Result<Option<(Vec<Event>, T)>, PipelineError> {
        use futures::StreamExt;
        match self.under_way.next().await {
            Some((appended, tag)) => Ok(Some((appended?, tag))),
            None => Ok(None),
        }
    }
}
