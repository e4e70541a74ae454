//! Counting objects through a watch: how many exist and how many satisfy a condition
//! (a Node Ready, a pod Running or bound), kept current by one watcher, and bounded waits
//! until those counts reach a goal.

use futures::StreamExt;
use k8s_openapi::serde::de::DeserializeOwned;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What a tracker sees right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Objects that exist.
    pub total: usize,
    /// Objects that satisfy the tracker's condition.
    pub matching: usize,
}

/// How a bounded wait ended.
#[derive(Clone, Copy, Debug)]
pub struct Waited {
    pub elapsed: Duration,
    pub counts: Counts,
    pub timed_out: bool,
}

/// A watch over one collection, counting its objects; stops when dropped.
pub struct Tracker {
    counts: watch::Receiver<Counts>,
    task: JoinHandle<()>,
}

impl Tracker {
    /// Watch `api` (narrowed by `config`), counting the objects for which `matches` holds.
    pub fn start<K>(api: Api<K>, config: watcher::Config, matches: fn(&K) -> bool) -> Tracker
    where
        K: kube::Resource + Clone + Debug + DeserializeOwned + Send + 'static,
    {
        let (tx, counts) = watch::channel(Counts::default());
        let task = tokio::spawn(async move {
            let mut state = State::default();
            let events = watcher(api, config).default_backoff();
            let mut events = std::pin::pin!(events);
            while let Some(event) = events.next().await {
                let Ok(event) = event else { continue };
                let key = |object: &K| format!("{}/{}", object.namespace().unwrap_or_default(), object.name_any());
                let changed = match event {
                    Event::Init => state.begin_relist(),
                    Event::InitApply(object) => state.relisted(key(&object), matches(&object)),
                    Event::InitDone => state.end_relist(),
                    Event::Apply(object) => state.apply(key(&object), matches(&object)),
                    Event::Delete(object) => state.delete(&key(&object)),
                };
                if changed {
                    tx.send_replace(state.counts());
                }
            }
        });
        Tracker { counts, task }
    }

    pub fn counts(&self) -> Counts {
        *self.counts.borrow()
    }

    /// Wait until `done` holds for the counts, or `timeout` passed since `since`.
    pub async fn wait(&self, since: Instant, timeout: Duration, done: impl Fn(Counts) -> bool) -> Waited {
        let mut counts = self.counts.clone();
        let reached = tokio::time::timeout_at(since + timeout, counts.wait_for(|c| done(*c))).await;
        let timed_out = !matches!(reached, Ok(Ok(_)));
        Waited { elapsed: since.elapsed(), counts: self.counts(), timed_out }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Objects by key (whether each matches) and how many match; a relist builds a fresh map
/// and replaces the old one only when complete, so the counts never dip while it runs.
#[derive(Default)]
struct State {
    objects: HashMap<String, bool>,
    matching: usize,
    relist: Option<HashMap<String, bool>>,
}

impl State {
    fn counts(&self) -> Counts {
        Counts { total: self.objects.len(), matching: self.matching }
    }

    fn begin_relist(&mut self) -> bool {
        self.relist = Some(HashMap::new());
        false
    }

    fn relisted(&mut self, key: String, matches: bool) -> bool {
        self.relist.get_or_insert_default().insert(key, matches);
        false
    }

    fn end_relist(&mut self) -> bool {
        self.objects = self.relist.take().unwrap_or_default();
        self.matching = self.objects.values().filter(|m| **m).count();
        true
    }

    fn apply(&mut self, key: String, matches: bool) -> bool {
        let before = self.objects.insert(key, matches);
        self.matching = self.matching + usize::from(matches) - usize::from(before == Some(true));
        before != Some(matches)
    }

    fn delete(&mut self, key: &str) -> bool {
        let before = self.objects.remove(key);
        self.matching -= usize::from(before == Some(true));
        before.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_events_and_relists_replace_whole() {
        let mut state = State::default();
        assert!(state.apply("a".into(), false));
        assert!(state.apply("a".into(), true));
        assert!(!state.apply("a".into(), true), "no change, no update");
        assert!(state.apply("b".into(), false));
        assert_eq!(state.counts(), Counts { total: 2, matching: 1 });
        state.begin_relist();
        state.relisted("b".into(), true);
        assert_eq!(state.counts(), Counts { total: 2, matching: 1 }, "unchanged until the relist ends");
        assert!(state.end_relist());
        assert_eq!(state.counts(), Counts { total: 1, matching: 1 });
        assert!(state.delete("b"));
        assert!(!state.delete("b"));
        assert_eq!(state.counts(), Counts::default());
    }
}
