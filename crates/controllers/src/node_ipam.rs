//! Node IPAM (upstream's `nodeipam` controller with the range allocator): every Node
//! without a pod range gets the lowest free /24 of the cluster CIDR as `spec.podCIDR` and
//! `spec.podCIDRs`. The ranges nodes already hold are taken first (so a restart never hands
//! one out twice) and a deleted node's range is free again.

use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{Recorder, WARNING};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// upstream's `--cluster-cidr` in kubeadm-style clusters (and kind's, flannel's).
pub const DEFAULT_CLUSTER_CIDR: &str = "10.244.0.0/16";
/// upstream's `--node-cidr-mask-size-ipv4` default.
const NODE_MASK: u8 = 24;

/// Why a cluster CIDR is unusable.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid cluster CIDR {0:?}: need an IPv4 range of /{NODE_MASK} or wider")]
pub struct InvalidCidr(String);

/// The /24 ranges of an IPv4 cluster CIDR, by index.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterCidr {
    base: u32,
    ranges: u32,
}

impl ClusterCidr {
    pub fn parse(cidr: &str) -> Result<ClusterCidr, InvalidCidr> {
        let invalid = || InvalidCidr(cidr.to_owned());
        let (ip, prefix) = cidr.split_once('/').ok_or_else(invalid)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        if prefix > NODE_MASK {
            return Err(invalid());
        }
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
        Ok(ClusterCidr { base: u32::from(ip) & mask, ranges: 1 << (NODE_MASK - prefix) })
    }

    /// The `index`th node range, e.g. `10.244.3.0/24`.
    fn range(&self, index: u32) -> String {
        format!("{}/{NODE_MASK}", Ipv4Addr::from(self.base + (index << (32 - NODE_MASK))))
    }

    /// The index of `cidr` if it is one of this CIDR's node ranges.
    fn index_of(&self, cidr: &str) -> Option<u32> {
        let (ip, prefix) = cidr.split_once('/')?;
        let ip = u32::from(ip.parse::<Ipv4Addr>().ok()?);
        let index = ip.wrapping_sub(self.base) >> (32 - NODE_MASK);
        (prefix == NODE_MASK.to_string() && ip >= self.base && index < self.ranges).then_some(index)
    }
}

/// The range as a CIDR, e.g. `10.244.0.0/16`.
impl std::fmt::Display for ClusterCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), NODE_MASK - self.ranges.trailing_zeros() as u8)
    }
}

impl Default for ClusterCidr {
    fn default() -> Self {
        ClusterCidr::parse(DEFAULT_CLUSTER_CIDR).expect("the default cluster CIDR is valid")
    }
}

/// Which ranges are taken, and by which node.
#[derive(Default)]
struct Allocations {
    used: BTreeSet<u32>,
    by_node: HashMap<String, u32>,
}

pub struct NodeIpamController {
    client: Client,
    cidr: ClusterCidr,
    nodes: Store<Node>,
    allocations: Mutex<Allocations>,
    events: Recorder,
}

/// Watch nodes and give each a pod range from `cidr`. Runs until cancelled.
pub async fn run(client: Client, informers: Informers, cidr: ClusterCidr) -> Result<(), Error> {
    let nodes = informers.all::<Node>();
    let queue = WorkQueue::new();
    let controller = Arc::new(NodeIpamController {
        client: client.clone(),
        cidr,
        nodes: nodes.store(),
        allocations: Mutex::new(Allocations::default()),
        events: Recorder::new(client.clone(), FIELD_MANAGER, "cidrAllocator"),
    });
    let restore = controller.clone();
    nodes.queue_changes(&queue, |node| node.name_any());
    // Before any allocation, take every range the listed nodes hold.
    let synced = async move {
        let ready = nodes.synced().await;
        for node in nodes.store().state() {
            restore.lock().occupy(&restore.cidr, &node);
        }
        ready
    };
    // upstream allocates from one goroutine: one worker never hands a range out twice.
    run_workers_when_synced(controller, queue, 1, synced).await;
    Ok(())
}

impl Allocations {
    /// Record the range `node` holds, if it is one of ours.
    fn occupy(&mut self, cidr: &ClusterCidr, node: &Node) {
        let held = node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()).and_then(|c| cidr.index_of(c));
        if let Some(index) = held {
            self.used.insert(index);
            self.by_node.insert(node.name_any(), index);
        }
    }

    /// The node's range: the one recorded for it, else the lowest free one.
    fn allocate(&mut self, cidr: &ClusterCidr, node: &str) -> Option<u32> {
        if let Some(index) = self.by_node.get(node) {
            return Some(*index);
        }
        let index = (0..cidr.ranges).find(|i| !self.used.contains(i))?;
        self.used.insert(index);
        self.by_node.insert(node.to_owned(), index);
        Some(index)
    }

    fn release(&mut self, node: &str) {
        if let Some(index) = self.by_node.remove(node) {
            self.used.remove(&index);
        }
    }
}

impl NodeIpamController {
    fn lock(&self) -> std::sync::MutexGuard<'_, Allocations> {
        self.allocations.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Reconciler for NodeIpamController {
    /// A node's name.
    type Key = String;
    type Error = Error;
    const NAME: &'static str = "node-ipam";

    async fn reconcile(&self, name: &String) -> Result<Action, Error> {
        let Some(node) = self.nodes.get(&ObjectRef::new(name)) else {
            self.lock().release(name);
            return Ok(Action::Done);
        };
        if node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()).is_some_and(|c| !c.is_empty()) {
            self.lock().occupy(&self.cidr, &node);
            return Ok(Action::Done);
        }
        let Some(index) = self.lock().allocate(&self.cidr, name) else {
            self.events
                .record(
                    node.as_ref(),
                    WARNING,
                    "CIDRNotAvailable",
                    &format!("Node {name} status is now: CIDRNotAvailable"),
                )
                .await;
            return Err(Error::Content(format!("no free pod range for node {name}")));
        };
        let range = self.cidr.range(index);
        let patch = json!({"spec": {"podCIDR": range, "podCIDRs": [range]}});
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        match Api::<Node>::all(self.client.clone()).patch(name, &params, &Patch::Merge(patch)).await {
            Ok(_) => Ok(Action::Done),
            Err(kube::Error::Api(s)) if s.is_not_found() => {
                self.lock().release(name);
                Ok(Action::Done)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn error_policy(&self, _name: &String, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_cidr_prints_as_given() {
        assert_eq!(ClusterCidr::parse("10.244.0.0/16").unwrap().to_string(), "10.244.0.0/16");
        assert_eq!(ClusterCidr::parse("10.1.2.0/24").unwrap().to_string(), "10.1.2.0/24");
    }
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, pod_cidr: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(NodeSpec { pod_cidr: pod_cidr.map(Into::into), ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_range_has_256_node_ranges() {
        let cidr = ClusterCidr::default();
        assert_eq!((cidr.range(0).as_str(), cidr.range(255).as_str()), ("10.244.0.0/24", "10.244.255.0/24"));
        assert_eq!(cidr.index_of("10.244.7.0/24"), Some(7));
        assert_eq!(cidr.index_of("10.245.0.0/24"), None);
        assert_eq!(cidr.index_of("10.244.7.0/25"), None);
        assert!(ClusterCidr::parse("10.0.0.0/26").is_err());
        assert!(ClusterCidr::parse("nonsense").is_err());
        assert_eq!(ClusterCidr::parse("10.1.2.3/23").unwrap().range(1), "10.1.3.0/24");
    }

    #[test]
    fn ranges_held_by_nodes_are_skipped_and_freed_on_deletion() {
        let cidr = ClusterCidr::default();
        let mut allocations = Allocations::default();
        allocations.occupy(&cidr, &node("old", Some("10.244.0.0/24")));
        assert_eq!(allocations.allocate(&cidr, "a"), Some(1));
        assert_eq!(allocations.allocate(&cidr, "a"), Some(1), "a node keeps its range");
        assert_eq!(allocations.allocate(&cidr, "b"), Some(2));
        allocations.release("a");
        assert_eq!(allocations.allocate(&cidr, "c"), Some(1));
    }

    #[test]
    fn a_full_range_allocates_nothing() {
        let cidr = ClusterCidr::parse("10.0.0.0/24").unwrap();
        let mut allocations = Allocations::default();
        assert_eq!(allocations.allocate(&cidr, "a"), Some(0));
        assert_eq!(allocations.allocate(&cidr, "b"), None);
    }
}
