//! What serving shares: the ledger, the trusted keys, the read log, the rule sets, the
//! registries an appeal may ask, the page-session policy, and the background loops with their
//! owner. The API and the pages both read it; neither knows the other.

use crate::ledger::Ledger;
use crate::reads;
use std::sync::Arc;
use std::time::Duration;

/// How long page sessions live and how their cookie is set (the cookies themselves are
/// `web::session`'s).
#[derive(Clone, Debug)]
pub struct SessionPolicy {
    /// Ended after this long without a request.
    pub idle: Duration,
    /// Ended this long after login, however busy.
    pub absolute: Duration,
    /// The origin the pages are served at (`--public-url`), if known; `https://` makes the
    /// cookies `Secure`. Without it, a POST's `Origin` must match its `Host`.
    pub public_url: Option<String>,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle: Duration::from_secs(30 * 60), absolute: Duration::from_secs(12 * 3600), public_url: None }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub ledger: Arc<Ledger>,
    /// The source registries' keys the service trusts.
    pub registry_keys: Arc<crate::registry::TrustedKeys>,
    /// Where reads of personal data are recorded.
    pub reads: reads::ReadLog,
    /// The rule sets an appeal's re-check may run under.
    pub book: Arc<crate::rules::RuleBook>,
    /// Where an appeal's fresh answers come from; `None`: nowhere (re-checks then rely on corrections).
    pub registries: Option<Arc<dyn crate::registry::Registries>>,
    /// A fixed "today" (tests); `None`: the date in Kazakhstan (decision 17).
    pub today: Option<chrono::NaiveDate>,
    /// Runs' `RunStarted` and `ListSubmitted`, which every bundle of the run holds.
    pub run_headers: Arc<crate::proof::RunHeaders>,
    /// How the officers' page sessions live.
    pub sessions: SessionPolicy,
    /// The public register's document and when it was made.
    pub register: Arc<std::sync::Mutex<Option<(std::time::Instant, crate::algorithm_register::Register)>>>,
    /// The background loops serving needs (WAL maintenance, projection catch-up, the subject
    /// index); their owner.
    pub background: Arc<Background>,
}

/// When `serve` signs a checkpoint by itself: after `every_events` events, or once the oldest
/// event past the newest checkpoint has waited `every`, whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct CheckpointPolicy {
    pub every_events: u64,
    pub every: std::time::Duration,
}

impl Default for CheckpointPolicy {
    /// A tail of at most 1,000 events, none older than about 30 seconds (under a minute).
    fn default() -> Self {
        Self { every_events: 1000, every: std::time::Duration::from_secs(30) }
    }
}

/// Owns the background loops of a serving state and stops them: each loop ends at its next
/// pause once `shutdown` is called, and `shutdown` returns when all have ended.
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Background {
    fn new() -> Self {
        Self { stop: tokio::sync::watch::channel(false).0, tasks: Default::default() }
    }

    /// Runs `work` every `every` until shutdown (needs a Tokio runtime).
    fn every<F, Fut>(&self, name: &'static str, every: std::time::Duration, work: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), crate::ledger::LedgerError>> + Send,
    {
        let mut stopped = self.stop.subscribe();
        let task = tokio::spawn(async move {
            loop {
                if let Err(e) = work().await {
                    tracing::warn!(error = %e, "{name}");
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
        self.tasks.lock().expect("not poisoned").push(task);
    }

    /// Stops every loop and waits until each has ended.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock().expect("not poisoned"));
        for t in tasks {
            let _ = t.await;
        }
    }

    /// How many loops are still running.
    pub fn running(&self) -> usize {
        self.tasks.lock().expect("not poisoned").iter().filter(|t| !t.is_finished()).count()
    }
}

impl AppState {
    /// Builds the state and starts the read log's writer (needs a Tokio runtime).
    pub fn new(ledger: Arc<Ledger>, registry_keys: crate::registry::TrustedKeys) -> Self {
        let reads = reads::ReadLog::start(ledger.clone());
        let background = Background::new();
        // The WAL is folded into the database off the request path.
        let store = ledger.log().clone();
        background.every("store maintenance", std::time::Duration::from_millis(500), move || {
            let store = store.clone();
            async move { Ok(store.maintain().await?) }
        });
        // The subject index (a person's reads) follows the read log in the background.
        let indexer = ledger.clone();
        background.every("subject index", std::time::Duration::from_millis(200), move || {
            let indexer = indexer.clone();
            async move { reads::index_catch_up(&indexer).await.map(|_| ()) }
        });
        // The stored projections follow the ledger in the background.
        let follower = ledger.clone();
        background.every("projection consumer", std::time::Duration::from_millis(200), move || {
            let follower = follower.clone();
            async move { crate::read_models::catch_up(&follower).await.map(|_| ()) }
        });
        Self {
            ledger,
            registry_keys: Arc::new(registry_keys),
            reads,
            book: Arc::new(crate::rules::RuleBook::built_in()),
            registries: None,
            today: None,
            run_headers: Default::default(),
            register: Default::default(),
            sessions: Default::default(),
            background: Arc::new(background),
        }
    }

    pub fn with_sessions(mut self, policy: SessionPolicy) -> Self {
        self.sessions = policy;
        self
    }

    /// Lets appeals ask these registries for fresh answers and deliver notices through them.
    pub fn with_registries(mut self, registries: Arc<dyn crate::registry::Registries>) -> Self {
        self.registries = Some(registries);
        self
    }

    /// Signs a checkpoint by itself whenever the tail past the newest one holds `every_events`
    /// events or its oldest event has waited `every` (issue 29): sent to the witnesses and
    /// time-stamped as the ledger is configured, so nothing served stays unwitnessed for long.
    pub fn with_checkpoints(self, policy: CheckpointPolicy) -> Self {
        let ledger = self.ledger.clone();
        let tick = policy.every.min(std::time::Duration::from_secs(1)).max(std::time::Duration::from_millis(10));
        self.background.every("checkpoint", tick, move || {
            let ledger = ledger.clone();
            async move {
                let tail = ledger.tail().await?;
                let waited = tail.age_seconds(chrono::Utc::now()).unwrap_or(0.0);
                if tail.events > 0 && (tail.events >= policy.every_events || waited >= policy.every.as_secs_f64()) {
                    let cp = ledger.checkpoint().await?;
                    tracing::info!(tree_size = cp.tree_size, tail = tail.events, waited, "checkpoint signed while serving");
                }
                Ok(())
            }
        });
        self
    }

    /// Checks the stored read models against the events every `every`, and folds afresh any
    /// that differ (`projection::restore_from_events`).
    pub fn with_integrity_check(self, every: std::time::Duration) -> Self {
        let ledger = self.ledger.clone();
        self.background.every("integrity check", every, move || {
            let ledger = ledger.clone();
            async move { crate::read_models::restore_from_events(&ledger).await.map(|_| ()) }
        });
        self
    }

    /// Erases, once a day (the first at start), every case whose retention period under `rules`
    /// has run out (format v2; a v1 ledger erases nothing). Each erasure is recorded as the
    /// service's, naming the rule.
    pub fn with_retention(self, rules: crate::retention::RetentionRules) -> Self {
        let ledger = self.ledger.clone();
        if ledger.sealing().is_none() {
            return self;
        }
        let rules = Arc::new(rules);
        self.background.every("retention", std::time::Duration::from_secs(24 * 3600), move || {
            let (ledger, rules) = (ledger.clone(), rules.clone());
            async move {
                let by = format!("retention ({}, serve's daily run)", rules.name());
                match crate::retention::apply(&ledger, &rules, chrono::Utc::now().date_naive(), &by).await {
                    Ok(done) => {
                        if !done.is_empty() {
                            tracing::info!(erased = done.len(), rules = %rules.name(), "retention: cases whose period ran out were erased");
                        }
                        Ok(())
                    }
                    Err(crate::erasure::ErasureError::Ledger(e)) => Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "retention stopped");
                        Ok(())
                    }
                }
            }
        });
        self
    }

    pub fn with_rule_book(mut self, book: crate::rules::RuleBook) -> Self {
        self.book = Arc::new(book);
        self
    }

    pub fn with_today(mut self, today: chrono::NaiveDate) -> Self {
        self.today = Some(today);
        self
    }

    /// The appeal services over this state.
    pub fn appeals(&self) -> crate::appeal::Appeals<'_> {
        crate::appeal::Appeals {
            ledger: &self.ledger,
            keys: &self.registry_keys,
            book: &self.book,
            registries: self.registries.clone(),
            today: self.today.unwrap_or_else(crate::rules::calendar::today),
        }
    }
}
