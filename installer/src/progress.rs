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
    /// Put before every entry recorded through this handle (`111111111111 us-east-1: `).
    prefix: Option<String>,
}

impl Journal {
    /// Records one completed change (`created function egress-probe-subnet-1`).
    pub fn done(&self, what: impl Into<String>) {
        let what = what.into();
        let entry = match &self.prefix {
            Some(p) => format!("{p}{what}"),
            None => what,
        };
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }

    /// The same journal; entries recorded through the handle start with `prefix` (one
    /// account and Region of a fleet command).
    pub fn prefixed(&self, prefix: impl Into<String>) -> Journal {
        Journal {
            done: self.done.clone(),
            prefix: Some(prefix.into()),
        }
    }

    /// The entries recorded through handles with exactly this prefix, without it.
    pub fn entries_with(&self, prefix: &str) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter_map(|e| e.strip_prefix(prefix).map(str::to_string))
            .collect()
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
        let unit = j.prefixed("111111111111 us-east-1: ");
        unit.done("created function g");
        assert_eq!(j.entries()[2], "111111111111 us-east-1: created function g");
        assert_eq!(
            j.entries_with("111111111111 us-east-1: "),
            vec!["created function g"]
        );
    }
}
