//! A work queue with client-go's guarantees: a key waits in the queue at most once however
//! often it is added, a key is handed to one worker at a time (a key added while it is
//! being processed is queued again when that worker is done), and failed keys come back
//! after a per-key exponential delay.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// The first retry delay of a failing key; it doubles with every further failure.
const BASE_DELAY: Duration = Duration::from_millis(5);
/// The longest a failing key waits before its next attempt.
const MAX_DELAY: Duration = Duration::from_secs(1000);

struct State<K> {
    queue: VecDeque<K>,
    /// Keys waiting to be processed (in `queue`, or to re-queue when their worker is done).
    dirty: HashSet<K>,
    processing: HashSet<K>,
    failures: HashMap<K, u32>,
    shutting_down: bool,
}

/// A de-duplicating, rate-limited queue of keys. Clones share the same queue.
pub struct WorkQueue<K> {
    state: Arc<Mutex<State<K>>>,
    wake: Arc<Notify>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue { state: self.state.clone(), wake: self.wake.clone() }
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    pub fn new() -> Self {
        let state = State {
            queue: VecDeque::new(),
            dirty: HashSet::new(),
            processing: HashSet::new(),
            failures: HashMap::new(),
            shutting_down: false,
        };
        WorkQueue { state: Arc::new(Mutex::new(state)), wake: Arc::new(Notify::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // A panic while holding the lock leaves the sets consistent (every update is one step).
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queue `key` unless it is already waiting.
    pub fn add(&self, key: K) {
        let mut state = self.lock();
        if state.shutting_down || !state.dirty.insert(key.clone()) {
            return;
        }
        if !state.processing.contains(&key) {
            state.queue.push_back(key);
            self.wake.notify_one();
        }
    }

    /// Queue `key` once `delay` has passed.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(key);
        });
    }

    /// Queue `key` after its failure delay, which doubles with each call until [`Self::forget`].
    pub fn add_rate_limited(&self, key: K) {
        let delay = {
            let mut state = self.lock();
            let failures = state.failures.entry(key.clone()).or_insert(0);
            *failures += 1;
            failure_delay(*failures)
        };
        self.add_after(key, delay);
    }

    /// Reset the failure count of `key` (it succeeded).
    pub fn forget(&self, key: &K) {
        self.lock().failures.remove(key);
    }

    /// How many times `key` failed since it last succeeded.
    pub fn failures(&self, key: &K) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// The next key to process; `None` once the queue shuts down. Call [`Self::done`] after.
    pub async fn get(&self) -> Option<K> {
        loop {
            // Registered before looking, so an `add` or `shut_down` in between is not missed.
            let woken = self.wake.notified();
            {
                let mut state = self.lock();
                if state.shutting_down {
                    return None;
                }
                if let Some(key) = state.queue.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    if !state.queue.is_empty() {
                        // Let another idle worker take the next key.
                        self.wake.notify_one();
                    }
                    return Some(key);
                }
            }
            woken.await;
        }
    }

    /// Finish processing `key`; if it was added meanwhile it goes back in the queue.
    pub fn done(&self, key: &K) {
        let mut state = self.lock();
        state.processing.remove(key);
        if state.dirty.contains(key) {
            state.queue.push_back(key.clone());
            self.wake.notify_one();
        }
    }

    /// Stop handing out keys: every pending and future `get` returns `None`.
    pub fn shut_down(&self) {
        self.lock().shutting_down = true;
        self.wake.notify_waiters();
    }

    /// How many keys wait in the queue.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// upstream's `ItemExponentialFailureRateLimiter(5ms, 1000s)`.
fn failure_delay(failures: u32) -> Duration {
    BASE_DELAY.saturating_mul(1u32 << failures.saturating_sub(1).min(31)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_key_is_queued_once() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, Some("b"));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn a_key_added_while_processing_comes_back_after_done() {
        let q = WorkQueue::new();
        q.add("a");
        let key = q.get().await.unwrap();
        q.add("a");
        assert!(q.is_empty(), "not handed to a second worker while the first holds it");
        q.done(&key);
        assert_eq!(q.get().await, Some("a"));
    }

    #[tokio::test]
    async fn shut_down_releases_waiting_workers() {
        let q: WorkQueue<&str> = WorkQueue::new();
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(waiter.await.unwrap(), None);
        q.add("late");
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_until_forgotten() {
        let q = WorkQueue::new();
        q.add_rate_limited("a");
        q.add_rate_limited("a");
        assert_eq!(q.failures(&"a"), 2);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(q.get().await, Some("a"));
        q.forget(&"a");
        assert_eq!(q.failures(&"a"), 0);
    }

    #[test]
    fn failure_delay_doubles_up_to_the_cap() {
        assert_eq!(failure_delay(1), Duration::from_millis(5));
        assert_eq!(failure_delay(2), Duration::from_millis(10));
        assert_eq!(failure_delay(4), Duration::from_millis(40));
        assert_eq!(failure_delay(40), MAX_DELAY);
    }
}
