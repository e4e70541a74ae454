//! The scheduler's cache (upstream's `internal/cache`): every node with the pods bound or
//! assumed to it and their totals, kept up to date event by event, so that no scheduling
//! cycle rebuilds the cluster. A cycle's [`Snapshot`] is brought up to date by
//! [`Cache::update_snapshot`], which copies only the nodes changed since its last update
//! (upstream's `UpdateSnapshot`, there by generation, here by a set of changed names).
//!
//! A pod is "assumed" from the scheduler's decision until the watch shows it bound, so the
//! next decisions already count it; a binding that fails is forgotten.

use crate::framework::{AffinityIndex, NodeInfo, Snapshot};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A pod's (namespace, name).
pub type PodKey = (String, String);

pub fn key_of(pod: &Pod) -> PodKey {
    (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
}

/// The node `pod` is bound to, if any.
pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

/// Whether `pod` has finished (its resources are free again).
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

struct CachedNode {
    info: NodeInfo,
    /// Whether the Node object exists: the watch may show pods bound to a node before the
    /// node itself, or after it is gone. Only existing nodes enter snapshots.
    exists: bool,
}

/// Where a pod of the cache is.
struct Placement {
    node: String,
    /// Decided by this scheduler but not yet seen bound.
    assumed: bool,
}

/// Nodes and the pods on them.
#[derive(Default)]
pub struct Cache {
    nodes: HashMap<String, CachedNode>,
    pods: HashMap<PodKey, Placement>,
    /// Nodes changed since the last [`Self::update_snapshot`].
    changed: HashSet<String>,
    /// A node appeared or went away since the last [`Self::update_snapshot`].
    membership_changed: bool,
    /// How many nodes exist.
    existing: usize,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    fn entry(&mut self, name: &str) -> &mut CachedNode {
        self.changed.insert(name.to_owned());
        self.nodes.entry(name.to_owned()).or_insert_with(|| {
            let placeholder = Node {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(name.to_owned()),
                    ..Default::default()
                },
                ..Default::default()
            };
            CachedNode { info: NodeInfo::new(Arc::new(placeholder)), exists: false }
        })
    }

    /// A node was added or changed.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let cached = self.entry(&name);
        cached.info.set_node(node);
        if !cached.exists {
            cached.exists = true;
            self.membership_changed = true;
            self.existing += 1;
        }
    }

    /// A node was deleted. Its pods stay accounted until they go too.
    pub fn remove_node(&mut self, name: &str) {
        let Some(cached) = self.nodes.get_mut(name) else { return };
        if cached.exists {
            cached.exists = false;
            self.membership_changed = true;
            self.existing -= 1;
            self.changed.insert(name.to_owned());
        }
        if cached.info.pods.is_empty() {
            self.nodes.remove(name);
        }
    }

    /// Whether the node `name` exists.
    pub fn has_node(&self, name: &str) -> bool {
        self.nodes.get(name).is_some_and(|n| n.exists)
    }

    /// How many nodes exist.
    pub fn node_count(&self) -> usize {
        self.existing
    }

    fn take_off(&mut self, key: &PodKey) -> Option<Placement> {
        let placement = self.pods.remove(key)?;
        if let Some(cached) = self.nodes.get_mut(&placement.node) {
            cached.info.remove_pod(&key.0, &key.1);
            self.changed.insert(placement.node.clone());
            if !cached.exists && cached.info.pods.is_empty() {
                self.nodes.remove(&placement.node);
            }
        }
        Some(placement)
    }

    fn put_on(&mut self, key: PodKey, pod: Arc<Pod>, node: &str, assumed: bool) {
        self.entry(node).info.add_pod(pod);
        self.pods.insert(key, Placement { node: node.to_owned(), assumed });
    }

    /// The watch shows `pod` (added or changed): a bound, running pod is placed on its node
    /// (confirming an assumption); a finished one leaves. An unbound pod leaves nothing,
    /// except that an assumption stands until the watch shows the binding.
    pub fn set_pod(&mut self, pod: Arc<Pod>) {
        let key = key_of(&pod);
        match node_name(&pod).filter(|_| !is_terminal(&pod)) {
            Some(node) => {
                let node = node.to_owned();
                self.take_off(&key);
                self.put_on(key, pod, &node, false);
            }
            None if node_name(&pod).is_some() || !self.is_assumed(&key) => {
                self.take_off(&key);
            }
            None => {}
        }
    }

    /// The pod is deleted.
    pub fn remove_pod(&mut self, key: &PodKey) {
        self.take_off(key);
    }

    /// Count `pod` on `node` from now on, before the binding is seen.
    pub fn assume(&mut self, pod: Arc<Pod>, node: &str) {
        let key = key_of(&pod);
        self.take_off(&key);
        self.put_on(key, pod, node, true);
    }

    /// Undo [`Self::assume`] (the binding failed); a pod seen bound meanwhile stays.
    pub fn forget(&mut self, key: &PodKey) {
        if self.is_assumed(key) {
            self.take_off(key);
        }
    }

    pub fn is_assumed(&self, key: &PodKey) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// Whether the pod is on a node, bound or assumed.
    pub fn is_placed(&self, key: &PodKey) -> bool {
        self.pods.contains_key(key)
    }

    /// Bring `snapshot.nodes` (existing nodes sorted by name) up to date with the cache,
    /// copying only the nodes changed since the last update. One snapshot follows a cache.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        if self.membership_changed || snapshot.nodes.len() != self.node_count() {
            let mut nodes: Vec<NodeInfo> = self.nodes.values().filter(|n| n.exists).map(|n| n.info.clone()).collect();
            nodes.sort_by(|a, b| a.name().cmp(b.name()));
            snapshot.affinity_index = Some(AffinityIndex::of(&nodes));
            snapshot.nodes = nodes;
            self.membership_changed = false;
            self.changed.clear();
            return;
        }
        let mut affinity_changed = snapshot.affinity_index.is_none();
        for name in self.changed.drain() {
            let Some(cached) = self.nodes.get(&name).filter(|n| n.exists) else { continue };
            if let Ok(position) = snapshot.nodes.binary_search_by(|n| n.name().cmp(&name)) {
                let old = &snapshot.nodes[position];
                let new = &cached.info;
                affinity_changed |= old.pods_with_affinity.is_empty() != new.pods_with_affinity.is_empty()
                    || old.pods_with_required_anti_affinity.is_empty()
                        != new.pods_with_required_anti_affinity.is_empty();
                snapshot.nodes[position] = new.clone();
            }
        }
        if affinity_changed {
            snapshot.affinity_index = Some(AffinityIndex::of(&snapshot.nodes));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod_requesting};

    fn named(name: &str, node: Option<&str>) -> Arc<Pod> {
        let mut pod = pod_requesting("1", "1Gi");
        pod.metadata.name = Some(name.to_owned());
        pod.spec.as_mut().unwrap().node_name = node.map(str::to_owned);
        Arc::new(pod)
    }

    fn cpu_on(snapshot: &Snapshot, name: &str) -> i64 {
        snapshot.nodes.iter().find(|n| n.name() == name).unwrap().requested.milli_cpu
    }

    #[test]
    fn snapshots_follow_binds_assumptions_and_deletions() {
        let mut cache = Cache::new();
        cache.set_node(node("a", serde_json::json!({})).node);
        cache.set_node(node("b", serde_json::json!({})).node);
        let mut snapshot = Snapshot::default();
        cache.set_pod(named("bound", Some("a")));
        cache.assume(named("assumed", None), "b");
        cache.update_snapshot(&mut snapshot);
        assert_eq!((cpu_on(&snapshot, "a"), cpu_on(&snapshot, "b")), (1000, 1000));
        // A stale unbound view of the assumed pod does not undo the assumption.
        cache.set_pod(named("assumed", None));
        assert!(cache.is_assumed(&("default".to_owned(), "assumed".to_owned())));
        // The watch shows it bound elsewhere than assumed: it moves.
        cache.set_pod(named("assumed", Some("a")));
        cache.update_snapshot(&mut snapshot);
        assert_eq!((cpu_on(&snapshot, "a"), cpu_on(&snapshot, "b")), (2000, 0));
        cache.remove_pod(&("default".to_owned(), "bound".to_owned()));
        cache.forget(&("default".to_owned(), "assumed".to_owned()));
        cache.update_snapshot(&mut snapshot);
        assert_eq!(cpu_on(&snapshot, "a"), 1000, "a confirmed pod is not forgotten");
    }

    #[test]
    fn pods_seen_before_their_node_count_once_it_exists() {
        let mut cache = Cache::new();
        cache.set_pod(named("early", Some("late")));
        let mut snapshot = Snapshot::default();
        cache.update_snapshot(&mut snapshot);
        assert!(snapshot.nodes.is_empty());
        cache.set_node(node("late", serde_json::json!({})).node);
        cache.update_snapshot(&mut snapshot);
        assert_eq!(cpu_on(&snapshot, "late"), 1000);
        cache.remove_node("late");
        cache.update_snapshot(&mut snapshot);
        assert!(snapshot.nodes.is_empty());
        let mut finished = (*named("early", Some("late"))).clone();
        finished.status = Some(serde_json::from_value(serde_json::json!({"phase": "Succeeded"})).unwrap());
        cache.set_pod(Arc::new(finished));
        assert!(cache.nodes.is_empty());
    }

    #[test]
    fn the_snapshot_knows_which_nodes_hold_pods_with_affinity() {
        let mut cache = Cache::new();
        for name in ["a", "b", "c"] {
            cache.set_node(node(name, serde_json::json!({})).node);
        }
        let mut snapshot = Snapshot::default();
        cache.update_snapshot(&mut snapshot);
        assert_eq!(snapshot.affinity_index, Some(AffinityIndex::default()));
        let mut loner = (*named("loner", None)).clone();
        loner.spec.as_mut().unwrap().affinity = Some(
            serde_json::from_value(serde_json::json!({"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "kubernetes.io/hostname", "labelSelector": {}}
                ]
            }}))
            .unwrap(),
        );
        cache.assume(Arc::new(loner), "b");
        cache.update_snapshot(&mut snapshot);
        let index = AffinityIndex { with_affinity: vec![1], with_required_anti_affinity: vec![1] };
        assert_eq!(snapshot.affinity_index, Some(index));
        cache.forget(&("default".to_owned(), "loner".to_owned()));
        cache.update_snapshot(&mut snapshot);
        assert_eq!(snapshot.affinity_index, Some(AffinityIndex::default()));
    }
}
