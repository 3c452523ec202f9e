//! Time bounds: a check (or one of its phases) ends at the earlier of its own timeout and the
//! invocation deadline, and must say which of the two ended it.

use super::Failure;
use crate::model::{Phase, Status};
use std::time::Duration;
use tokio::time::Instant;

/// The instant a wait gives up, and whether that instant is the invocation deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bound {
    pub end: Instant,
    /// True when the invocation deadline (not the check's own timeout) sets `end`.
    pub by_deadline: bool,
}

impl Bound {
    /// Bound of a check that starts at `start` with its own timeout `own`.
    pub fn new(start: Instant, own: Duration, deadline: Instant) -> Self {
        let own_end = start + own;
        if deadline < own_end {
            Self {
                end: deadline,
                by_deadline: true,
            }
        } else {
            Self {
                end: own_end,
                by_deadline: false,
            }
        }
    }

    /// A phase that starts at `now` with its own timeout `own`, inside `self`.
    pub fn within(self, now: Instant, own: Duration) -> Self {
        let own_end = now + own;
        if self.end <= own_end {
            self
        } else {
            Self {
                end: own_end,
                by_deadline: false,
            }
        }
    }

    /// The bound as a timeout in whole milliseconds counted from `from` (`timeout_ms`).
    pub fn ms_from(self, from: Instant) -> u64 {
        // Rounded: a phase that starts a few µs after the bound's start still reports the
        // timeout it was given (300, not 299).
        let ms = (self.end.saturating_duration_since(from).as_secs_f64() * 1000.0).round();
        if ms >= u64::MAX as f64 {
            u64::MAX
        } else {
            ms as u64
        }
    }

    /// The failure of a `phase` that started at `phase_start` and got no answer by `end`:
    /// `timeout_status` when its own timeout ran out, `CutShort` when the deadline did.
    pub fn expired(self, phase: Phase, phase_start: Instant, timeout_status: Status) -> Failure {
        let waited = self.ms_from(phase_start);
        if self.by_deadline {
            Failure::new(
                Status::CutShort,
                phase,
                format!(
                    "cut short by the invocation deadline after {waited} ms in the {} phase",
                    phase_name(phase)
                ),
            )
        } else {
            // Our own timer, but the same meaning as the kernel's ETIMEDOUT (no answer):
            // the report names it so, as it does for a connect the kernel gave up on.
            Failure::new(
                timeout_status,
                phase,
                format!("no answer within {waited} ms ({} phase)", phase_name(phase)),
            )
            .with_os_error(Some("ETIMEDOUT".to_string()))
        }
    }
}

pub(super) fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Dns => "dns",
        Phase::Proxy => "proxy",
        Phase::Connect => "connect",
        Phase::Tls => "tls",
        Phase::FirstByte => "first_byte",
        Phase::Body => "body",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_timeout_binds_when_the_deadline_is_later() {
        let start = Instant::now();
        let b = Bound::new(
            start,
            Duration::from_millis(500),
            start + Duration::from_secs(5),
        );
        assert_eq!(b.end, start + Duration::from_millis(500));
        assert!(!b.by_deadline);
        assert_eq!(b.ms_from(start), 500);
    }

    #[test]
    fn deadline_binds_when_it_is_earlier() {
        let start = Instant::now();
        let b = Bound::new(
            start,
            Duration::from_secs(5),
            start + Duration::from_millis(300),
        );
        assert!(b.by_deadline);
        assert_eq!(b.ms_from(start), 300);
        let f = b.expired(Phase::Connect, start, Status::Timeout);
        assert_eq!(f.status, Status::CutShort);
        assert_eq!(
            f.os_error, None,
            "the deadline is not a timeout of the path"
        );
        assert!(f.detail.contains("invocation deadline"), "{}", f.detail);
    }

    #[test]
    fn phase_inside_a_bound_takes_the_earlier_end() {
        let start = Instant::now();
        let whole = Bound::new(
            start,
            Duration::from_secs(2),
            start + Duration::from_secs(10),
        );
        let short = whole.within(start, Duration::from_millis(100));
        assert_eq!(short.ms_from(start), 100);
        assert!(!short.by_deadline);
        let cut = Bound::new(
            start,
            Duration::from_secs(2),
            start + Duration::from_millis(50),
        );
        let phase = cut.within(start, Duration::from_millis(100));
        assert!(phase.by_deadline);
        assert_eq!(phase.ms_from(start), 50);
    }

    #[test]
    fn own_timeout_expiry_keeps_the_timeout_status() {
        let start = Instant::now();
        let b = Bound::new(
            start,
            Duration::from_millis(250),
            start + Duration::from_secs(1),
        );
        let f = b.expired(Phase::Tls, start, Status::TlsTimeout);
        assert_eq!(f.status, Status::TlsTimeout);
        assert_eq!(f.phase, Phase::Tls);
        assert_eq!(f.detail, "no answer within 250 ms (tls phase)");
        assert_eq!(f.os_error.as_deref(), Some("ETIMEDOUT"));
    }

    #[test]
    fn a_deadline_already_past_gives_a_zero_bound() {
        let start = Instant::now();
        let b = Bound::new(
            start,
            Duration::from_secs(1),
            start - Duration::from_millis(1),
        );
        assert!(b.by_deadline);
        assert_eq!(b.ms_from(start), 0);
    }
}
