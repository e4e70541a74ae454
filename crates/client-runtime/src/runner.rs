//! The loop every controller shares: informer → [`WorkQueue`] → workers. A controller
//! is a [`Reconciler`] (its `reconcile` and `error_policy`); [`run_workers`] hands each key to
//! one worker at a time and turns the outcome into the key's next visit, once the shared
//! [`crate::informers`] it reads have listed.

use crate::queue::WorkQueue;
use std::fmt::Debug;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

/// What a successful reconcile asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing until the key is queued again by a change.
    Done,
    /// Look again after this long (the work is not finished but nothing failed).
    RequeueAfter(Duration),
}

/// When a failed key is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// After the key's exponential failure delay.
    RateLimited,
    /// After exactly this long.
    After(Duration),
}

/// One controller: how it settles a key, and how it retries a key that failed.
pub trait Reconciler: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    /// Why a reconcile failed (logged, and handed to [`Self::error_policy`]).
    type Error: Display + Send + 'static;
    /// The name in logs (upstream's controller name).
    const NAME: &'static str;

    fn reconcile(&self, key: &Self::Key) -> impl Future<Output = Result<Action, Self::Error>> + Send;

    fn error_policy(&self, key: &Self::Key, error: &Self::Error) -> Retry;
}

/// Process `queue` with `workers` concurrent workers until the queue shuts down.
pub async fn run_workers<R: Reconciler>(reconciler: Arc<R>, queue: WorkQueue<R::Key>, workers: usize) {
    futures::future::join_all((0..workers.max(1)).map(|_| worker(reconciler.clone(), queue.clone()))).await;
}

/// [`run_workers`] once `synced` reports that every cache the reconciler reads has listed
/// (upstream's `WaitForCacheSync`): before that a cache misses objects that exist, and a
/// reconcile would act on that. Returns at once when `synced` reports `false`.
pub async fn run_workers_when_synced<R: Reconciler>(
    reconciler: Arc<R>,
    queue: WorkQueue<R::Key>,
    workers: usize,
    synced: impl Future<Output = bool>,
) {
    if synced.await {
        run_workers(reconciler, queue, workers).await;
    }
}

async fn worker<R: Reconciler>(reconciler: Arc<R>, queue: WorkQueue<R::Key>) {
    while let Some(key) = queue.get().await {
        match reconciler.reconcile(&key).await {
            Ok(Action::Done) => queue.forget(&key),
            Ok(Action::RequeueAfter(delay)) => {
                queue.forget(&key);
                queue.add_after(key.clone(), delay);
            }
            Err(error) => {
                let failures = queue.failures(&key);
                tracing::warn!(controller = R::NAME, ?key, failures, %error, "reconcile failed; will retry");
                match reconciler.error_policy(&key, &error) {
                    Retry::RateLimited => queue.add_rate_limited(key.clone()),
                    Retry::After(delay) => queue.add_after(key.clone(), delay),
                }
            }
        }
        queue.done(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Fails a key twice, then asks to look again once, then settles.
    struct Flaky {
        calls: Mutex<Vec<&'static str>>,
    }

    impl Reconciler for Flaky {
        type Key = &'static str;
        type Error = String;
        const NAME: &'static str = "flaky";

        async fn reconcile(&self, key: &&'static str) -> Result<Action, String> {
            let n = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(key);
                calls.len()
            };
            match n {
                1 | 2 => Err("not yet".to_owned()),
                3 => Ok(Action::RequeueAfter(Duration::from_millis(10))),
                _ => Ok(Action::Done),
            }
        }

        fn error_policy(&self, _key: &&'static str, _error: &String) -> Retry {
            Retry::RateLimited
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failures_and_requeues_bring_the_key_back_until_done() {
        let reconciler = Arc::new(Flaky { calls: Mutex::new(Vec::new()) });
        let queue = WorkQueue::new();
        queue.add("a");
        let workers = tokio::spawn(run_workers(reconciler.clone(), queue.clone(), 2));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(*reconciler.calls.lock().unwrap(), ["a", "a", "a", "a"]);
        assert_eq!(queue.failures(&"a"), 0, "success forgets the failures");
        queue.shut_down();
        workers.await.unwrap();
    }
}
