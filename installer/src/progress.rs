//! Progress on stderr: an indicatif bar only when stderr is a terminal and the output is
//! text; otherwise nothing (stdout carries the result only).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// A progress bar that may be hidden.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar of `len` steps, visible only if `visible`.
    pub fn new(len: u64, message: &str, visible: bool) -> Self {
        let bar = if visible {
            let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        bar.set_message(message.to_string());
        Self { bar }
    }

    /// Hidden.
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }

    pub fn inc(&self) {
        self.bar.inc(1);
    }

    pub fn message(&self, m: impl Into<String>) {
        self.bar.set_message(m.into());
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// True when a bar should be drawn: stderr is a terminal and the output is text.
pub fn visible(text_output: bool) -> bool {
    text_output && std::io::stderr().is_terminal()
}

/// What a mutating command has done so far, in order: printed when it is interrupted
/// (SIGTERM, Ctrl-C), so the user knows what exists before re-running.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    done: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Journal {
    /// Records one completed change (`created function egress-probe-subnet-1`).
    pub fn done(&self, what: impl Into<String>) {
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(what.into());
    }

    /// The changes recorded so far.
    pub fn entries(&self) -> Vec<String> {
        self.done.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_keeps_the_order_across_clones() {
        let j = Journal::default();
        let k = j.clone();
        j.done("created role r");
        k.done("created function f");
        assert_eq!(j.entries(), vec!["created role r", "created function f"]);
    }
}
