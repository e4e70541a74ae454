//! What a replica controller is waiting to see in its pod cache after it created or deleted
//! pods (upstream's `ControllerExpectations`): until the cache shows every pod it created
//! and none it deleted, counting the cache again would create or delete twice.

use k8s_openapi::api::core::v1::Pod;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Waits longer than this are given up (upstream's `ExpectationsTimeout`), in case a watch
/// event was lost.
const TIMEOUT: Duration = Duration::from_secs(5 * 60);

struct Pending {
    /// Names of the pods created.
    created: Vec<String>,
    /// Uids of the pods deleted.
    deleted: Vec<String>,
    since: Instant,
}

#[derive(Default)]
pub struct Expectations {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    /// Whether the cache's pods (`pods`, of the owner's namespace) show everything expected
    /// for `key`; a satisfied expectation is dropped.
    pub fn satisfied(&self, key: &str, pods: &[Arc<Pod>]) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let Some(p) = pending.get(key) else { return true };
        let seen = p.created.iter().all(|name| pods.iter().any(|pod| pod.metadata.name.as_ref() == Some(name)));
        let gone = p.deleted.iter().all(|uid| {
            pods.iter().all(|pod| pod.metadata.uid.as_ref() != Some(uid) || pod.metadata.deletion_timestamp.is_some())
        });
        let done = (seen && gone) || p.since.elapsed() > TIMEOUT;
        if done {
            pending.remove(key);
        }
        done
    }

    /// Expect the pods named `created` to appear and those with uids `deleted` to go.
    pub fn expect(&self, key: &str, created: Vec<String>, deleted: Vec<String>) {
        if created.is_empty() && deleted.is_empty() {
            return;
        }
        let pending = Pending { created, deleted, since: Instant::now() };
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_owned(), pending);
    }

    /// Stop waiting for `key` (its owner is gone).
    pub fn forget(&self, key: &str) {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(name: &str, deleting: bool) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                deletion_timestamp: deleting.then(|| Time(jiff::Timestamp::now())),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    #[test]
    fn creations_are_awaited_until_the_cache_shows_them() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/rs", &[]));
        e.expect("ns/rs", vec!["rs-a".into(), "rs-b".into()], vec![]);
        assert!(!e.satisfied("ns/rs", &[pod("rs-a", false)]));
        assert!(e.satisfied("ns/rs", &[pod("rs-a", false), pod("rs-b", false)]));
        assert!(e.satisfied("ns/rs", &[]), "a satisfied expectation is dropped");
    }

    #[test]
    fn deletions_are_awaited_until_the_pod_is_gone_or_terminating() {
        let e = Expectations::default();
        e.expect("ns/rs", vec![], vec!["uid-rs-a".into()]);
        assert!(!e.satisfied("ns/rs", &[pod("rs-a", false)]));
        assert!(e.satisfied("ns/rs", &[pod("rs-a", true)]));
        e.expect("ns/rs", vec![], vec!["uid-rs-a".into()]);
        e.forget("ns/rs");
        assert!(e.satisfied("ns/rs", &[pod("rs-a", false)]));
    }
}
