//! The Krust scheduler (upstream's `default-scheduler`): an API client of the Krust API
//! server, identified as `system:kube-scheduler`, that assigns pending pods to nodes.
//!
//! - [`framework`]: what plugins see ([`framework::NodeInfo`], [`framework::Snapshot`]) and
//!   their traits ([`framework::FilterPlugin`], [`framework::ScorePlugin`]);
//! - [`plugins`]: the default profile, one plugin per file;
//! - [`cache`]: nodes with the pods bound or assumed there, kept event by event, and the
//!   cheap per-cycle snapshot update; [`nominator`]: pods nominated by preemption;
//! - [`cycle`]: filter (counting nominated pods) until enough nodes fit, score, pick — or
//!   upstream's `0/N nodes are available` explanation;
//! - [`preemption`]: DefaultPreemption, evicting lower-priority pods for a pod that fits nowhere;
//! - [`queue`]: active pods (highest priority first, then earliest queued), per-pod backoff, and the unschedulable set retried when the
//!   cluster changes;
//! - [`scheduler`]: the watches, the loop, binding through `pods/binding` in the background;
//! - [`report`]: the `PodScheduled=False` condition and the scheduling Events;
//! - [`volume_binding`]: claims that wait for a consumer get the chosen node before binding.
//!
//! Start with [`client`] and [`run`].

pub mod cache;
pub mod cycle;
pub mod framework;
pub mod nominator;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod report;
pub mod scheduler;
pub mod volume_binding;

use std::future::Future;

/// The user the API server knows the scheduler as.
pub const USER: &str = "system:kube-scheduler";
/// The `spec.schedulerName` this scheduler serves, and its name on Events.
pub const SCHEDULER_NAME: &str = "default-scheduler";
/// The component named in Events.
pub const COMPONENT: &str = "default-scheduler";

/// Why the scheduler could not do something.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("building the scheduler's client: {0}")]
    Client(#[from] client_runtime::Error),
}

/// A client for the API server at `server_url` (`https://host:port`), authenticated as
/// [`USER`] with a certificate freshly issued by `pki`'s CA, trusting that CA.
pub async fn client(pki: &pki::Pki, server_url: &str) -> Result<kube::Client, Error> {
    Ok(client_runtime::client::component_client(pki, server_url, USER, &[]).await?)
}

/// Schedule pods until `shutdown` resolves.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    tokio::select! {
        result = scheduler::Scheduler::run(client) => result,
        () = shutdown => Ok(()),
    }
}
