//! Upstream's kubelet back-off for restarting crashed containers (CrashLoopBackOff) and
//! for pulling images (ImagePullBackOff): the first retry is immediate, then 10 s doubling
//! to 5 minutes; a container that ran for 10 minutes starts over.

use std::time::{Duration, Instant};

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);
/// How long a container must run for its back-off to be forgotten.
pub const RESET_AFTER: Duration = Duration::from_secs(600);

/// One key's back-off.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    /// The current delay; zero before the first failure.
    delay: Duration,
    /// When the failure the delay counts from happened.
    since: Option<Instant>,
}

impl Backoff {
    /// How long is left to wait at `now` before retrying (zero if none).
    pub fn remaining(&self, now: Instant) -> Duration {
        match self.since {
            Some(since) => (since + self.delay).saturating_duration_since(now),
            None => Duration::ZERO,
        }
    }

    /// The current delay (for the messages that name it).
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Record a retry made at `now` (after a failure): the next retry waits longer.
    pub fn retried(&mut self, now: Instant) {
        self.delay = if self.delay.is_zero() { INITIAL } else { (self.delay * 2).min(MAX) };
        self.since = Some(now);
    }

    /// Count the wait from `at` (when the container exited), keeping the delay.
    pub fn failed_at(&mut self, at: Instant) {
        if !self.delay.is_zero() {
            self.since = Some(at);
        }
    }

    /// Forget the failures (after a long healthy run).
    pub fn reset(&mut self) {
        *self = Backoff::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_retry_is_immediate_then_doubling_to_the_cap() {
        let start = Instant::now();
        let mut backoff = Backoff::default();
        assert_eq!(backoff.remaining(start), Duration::ZERO);
        backoff.retried(start);
        assert_eq!(backoff.remaining(start), INITIAL);
        assert_eq!(backoff.remaining(start + INITIAL), Duration::ZERO);
        let mut delays = Vec::new();
        for _ in 0..8 {
            backoff.retried(start);
            delays.push(backoff.delay().as_secs());
        }
        assert_eq!(delays, [20, 40, 80, 160, 300, 300, 300, 300]);
        backoff.reset();
        assert_eq!(backoff.remaining(start), Duration::ZERO);
    }
}
