//! The scheduling queue (upstream's `PriorityQueue`): pending pods wait in one of three
//! places. `active` pods are handed out highest priority first, then by when they were
//! queued — added, or last found unschedulable (upstream's PrioritySort); pods
//! whose last attempt failed wait out a per-pod exponential backoff; pods no node fits
//! wait in the unschedulable set until the cluster changes ([`SchedulingQueue::move_all`])
//! or [`UNSCHEDULABLE_FLUSH`] passes. A pod found unschedulable while the cluster changed
//! under its attempt goes to backoff instead, so the change is not missed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The backoff after a pod's first failed attempt; it doubles per attempt up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The longest a pod stays in the unschedulable set without a cluster change.
pub const UNSCHEDULABLE_FLUSH: Duration = Duration::from_secs(5 * 60);

/// How a pod's scheduling attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Bound (or no longer needing a node): the pod leaves the queue.
    Scheduled,
    /// No node fits: wait for a cluster change.
    Unschedulable,
    /// The attempt failed (binding refused, API error): retry after the backoff.
    Failed,
}

/// A pod's place in line, which it keeps through backoff and the unschedulable set.
#[derive(Clone, Copy)]
struct Waiting {
    priority: i32,
    /// When the pod was queued (a counter): ties in priority go to the earlier.
    order: u64,
}

/// The active pods, in the order they are handed out.
struct Active<K> {
    by_key: HashMap<K, Waiting>,
    /// (highest priority first, then earliest queued) → pod; `order` makes each entry unique.
    in_line: BTreeMap<(Reverse<i32>, u64), K>,
}

impl<K: Clone + Eq + Hash> Active<K> {
    fn insert(&mut self, key: K, waiting: Waiting) {
        if let Some(old) = self.by_key.insert(key.clone(), waiting) {
            self.in_line.remove(&(Reverse(old.priority), old.order));
        }
        self.in_line.insert((Reverse(waiting.priority), waiting.order), key);
    }

    fn remove(&mut self, key: &K) -> Option<Waiting> {
        let waiting = self.by_key.remove(key)?;
        self.in_line.remove(&(Reverse(waiting.priority), waiting.order));
        Some(waiting)
    }

    fn set_priority(&mut self, key: &K, priority: i32) -> bool {
        let Some(&waiting) = self.by_key.get(key) else { return false };
        self.insert(key.clone(), Waiting { priority, ..waiting });
        true
    }

    fn pop_first(&mut self) -> Option<(K, Waiting)> {
        let (_, key) = self.in_line.pop_first()?;
        let waiting = self.by_key.remove(&key)?;
        Some((key, waiting))
    }
}

struct InFlight {
    priority: i32,
    /// The cluster-change count when the attempt started.
    move_cycle: u64,
    /// The pod changed during the attempt.
    updated: bool,
}

struct State<K> {
    active: Active<K>,
    /// Pods waiting out their backoff, and when it ends.
    backoff: HashMap<K, (Waiting, Instant)>,
    /// Unschedulable pods, and since when.
    unschedulable: HashMap<K, (Waiting, Instant)>,
    in_flight: HashMap<K, InFlight>,
    /// Failed attempts per pod and when the last one ended.
    attempts: HashMap<K, (u32, Instant)>,
    move_cycle: u64,
    next_order: u64,
    closed: bool,
}

/// The queue of pods to schedule. Clones share one queue.
pub struct SchedulingQueue<K> {
    state: Arc<Mutex<State<K>>>,
    wake: Arc<Notify>,
}

impl<K> Clone for SchedulingQueue<K> {
    fn clone(&self) -> Self {
        SchedulingQueue { state: self.state.clone(), wake: self.wake.clone() }
    }
}

impl<K: Clone + Eq + Hash> Default for SchedulingQueue<K> {
    fn default() -> Self {
        Self::new()
    }
}

/// The backoff after `attempts` failed attempts.
pub fn backoff_for(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (INITIAL_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

impl<K: Clone + Eq + Hash> State<K> {
    /// A place in line from now on.
    fn stamp(&mut self, priority: i32) -> Waiting {
        let order = self.next_order;
        self.next_order += 1;
        Waiting { priority, order }
    }

    /// Active if the pod's backoff is over, else the backoff queue.
    fn requeue(&mut self, key: K, waiting: Waiting, now: Instant) {
        match self.attempts.get(&key) {
            Some((attempts, last)) if *last + backoff_for(*attempts) > now => {
                self.backoff.insert(key, (waiting, *last + backoff_for(*attempts)));
            }
            _ => {
                self.active.insert(key, waiting);
            }
        }
    }

    /// Move pods whose backoff or unschedulable stay is over into `active`; returns when
    /// the next one is due.
    fn promote(&mut self, now: Instant) -> Option<Instant> {
        let done: Vec<K> = self.backoff.iter().filter(|(_, (_, at))| *at <= now).map(|(k, _)| k.clone()).collect();
        for key in done {
            if let Some((waiting, _)) = self.backoff.remove(&key) {
                self.active.insert(key, waiting);
            }
        }
        let stale: Vec<K> = self
            .unschedulable
            .iter()
            .filter(|(_, (_, since))| *since + UNSCHEDULABLE_FLUSH <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some((waiting, _)) = self.unschedulable.remove(&key) {
                self.requeue(key, waiting, now);
            }
        }
        let backoff_due = self.backoff.values().map(|(_, at)| *at);
        let flush_due = self.unschedulable.values().map(|(_, since)| *since + UNSCHEDULABLE_FLUSH);
        backoff_due.chain(flush_due).min()
    }
}

impl<K: Clone + Eq + Hash> SchedulingQueue<K> {
    pub fn new() -> Self {
        let state = State {
            active: Active { by_key: HashMap::new(), in_line: BTreeMap::new() },
            backoff: HashMap::new(),
            unschedulable: HashMap::new(),
            in_flight: HashMap::new(),
            attempts: HashMap::new(),
            move_cycle: 0,
            next_order: 0,
            closed: false,
        };
        SchedulingQueue { state: Arc::new(Mutex::new(state)), wake: Arc::new(Notify::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // Every update is one step, so a panic while holding the lock leaves it consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A pending pod was added or changed. A waiting pod stays where it is; an
    /// unschedulable one is worth another look (its change may make it fit).
    pub fn add(&self, key: K, priority: i32) {
        let mut state = self.lock();
        if let Some(flight) = state.in_flight.get_mut(&key) {
            flight.updated = true;
            return;
        }
        if state.active.set_priority(&key, priority) {
            return;
        }
        if let Some(entry) = state.backoff.get_mut(&key) {
            entry.0.priority = priority;
            return;
        }
        state.unschedulable.remove(&key);
        let waiting = state.stamp(priority);
        state.requeue(key, waiting, Instant::now());
        drop(state);
        self.wake.notify_one();
    }

    /// The pod is gone or no longer pending.
    pub fn delete(&self, key: &K) {
        let mut state = self.lock();
        state.active.remove(key);
        state.backoff.remove(key);
        state.unschedulable.remove(key);
        state.attempts.remove(key);
        state.in_flight.remove(key);
    }

    /// The cluster changed (a node appeared or changed, a pod went away): every
    /// unschedulable pod gets another attempt once its backoff is over.
    pub fn move_all(&self) {
        let mut state = self.lock();
        state.move_cycle += 1;
        let now = Instant::now();
        let waiting: Vec<(K, (Waiting, Instant))> = state.unschedulable.drain().collect();
        for (key, (waiting, _)) in waiting {
            state.requeue(key, waiting, now);
        }
        drop(state);
        self.wake.notify_one();
    }

    /// The next pod to schedule; `None` once the queue is closed. Report with [`Self::done`].
    pub async fn pop(&self) -> Option<K> {
        loop {
            let woken = self.wake.notified();
            let next_due = {
                let mut state = self.lock();
                if state.closed {
                    return None;
                }
                let next_due = state.promote(Instant::now());
                if let Some((key, waiting)) = state.active.pop_first() {
                    let move_cycle = state.move_cycle;
                    state
                        .in_flight
                        .insert(key.clone(), InFlight { priority: waiting.priority, move_cycle, updated: false });
                    return Some(key);
                }
                next_due
            };
            match next_due {
                Some(at) => {
                    tokio::select! {
                        () = woken => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => woken.await,
            }
        }
    }

    /// How the attempt on `key` (from [`Self::pop`]) ended.
    pub fn done(&self, key: &K, outcome: Outcome) {
        let mut state = self.lock();
        let Some(flight) = state.in_flight.remove(key) else { return };
        let now = Instant::now();
        if outcome == Outcome::Scheduled {
            state.attempts.remove(key);
            return;
        }
        let attempts = state.attempts.get(key).map_or(0, |(n, _)| *n) + 1;
        state.attempts.insert(key.clone(), (attempts, now));
        let missed_a_change = flight.updated || state.move_cycle > flight.move_cycle;
        let waiting = state.stamp(flight.priority);
        if outcome == Outcome::Unschedulable && !missed_a_change {
            state.unschedulable.insert(key.clone(), (waiting, now));
        } else {
            state.requeue(key.clone(), waiting, now);
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Wake every [`Self::pop`] with `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_waiters();
    }

    /// How many pods wait in each place: (active, backoff, unschedulable).
    pub fn lengths(&self) -> (usize, usize, usize) {
        let state = self.lock();
        (state.active.by_key.len(), state.backoff.len(), state.unschedulable.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn higher_priority_then_older_first() {
        let queue = SchedulingQueue::new();
        queue.add("low", 0);
        queue.add("high", 10);
        queue.add("low2", 0);
        assert_eq!(queue.pop().await, Some("high"));
        assert_eq!(queue.pop().await, Some("low"));
        assert_eq!(queue.pop().await, Some("low2"));
    }

    #[tokio::test(start_paused = true)]
    async fn moved_pods_keep_the_order_they_were_queued_in() {
        let queue = SchedulingQueue::new();
        for key in ["a", "b", "c"] {
            queue.add(key, 0);
        }
        for key in ["a", "b", "c"] {
            assert_eq!(queue.pop().await, Some(key));
        }
        // Found unschedulable in the order b, c, a; all moved back at once.
        for key in ["b", "c", "a"] {
            queue.done(&key, Outcome::Unschedulable);
        }
        tokio::time::sleep(MAX_BACKOFF).await;
        queue.add("high", 5);
        queue.move_all();
        let popped = [queue.pop().await, queue.pop().await, queue.pop().await, queue.pop().await];
        assert_eq!(popped, [Some("high"), Some("b"), Some("c"), Some("a")]);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_pods_back_off_exponentially() {
        let queue = SchedulingQueue::new();
        queue.add("p", 0);
        let key = queue.pop().await.unwrap();
        queue.done(&key, Outcome::Failed);
        assert_eq!(queue.lengths(), (0, 1, 0));
        let start = Instant::now();
        assert_eq!(queue.pop().await, Some("p"));
        assert_eq!(start.elapsed(), INITIAL_BACKOFF);
        queue.done(&"p", Outcome::Failed);
        let start = Instant::now();
        queue.pop().await.unwrap();
        assert_eq!(start.elapsed(), INITIAL_BACKOFF * 2);
        assert_eq!(backoff_for(10), MAX_BACKOFF);
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_wait_for_a_cluster_change() {
        let queue = SchedulingQueue::new();
        queue.add("p", 0);
        queue.pop().await.unwrap();
        queue.done(&"p", Outcome::Unschedulable);
        assert_eq!(queue.lengths(), (0, 0, 1));
        // Nothing changes for a while: the pod stays put.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(queue.lengths(), (0, 0, 1));
        queue.move_all();
        assert_eq!(queue.lengths(), (1, 0, 0));
        assert_eq!(queue.pop().await, Some("p"));
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_are_flushed_after_a_while() {
        let queue = SchedulingQueue::new();
        queue.add("p", 0);
        queue.pop().await.unwrap();
        queue.done(&"p", Outcome::Unschedulable);
        let start = Instant::now();
        assert_eq!(queue.pop().await, Some("p"));
        assert_eq!(start.elapsed(), UNSCHEDULABLE_FLUSH);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_during_the_attempt_is_not_missed() {
        let queue = SchedulingQueue::new();
        queue.add("p", 0);
        queue.pop().await.unwrap();
        queue.move_all();
        queue.done(&"p", Outcome::Unschedulable);
        assert_eq!(queue.lengths(), (0, 1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn deleted_and_scheduled_pods_leave() {
        let queue = SchedulingQueue::new();
        queue.add("a", 0);
        queue.add("b", 0);
        queue.delete(&"a");
        assert_eq!(queue.pop().await, Some("b"));
        queue.done(&"b", Outcome::Scheduled);
        assert_eq!(queue.lengths(), (0, 0, 0));
        queue.close();
        assert_eq!(queue.pop().await, None);
    }
}
