//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`
//! does it, so that of several control planes sharing one store only one controller
//! manager and one scheduler act at a time.
//!
//! Candidates try every retry period to take the Lease (create it, or take it over once its
//! holder has not renewed it for a whole term); the holder renews it, and steps down when it
//! cannot renew within the renew deadline. [`run`] runs a component only while this process
//! leads, restarting it if leadership comes back. Writes are compare-and-swap on the Lease's
//! `resourceVersion`, so two candidates never both win a round.

mod lease;
mod record;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

pub use lease::LeaseLock;

/// The Lease's namespace for control-plane components.
pub const NAMESPACE: &str = "kube-system";

/// Why an election stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error<E> {
    #[error("the component failed while leading: {0}")]
    Component(E),
}

/// Timings, with upstream's defaults (`--leader-elect-lease-duration` and friends).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long a standby waits after the last change it saw before taking over.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews.
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// An identity unique to this process: the host name and a random suffix, as upstream's
/// components make theirs.
pub fn process_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let host = if host.is_empty() { "krust" } else { host };
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// A future telling a component to stop: leadership was lost or the process is stopping.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Run `component` whenever `lock` is held, until `shutdown` resolves. The component gets a
/// [`Stop`] that fires when leadership is lost; it is started afresh if this process leads
/// again. On shutdown the lease is released so a standby takes over at once.
pub async fn run<C, F, E>(
    lock: LeaseLock,
    timing: Timing,
    shutdown: impl Future<Output = ()>,
    mut component: C,
) -> Result<(), Error<E>>
where
    C: FnMut(Stop) -> F,
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: Send + 'static,
{
    let mut elector = Elector { lock, timing, observed: record::Observed::new(Instant::now()) };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = elector.acquire() => {}
            () = &mut shutdown => return Ok(()),
        }
        tracing::info!(lease = %elector.lock.name(), identity = %elector.lock.identity(), "became leader");
        elector.lock.record_leader_event().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut leading = tokio::spawn(component(Box::pin(async move { stopped.await.unwrap_or_default() })));
        let outcome = tokio::select! {
            () = elector.keep_renewing() => None,
            joined = &mut leading => Some(joined),
            () = &mut shutdown => {
                let _ = stop.send(());
                let _ = leading.await;
                elector.release().await;
                return Ok(());
            }
        };
        match outcome {
            None => {
                tracing::warn!(lease = %elector.lock.name(), "leader election lost");
                let _ = stop.send(());
                let _ = leading.await;
            }
            Some(finished) => {
                elector.release().await;
                return match finished {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(error)) => Err(Error::Component(error)),
                    Err(failed) => std::panic::resume_unwind(failed.into_panic()),
                };
            }
        }
    }
}

/// One candidate's view of the election.
struct Elector {
    lock: LeaseLock,
    timing: Timing,
    observed: record::Observed,
}

impl Elector {
    /// Return once this candidate holds the lease.
    async fn acquire(&mut self) {
        let mut ticks = tokio::time::interval(self.timing.retry_period);
        loop {
            ticks.tick().await;
            if self.try_acquire_or_renew().await {
                return;
            }
        }
    }

    /// Renew every retry period; return when a whole renew deadline passed without a renewal.
    async fn keep_renewing(&mut self) {
        let mut ticks = tokio::time::interval(self.timing.retry_period);
        let mut renewed = Instant::now();
        loop {
            ticks.tick().await;
            if self.try_acquire_or_renew().await {
                renewed = Instant::now();
            } else if renewed.elapsed() >= self.timing.renew_deadline {
                return;
            }
        }
    }

    /// One round: read the lease and write ourselves into it if it is ours or free.
    async fn try_acquire_or_renew(&mut self) -> bool {
        let now = Instant::now();
        let current = match self.lock.get().await {
            Ok(current) => current,
            Err(error) => {
                tracing::debug!(%error, lease = %self.lock.name(), "reading the lease failed");
                return false;
            }
        };
        let Some((spec, resource_version)) = current else {
            let spec = record::claimed(None, &self.observed, self.lock.identity(), self.timing.lease_duration);
            return self.written(self.lock.create(&spec).await, &spec, now);
        };
        self.observed.note(&spec, now);
        if self.observed.held_by_other(self.lock.identity(), now) {
            return false;
        }
        let claimed = record::claimed(Some(&spec), &self.observed, self.lock.identity(), self.timing.lease_duration);
        self.written(self.lock.replace(&claimed, &resource_version).await, &claimed, now)
    }

    /// Whether a write of `spec` succeeded; a success is what we now observe.
    fn written(
        &mut self,
        result: Result<(), kube::Error>,
        spec: &k8s_openapi::api::coordination::v1::LeaseSpec,
        now: Instant,
    ) -> bool {
        match result {
            Ok(()) => {
                self.observed.note(spec, now);
                true
            }
            Err(error) => {
                // A conflict is another candidate winning this round: not worth a log line.
                tracing::debug!(%error, lease = %self.lock.name(), "writing the lease failed");
                false
            }
        }
    }

    /// Step down: write a released record if the lease is still ours.
    async fn release(&mut self) {
        let Ok(Some((spec, resource_version))) = self.lock.get().await else { return };
        if spec.holder_identity.as_deref() != Some(self.lock.identity()) {
            return;
        }
        if let Err(error) = self.lock.replace(&record::released(&self.observed), &resource_version).await {
            tracing::warn!(%error, lease = %self.lock.name(), "releasing the lease failed");
        }
    }
}
