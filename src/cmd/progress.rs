//! Progress on a terminal: a run's bar, and the bars of walks over the whole log (`verify`,
//! `audit`, `what-if`), shown only where standard error is a terminal.

use super::*;

/// A progress bar on a terminal; nothing otherwise.
pub(crate) struct TerminalProgress(Option<indicatif::ProgressBar>);

impl TerminalProgress {
    pub(crate) fn new() -> Self {
        Self(std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} persons {per_sec} eta {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_message("persons");
            bar
        }))
    }
    pub(crate) fn done(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl ProgressSink for TerminalProgress {
    fn add_total(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc_length(n);
        }
    }
    fn advance(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
    fn stage(&self, what: &str) {
        if let Some(b) = &self.0 {
            b.set_message(what.to_string());
        }
    }
}

/// A bar on a terminal (not under `--json`), by events walked.
pub(crate) fn walk_bar(what: &str, json: bool) -> Option<indicatif::ProgressBar> {
    (std::io::stderr().is_terminal() && !json).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!("{what} [{{bar:40}}] {{pos}}/{{len}} events {{per_sec}} eta {{eta}}"))
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    })
}

/// Moves `bar`, if there is one, to `n` of `size` events.
pub(crate) fn walk_progress(bar: &Option<indicatif::ProgressBar>) -> impl FnMut(u64, u64) + '_ {
    move |n, size| {
        if let Some(b) = bar {
            b.set_length(size);
            b.set_position(n);
        }
    }
}
