//! The controller manager: Kubernetes controllers that run as ordinary API clients of the
//! Krust API server (they never touch its store).
//!
//! Every controller is a [`runner::Reconciler`] fed by the shared [`runner`] loop (watch →
//! cache → de-duplicating, rate-limited [`queue::WorkQueue`] → workers):
//! - [`garbagecollector`]: ownerReferences, the `orphan` and `foregroundDeletion`
//!   finalizers, and deleting objects whose owners are gone;
//! - [`namespace`]: empties a deleted namespace and removes its `kubernetes` finalizer.
//!
//! Start with [`client`] and [`run`].

pub mod discovery;
pub mod garbagecollector;
pub mod namespace;
pub mod queue;
pub mod runner;

mod client;

pub use client::{USER, client};

use std::future::Future;

/// Why a controller could not finish a step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("building the controller manager's client: {0}")]
    Identity(#[from] pki::Error),
    #[error("building the controller manager's client: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("unable to find a served resource for {api_version}, Kind={kind}")]
    UnknownKind { api_version: String, kind: String },
    #[error("{0}")]
    Content(String),
}

/// Run every controller until `shutdown` resolves (or one of them fails to start).
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    let controllers =
        async { tokio::try_join!(garbagecollector::run(client.clone()), namespace::run(client.clone())).map(|_| ()) };
    tokio::select! {
        result = controllers => result,
        () = shutdown => Ok(()),
    }
}
