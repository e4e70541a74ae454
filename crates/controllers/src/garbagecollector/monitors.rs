//! Resource monitors: one watch per served resource that can be listed, watched and deleted,
//! all feeding one ordered stream of changes into the graph (upstream's `graphChanges`
//! queue), so the graph sees every object's events in order.

use super::GarbageCollector;
use super::graph::Observed;
use crate::discovery::Served;
use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The verbs upstream requires of a resource the collector monitors.
const MONITORED_VERBS: &[&str] = &["delete", "list", "watch"];

enum Change {
    Observed(Observed),
    Deleted(String),
    /// A (re-)list of one resource finished having seen exactly these uids.
    Listed {
        api_version: String,
        kind: String,
        seen: HashSet<String>,
    },
}

/// Watch every monitored resource and apply the changes to the graph; `synced` fires once
/// every resource has been listed. Runs until cancelled.
pub async fn run(gc: Arc<GarbageCollector>, synced: oneshot::Sender<()>) {
    let resources: Vec<Served> = gc.served.preferred_with(MONITORED_VERBS).cloned().collect();
    let (changes_tx, mut changes) = mpsc::unbounded_channel();
    let watches =
        futures::future::join_all(resources.iter().map(|s| monitor(gc.client.clone(), s, changes_tx.clone())));
    drop(changes_tx);
    let apply = async {
        let mut listed = HashSet::new();
        let mut synced = Some(synced);
        if resources.is_empty() {
            synced.take().map(|s| s.send(()));
        }
        while let Some(change) = changes.recv().await {
            let work = {
                let mut graph = gc.graph();
                match change {
                    Change::Observed(obj) => graph.observe(obj),
                    Change::Deleted(uid) => graph.forget(&uid),
                    Change::Listed { api_version, kind, seen } => {
                        let work = graph.resync(&api_version, &kind, &seen);
                        listed.insert((api_version, kind));
                        work
                    }
                }
            };
            gc.enqueue(work);
            if listed.len() == resources.len() {
                synced.take().map(|s| s.send(()));
            }
        }
    };
    tokio::join!(watches, apply);
}

/// Watch one resource across all namespaces, re-listing with backoff when the watch breaks.
async fn monitor(client: kube::Client, served: &Served, changes: mpsc::UnboundedSender<Change>) {
    let (api_version, kind) = (served.resource.api_version.clone(), served.resource.kind.clone());
    let events = watcher(served.api(&client, None), watcher::Config::default()).default_backoff();
    let mut events = std::pin::pin!(events);
    let mut seen = HashSet::new();
    while let Some(event) = events.next().await {
        let change = match event {
            Ok(Event::Init) => {
                seen.clear();
                continue;
            }
            Ok(Event::InitApply(obj)) => {
                let Some(observed) = Observed::new(&api_version, &kind, &obj) else { continue };
                seen.insert(observed.identity.uid.clone());
                Change::Observed(observed)
            }
            Ok(Event::InitDone) => {
                Change::Listed { api_version: api_version.clone(), kind: kind.clone(), seen: std::mem::take(&mut seen) }
            }
            Ok(Event::Apply(obj)) => match Observed::new(&api_version, &kind, &obj) {
                Some(observed) => Change::Observed(observed),
                None => continue,
            },
            Ok(Event::Delete(obj)) => match uid(&obj) {
                Some(uid) => Change::Deleted(uid),
                None => continue,
            },
            Err(error) => {
                tracing::warn!(resource = %served.resource.plural, %error, "garbage collector watch failed; retrying");
                continue;
            }
        };
        if changes.send(change).is_err() {
            return;
        }
    }
}

fn uid(obj: &DynamicObject) -> Option<String> {
    obj.metadata.uid.clone()
}
