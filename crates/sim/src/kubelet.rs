//! One simulated kubelet's life: register its Node (retrying until the API server takes
//! it), then keep its Lease and status fresh and run its pods, until cancelled. Thousands
//! run side by side, so registrations are bounded in flight and each node's heartbeats
//! keep their own offset in the period instead of all firing at once.

use crate::pods::PodDriver;
use crate::source::Source;
use crate::{Error, LEASE_RENEW_INTERVAL, NodeSpec, STATUS_REPORT_INTERVAL, addresses, node};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::{Instant, MissedTickBehavior};

/// Node registrations in flight at once.
pub const REGISTRATIONS_IN_FLIGHT: usize = 64;
/// Heartbeat writes (Lease renewals, status reports) in flight at once.
pub const HEARTBEATS_IN_FLIGHT: usize = 32;
/// Pod writes (status reports, final deletes) in flight at once.
pub const POD_WRITES_IN_FLIGHT: usize = 64;

/// The bounds on API calls that all simulated nodes of one simulator share, so that
/// thousands of nodes neither stampede the API server nor open thousands of connections.
#[derive(Clone)]
pub struct Limits {
    registrations: Arc<Semaphore>,
    heartbeats: Arc<Semaphore>,
    pod_writes: Arc<Semaphore>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            registrations: Arc::new(Semaphore::new(REGISTRATIONS_IN_FLIGHT)),
            heartbeats: Arc::new(Semaphore::new(HEARTBEATS_IN_FLIGHT)),
            pod_writes: Arc::new(Semaphore::new(POD_WRITES_IN_FLIGHT)),
        }
    }
}

/// Where in each heartbeat period node `index` of `nodes` beats: the nodes' offsets are
/// spread evenly over the period, each in `(0, period]`.
pub fn heartbeat_offset(period: Duration, index: usize, nodes: usize) -> Duration {
    period.mul_f64(index.clamp(1, nodes.max(1)) as f64 / nodes.max(1) as f64)
}

/// One simulated node: who it is, how it talks to the API server, and where its pods come from.
pub struct Kubelet {
    pub spec: NodeSpec,
    pub client: kube::Client,
    /// The client to fall back to if the API server refuses `client` (see [`crate::Identity`]).
    pub fallback: Option<kube::Client>,
    pub source: Source,
    /// How many nodes the simulator runs (spreads the heartbeats).
    pub nodes: usize,
}

impl Kubelet {
    /// Register, then heartbeat and run pods; runs until cancelled.
    pub async fn run(self, limits: Limits) {
        let ready_since = node::now();
        let (client, node) = self.register(&limits, ready_since).await;
        let driver = Arc::new(PodDriver::new(
            client.clone(),
            self.spec.name.clone(),
            self.spec.internal_ip.to_string(),
            limits.pod_writes.clone(),
        ));
        let known = node.clone();
        let pod_range = async {
            let fallback = addresses::fallback_pod_cidr(self.spec.index);
            let cidr = self.source.pod_cidr(&client, &known, node::POD_CIDR_WAIT).await.unwrap_or(fallback.clone());
            let ips = addresses::PodIps::new(&cidr)
                .or_else(|| addresses::PodIps::new(&fallback))
                .expect("the fallback range is IPv4");
            driver.set_pod_range(ips);
        };
        tokio::join!(
            self.source.feed(&client, driver.clone()),
            pod_range,
            self.heartbeat(&client, &limits, node, ready_since)
        );
    }

    /// Create (or take over) the Node, report its status and create its Lease; retries
    /// until the API server takes it. Returns the client that worked and the Node.
    async fn register(&self, limits: &Limits, ready_since: Timestamp) -> (kube::Client, Node) {
        let spec = &self.spec;
        let mut client = self.client.clone();
        let mut delay = Duration::from_millis(200);
        loop {
            let registered = {
                let _permit = limits.registrations.acquire().await;
                match node::register(&client, spec, ready_since).await {
                    Ok(node) => {
                        if let Err(error) = node::create_lease(&client, &node).await {
                            tracing::warn!(node = %spec.name, %error, "creating the node lease failed");
                        }
                        Ok(node)
                    }
                    Err(error) => Err(error),
                }
            };
            match registered {
                Ok(node) => return (client, node),
                Err(Error::Api(kube::Error::Api(status))) if status.code == 403 && self.fallback.is_some() => {
                    tracing::warn!(node = %spec.name, message = %status.message,
                        "the API server refuses the node's own identity; simulating it with the fallback identity");
                    client = self.fallback.clone().expect("checked");
                }
                Err(error) => {
                    tracing::warn!(node = %spec.name, %error, "registering the simulated node failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Renew the Lease every [`LEASE_RENEW_INTERVAL`] and the status every
    /// [`STATUS_REPORT_INTERVAL`], each at this node's offset in the period.
    async fn heartbeat(&self, client: &kube::Client, limits: &Limits, mut node: Node, ready_since: Timestamp) {
        let spec = &self.spec;
        let every = |period: Duration| {
            let first = Instant::now() + heartbeat_offset(period, spec.index, self.nodes);
            let mut interval = tokio::time::interval_at(first, period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            interval
        };
        let mut lease = every(LEASE_RENEW_INTERVAL);
        let mut status = every(STATUS_REPORT_INTERVAL);
        loop {
            tokio::select! {
                _ = lease.tick() => {
                    let _permit = limits.heartbeats.acquire().await;
                    if let Err(error) = node::renew_lease(client, &node).await {
                        tracing::warn!(node = %spec.name, %error, "renewing the node lease failed");
                    }
                }
                _ = status.tick() => {
                    let _permit = limits.heartbeats.acquire().await;
                    match node::report_status(client, spec, ready_since).await {
                        Ok(reported) => node = reported,
                        Err(error) => tracing::warn!(node = %spec.name, %error, "reporting node status failed"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_are_spread_over_the_period() {
        let period = Duration::from_secs(10);
        let offsets: Vec<Duration> = (1..=4).map(|i| heartbeat_offset(period, i, 4)).collect();
        assert_eq!(offsets, [2500, 5000, 7500, 10_000].map(Duration::from_millis));
        assert_eq!(heartbeat_offset(period, 1, 1), period);
        let many: std::collections::BTreeSet<Duration> =
            (1..=5000).map(|i| heartbeat_offset(period, i, 5000)).collect();
        assert_eq!(many.len(), 5000);
        assert!(many.iter().all(|o| *o > Duration::ZERO && *o <= period));
    }
}
