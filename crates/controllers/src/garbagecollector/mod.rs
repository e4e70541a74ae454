//! The garbage collector (upstream's `garbagecollector` controller): a [`graph`] of owners
//! and dependents built from watches of every served resource ([`monitors`]), and two
//! reconcilers over its nodes: [`attempt_to_delete`] (dependents of missing or
//! foreground-deleting owners, and the `foregroundDeletion` finalizer) and
//! [`attempt_to_orphan`] (the `orphan` finalizer).

pub mod attempt_to_delete;
pub mod attempt_to_orphan;
pub mod graph;
pub mod live;
pub mod monitors;

use crate::Error;
use crate::discovery::ServedResources;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::run_workers;
use graph::{Graph, Node, Work};
use std::sync::{Arc, Mutex, MutexGuard};

/// Workers per queue (upstream's `--concurrent-gc-syncs` is 20 over both).
const DELETE_WORKERS: usize = 5;
const ORPHAN_WORKERS: usize = 2;

/// What the collector's reconcilers share.
pub struct GarbageCollector {
    pub client: kube::Client,
    pub served: ServedResources,
    graph: Mutex<Graph>,
    pub attempt_to_delete: WorkQueue<String>,
    pub attempt_to_orphan: WorkQueue<String>,
}

impl GarbageCollector {
    pub fn new(client: kube::Client, served: ServedResources) -> Self {
        GarbageCollector {
            client,
            served,
            graph: Mutex::new(Graph::default()),
            attempt_to_delete: WorkQueue::new(),
            attempt_to_orphan: WorkQueue::new(),
        }
    }

    /// The graph, for one short step (never held across an await).
    pub fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A copy of the node of `uid`.
    pub fn node(&self, uid: &str) -> Option<Node> {
        self.graph().node(uid).cloned()
    }

    /// Queue the work a graph change produced.
    pub fn enqueue(&self, work: Vec<Work>) {
        for w in work {
            match w {
                Work::AttemptToDelete(uid) => self.attempt_to_delete.add(uid),
                Work::AttemptToOrphan(uid) => self.attempt_to_orphan.add(uid),
            }
        }
    }
}

/// Discover the served resources, watch every one that can be listed, watched and deleted,
/// and once every watch has listed, process both queues. Runs until cancelled.
pub async fn run(client: kube::Client) -> Result<(), Error> {
    let served = ServedResources::discover(&client).await?;
    let gc = Arc::new(GarbageCollector::new(client, served));
    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
    let graph_builder = monitors::run(gc.clone(), synced_tx);
    let workers = async {
        if synced_rx.await.is_err() {
            return;
        }
        tracing::info!(objects = gc.graph().len(), "garbage collector: all resource monitors have synced");
        let deleter = Arc::new(attempt_to_delete::AttemptToDelete { gc: gc.clone() });
        let orphaner = Arc::new(attempt_to_orphan::AttemptToOrphan { gc: gc.clone() });
        tokio::join!(
            run_workers(deleter, gc.attempt_to_delete.clone(), DELETE_WORKERS),
            run_workers(orphaner, gc.attempt_to_orphan.clone(), ORPHAN_WORKERS),
        );
    };
    tokio::join!(graph_builder, workers);
    Ok(())
}
