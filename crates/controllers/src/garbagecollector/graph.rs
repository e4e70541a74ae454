//! The ownership graph (upstream's `GraphBuilder`): a node per observed object by uid, with
//! its owners and dependents. Watch events change it; each change returns the work it causes
//! for the two GC queues. Owners referenced but not (yet) observed are *virtual* nodes whose
//! existence the attempt-to-delete worker verifies.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::DynamicObject;
use std::collections::{BTreeSet, HashMap, HashSet};

pub const ORPHAN_FINALIZER: &str = "orphan";
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";

/// Which object a node stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    /// The object's namespace; for a virtual owner, its dependent's (used only if the
    /// owner's kind turns out to be namespaced).
    pub namespace: Option<String>,
    pub name: String,
    pub uid: String,
}

/// What the graph keeps of a watched object.
#[derive(Clone, Debug)]
pub struct Observed {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    pub deleting: bool,
    pub finalizers: Vec<String>,
}

impl Observed {
    pub fn new(api_version: &str, kind: &str, obj: &DynamicObject) -> Option<Observed> {
        let meta = &obj.metadata;
        Some(Observed {
            identity: Identity {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                namespace: meta.namespace.clone(),
                name: meta.name.clone()?,
                uid: meta.uid.clone()?,
            },
            owners: meta.owner_references.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
        })
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub identity: Identity,
    pub owners: Vec<OwnerReference>,
    pub dependents: BTreeSet<String>,
    /// Has a deletionTimestamp.
    pub being_deleted: bool,
    /// Being deleted in the foreground: waits for its blocking dependents.
    pub deleting_dependents: bool,
    /// Known only from ownerReferences, not from a watch.
    pub virtual_node: bool,
}

/// Work a graph change asks of the collector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// Check whether this object (by uid) should go, or finish its foreground deletion.
    AttemptToDelete(String),
    /// Remove this owner's references from its dependents, then its `orphan` finalizer.
    AttemptToOrphan(String),
}

#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<String, Node>,
}

impl Graph {
    pub fn node(&self, uid: &str) -> Option<&Node> {
        self.nodes.get(uid)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The dependents of `uid` whose reference to it has `blockOwnerDeletion: true`.
    pub fn blocking_dependents(&self, uid: &str) -> Vec<&Node> {
        let Some(owner) = self.nodes.get(uid) else { return Vec::new() };
        owner
            .dependents
            .iter()
            .filter_map(|d| self.nodes.get(d))
            .filter(|d| d.owners.iter().any(|o| o.uid == uid && o.block_owner_deletion == Some(true)))
            .collect()
    }

    pub fn dependents(&self, uid: &str) -> Vec<&Node> {
        let Some(owner) = self.nodes.get(uid) else { return Vec::new() };
        owner.dependents.iter().filter_map(|d| self.nodes.get(d)).collect()
    }

    /// An object was added or changed.
    pub fn observe(&mut self, obj: Observed) -> Vec<Work> {
        let uid = obj.identity.uid.clone();
        let mut work = Vec::new();
        let (old_owners, was_deleting_dependents) = match self.nodes.get(&uid) {
            Some(n) if !n.virtual_node => (n.owners.clone(), n.deleting_dependents),
            _ => (Vec::new(), false),
        };
        let deleting_dependents = obj.deleting && obj.finalizers.iter().any(|f| f == FOREGROUND_FINALIZER);
        let namespace = obj.identity.namespace.clone();
        let node = self.nodes.entry(uid.clone()).or_insert_with(|| Node {
            identity: obj.identity.clone(),
            owners: Vec::new(),
            dependents: BTreeSet::new(),
            being_deleted: false,
            deleting_dependents: false,
            virtual_node: false,
        });
        node.identity = obj.identity;
        node.owners = obj.owners.clone();
        node.being_deleted = obj.deleting;
        node.deleting_dependents = deleting_dependents;
        node.virtual_node = false;

        for owner in obj.owners.iter().filter(|o| !old_owners.iter().any(|old| old.uid == o.uid)) {
            self.add_dependent(owner, namespace.clone(), &uid, &mut work);
        }
        for old in &old_owners {
            match obj.owners.iter().find(|o| o.uid == old.uid) {
                None => {
                    if let Some(owner) = self.nodes.get_mut(&old.uid) {
                        owner.dependents.remove(&uid);
                    }
                    self.recheck_if_waiting(&old.uid, &mut work);
                }
                // No longer blocking a foreground deletion that waits for it.
                Some(new) if old.block_owner_deletion == Some(true) && new.block_owner_deletion != Some(true) => {
                    self.recheck_if_waiting(&old.uid, &mut work);
                }
                Some(_) => {}
            }
        }
        if obj.deleting && obj.finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
            work.push(Work::AttemptToOrphan(uid.clone()));
        }
        if deleting_dependents && !was_deleting_dependents {
            work.extend(self.dependents(&uid).iter().map(|d| Work::AttemptToDelete(d.identity.uid.clone())));
            work.push(Work::AttemptToDelete(uid));
        }
        work
    }

    /// An object is gone: its dependents are checked, and owners waiting for it re-check.
    pub fn forget(&mut self, uid: &str) -> Vec<Work> {
        let Some(node) = self.nodes.remove(uid) else { return Vec::new() };
        let mut work: Vec<Work> = node.dependents.iter().map(|d| Work::AttemptToDelete(d.clone())).collect();
        for owner in &node.owners {
            if let Some(o) = self.nodes.get_mut(&owner.uid) {
                o.dependents.remove(uid);
                if o.virtual_node && o.dependents.is_empty() {
                    self.nodes.remove(&owner.uid);
                    continue;
                }
            }
            self.recheck_if_waiting(&owner.uid, &mut work);
        }
        work
    }

    /// A virtual node's object was looked up and does not exist.
    pub fn forget_virtual(&mut self, uid: &str) -> Vec<Work> {
        if self.nodes.get(uid).is_some_and(|n| n.virtual_node) { self.forget(uid) } else { Vec::new() }
    }

    /// A monitor re-listed `api_version`/`kind` and saw exactly `seen`: the other observed
    /// nodes of that kind were deleted while it was not watching.
    pub fn resync(&mut self, api_version: &str, kind: &str, seen: &HashSet<String>) -> Vec<Work> {
        let gone: Vec<String> = self
            .nodes
            .values()
            .filter(|n| !n.virtual_node && n.identity.api_version == api_version && n.identity.kind == kind)
            .filter(|n| !seen.contains(&n.identity.uid))
            .map(|n| n.identity.uid.clone())
            .collect();
        gone.iter().flat_map(|uid| self.forget(uid)).collect()
    }

    fn add_dependent(
        &mut self,
        owner: &OwnerReference,
        namespace: Option<String>,
        dependent: &str,
        work: &mut Vec<Work>,
    ) {
        let node = self.nodes.entry(owner.uid.clone()).or_insert_with(|| {
            // Not observed (yet): verify that it exists.
            work.push(Work::AttemptToDelete(owner.uid.clone()));
            Node {
                identity: Identity {
                    api_version: owner.api_version.clone(),
                    kind: owner.kind.clone(),
                    namespace,
                    name: owner.name.clone(),
                    uid: owner.uid.clone(),
                },
                owners: Vec::new(),
                dependents: BTreeSet::new(),
                being_deleted: false,
                deleting_dependents: false,
                virtual_node: true,
            }
        });
        node.dependents.insert(dependent.to_owned());
    }

    fn recheck_if_waiting(&self, owner: &str, work: &mut Vec<Work>) {
        if self.nodes.get(owner).is_some_and(|o| o.deleting_dependents) {
            work.push(Work::AttemptToDelete(owner.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(kind: &str, uid: &str, owners: &[(&str, bool)]) -> Observed {
        Observed {
            identity: Identity {
                api_version: "apps/v1".into(),
                kind: kind.into(),
                namespace: Some("default".into()),
                name: format!("{kind}-{uid}").to_lowercase(),
                uid: uid.into(),
            },
            owners: owners
                .iter()
                .map(|(uid, block)| OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "Deployment".into(),
                    name: format!("deployment-{uid}"),
                    uid: (*uid).into(),
                    block_owner_deletion: Some(*block),
                    controller: Some(true),
                })
                .collect(),
            deleting: false,
            finalizers: Vec::new(),
        }
    }

    fn deleting(mut obj: Observed, finalizer: &str) -> Observed {
        obj.deleting = true;
        obj.finalizers = vec![finalizer.to_owned()];
        obj
    }

    #[test]
    fn an_unobserved_owner_becomes_a_virtual_node_to_verify() {
        let mut g = Graph::default();
        let work = g.observe(observed("ReplicaSet", "rs", &[("d", true)]));
        assert_eq!(work, [Work::AttemptToDelete("d".into())]);
        let owner = g.node("d").unwrap();
        assert!(owner.virtual_node);
        assert_eq!(owner.identity.name, "deployment-d");
        assert_eq!(owner.identity.namespace.as_deref(), Some("default"));
        assert!(g.observe(observed("Deployment", "d", &[])).is_empty());
        assert!(!g.node("d").unwrap().virtual_node);
        assert_eq!(g.dependents("d").len(), 1, "observing the owner keeps its dependents");
    }

    #[test]
    fn orphan_and_foreground_finalizers_queue_their_work() {
        let mut g = Graph::default();
        g.observe(observed("Deployment", "d", &[]));
        g.observe(observed("ReplicaSet", "rs", &[("d", true)]));
        let orphan = g.observe(deleting(observed("Deployment", "d", &[]), ORPHAN_FINALIZER));
        assert_eq!(orphan, [Work::AttemptToOrphan("d".into())]);

        let mut g = Graph::default();
        g.observe(observed("Deployment", "d", &[]));
        g.observe(observed("ReplicaSet", "rs", &[("d", true)]));
        let fg = g.observe(deleting(observed("Deployment", "d", &[]), FOREGROUND_FINALIZER));
        assert_eq!(fg, [Work::AttemptToDelete("rs".into()), Work::AttemptToDelete("d".into())]);
        assert_eq!(g.blocking_dependents("d").len(), 1);
        // The same state again is not a new transition.
        assert!(g.observe(deleting(observed("Deployment", "d", &[]), FOREGROUND_FINALIZER)).is_empty());
    }

    #[test]
    fn a_dependent_leaving_rechecks_an_owner_deleting_in_the_foreground() {
        let mut g = Graph::default();
        g.observe(deleting(observed("Deployment", "d", &[]), FOREGROUND_FINALIZER));
        g.observe(observed("ReplicaSet", "rs", &[("d", true)]));
        assert_eq!(g.forget("rs"), [Work::AttemptToDelete("d".into())]);
        assert!(g.blocking_dependents("d").is_empty());

        g.observe(observed("ReplicaSet", "rs2", &[("d", true)]));
        let unblocked = g.observe(observed("ReplicaSet", "rs2", &[("d", false)]));
        assert_eq!(unblocked, [Work::AttemptToDelete("d".into())]);
        assert!(g.blocking_dependents("d").is_empty());
    }

    #[test]
    fn a_deleted_owner_sends_its_dependents_to_be_checked() {
        let mut g = Graph::default();
        g.observe(observed("Deployment", "d", &[]));
        g.observe(observed("ReplicaSet", "a", &[("d", true)]));
        g.observe(observed("ReplicaSet", "b", &[("d", false)]));
        let mut work = g.forget("d");
        work.sort_by_key(|w| format!("{w:?}"));
        assert_eq!(work, [Work::AttemptToDelete("a".into()), Work::AttemptToDelete("b".into())]);
        assert!(g.node("d").is_none());
    }

    #[test]
    fn removing_an_owner_reference_detaches_the_dependent() {
        let mut g = Graph::default();
        g.observe(observed("Deployment", "d", &[]));
        g.observe(observed("ReplicaSet", "rs", &[("d", true)]));
        g.observe(observed("ReplicaSet", "rs", &[]));
        assert!(g.dependents("d").is_empty());
    }

    #[test]
    fn a_virtual_owner_found_missing_is_forgotten_but_a_real_one_is_not() {
        let mut g = Graph::default();
        g.observe(observed("ReplicaSet", "rs", &[("gone", true)]));
        assert_eq!(g.forget_virtual("gone"), [Work::AttemptToDelete("rs".into())]);
        assert!(g.forget_virtual("rs").is_empty());
        assert!(g.node("rs").is_some());
    }

    #[test]
    fn a_relist_forgets_objects_deleted_meanwhile() {
        let mut g = Graph::default();
        g.observe(observed("Deployment", "d", &[]));
        g.observe(observed("ReplicaSet", "rs", &[("d", true)]));
        let seen = HashSet::from(["rs".to_owned()]);
        assert!(g.resync("apps/v1", "ReplicaSet", &seen).is_empty());
        let work = g.resync("apps/v1", "Deployment", &HashSet::new());
        assert_eq!(work, [Work::AttemptToDelete("rs".into())]);
        assert_eq!(g.len(), 1);
    }
}
