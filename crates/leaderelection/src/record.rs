//! The leader election record kept in a Lease's spec, and the one decision an elector
//! makes each retry period: given the Lease as read, take it, renew it, or stand by.

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use std::time::{Duration, Instant};

/// The Lease spec as last observed, and when (on this process's monotonic clock). Expiry is
/// judged from when *we* saw the record change, never from the holder's `renewTime`, so
/// clock skew between machines cannot make a live leader look expired (client-go's rule).
#[derive(Debug)]
pub struct Observed {
    record: Option<LeaseSpec>,
    at: Instant,
}

impl Observed {
    pub fn new(now: Instant) -> Self {
        Observed { record: None, at: now }
    }

    /// Note the record as read at `now`; the clock restarts only if it changed.
    pub fn note(&mut self, record: &LeaseSpec, now: Instant) {
        if self.record.as_ref() != Some(record) {
            self.record = Some(record.clone());
            self.at = now;
        }
    }

    /// True while another candidate holds the lease and its term has not run out.
    pub fn held_by_other(&self, identity: &str, now: Instant) -> bool {
        let Some(record) = &self.record else { return false };
        let holder = record.holder_identity.as_deref().unwrap_or_default();
        if holder.is_empty() || holder == identity {
            return false;
        }
        let term = Duration::from_secs(record.lease_duration_seconds.unwrap_or_default().max(0) as u64);
        self.at + term > now
    }

    /// The transitions counted so far (kept across a release, which clears the holder).
    fn transitions(&self) -> i32 {
        self.record.as_ref().and_then(|r| r.lease_transitions).unwrap_or_default()
    }
}

/// The record `identity` writes to take or renew the lease: the acquire time and the
/// transition count stay while it keeps holding it, and move on when it takes over.
pub fn claimed(current: Option<&LeaseSpec>, observed: &Observed, identity: &str, term: Duration) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    let held = current.is_some_and(|r| r.holder_identity.as_deref() == Some(identity));
    let (acquire_time, transitions) = match current {
        Some(record) if held => (record.acquire_time.clone(), record.lease_transitions),
        // Taking over from someone (or from a released lease) is a transition.
        Some(_) => (Some(now.clone()), Some(observed.transitions() + 1)),
        None => (Some(now.clone()), Some(0)),
    };
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(term.as_secs().max(1) as i32),
        acquire_time,
        renew_time: Some(now),
        lease_transitions: transitions,
        ..LeaseSpec::default()
    }
}

/// The record a leader writes when it steps down: no holder and a one-second term, so a
/// standby takes over at its next retry instead of waiting out the lease.
pub fn released(observed: &Observed) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(now.clone()),
        renew_time: Some(now),
        lease_transitions: Some(observed.transitions()),
        ..LeaseSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn held_by(holder: &str, seconds: i32, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(seconds),
            lease_transitions: Some(transitions),
            acquire_time: Some(MicroTime(Timestamp::UNIX_EPOCH)),
            renew_time: Some(MicroTime(Timestamp::UNIX_EPOCH)),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn another_holder_is_respected_until_its_record_stops_changing_for_a_term() {
        let start = Instant::now();
        let mut observed = Observed::new(start);
        observed.note(&held_by("a", 15, 0), start);
        assert!(observed.held_by_other("b", start + Duration::from_secs(14)));
        assert!(!observed.held_by_other("a", start), "our own lease is never held by another");
        // A renewal seen later restarts the clock, whatever its renewTime says.
        let mut renewed = held_by("a", 15, 0);
        renewed.renew_time = Some(MicroTime(Timestamp::UNIX_EPOCH + SignedDuration::from_secs(1)));
        observed.note(&renewed, start + Duration::from_secs(10));
        assert!(observed.held_by_other("b", start + Duration::from_secs(20)));
        // The same record seen again does not.
        observed.note(&renewed, start + Duration::from_secs(24));
        assert!(!observed.held_by_other("b", start + Duration::from_secs(26)));
    }

    #[test]
    fn a_released_lease_is_free_at_once() {
        let start = Instant::now();
        let mut observed = Observed::new(start);
        observed.note(&held_by("a", 15, 3), start);
        let release = released(&observed);
        assert_eq!(release.holder_identity, None);
        assert_eq!(release.lease_transitions, Some(3));
        observed.note(&release, start);
        assert!(!observed.held_by_other("b", start));
    }

    #[test]
    fn renewing_keeps_the_acquire_time_and_taking_over_counts_a_transition() {
        let observed = {
            let mut o = Observed::new(Instant::now());
            o.note(&held_by("a", 15, 2), Instant::now());
            o
        };
        let current = held_by("a", 15, 2);
        let renewed = claimed(Some(&current), &observed, "a", Duration::from_secs(15));
        assert_eq!(renewed.acquire_time, current.acquire_time);
        assert_eq!(renewed.lease_transitions, Some(2));
        assert_ne!(renewed.renew_time, current.renew_time);

        let taken = claimed(Some(&current), &observed, "b", Duration::from_secs(15));
        assert_eq!(taken.holder_identity.as_deref(), Some("b"));
        assert_eq!(taken.lease_transitions, Some(3));
        assert_ne!(taken.acquire_time, current.acquire_time);

        let first = claimed(None, &Observed::new(Instant::now()), "b", Duration::from_secs(15));
        assert_eq!(first.lease_transitions, Some(0));
        assert_eq!(first.lease_duration_seconds, Some(15));
    }
}
