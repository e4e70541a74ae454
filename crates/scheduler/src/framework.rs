//! The scheduling framework's shapes: what a node looks like to the plugins ([`NodeInfo`]),
//! the cluster state one scheduling cycle sees ([`Snapshot`]), and the two plugin kinds
//! ([`FilterPlugin`] keeps or drops a node, [`ScorePlugin`] ranks the nodes that are left).

use component_helpers::quantity::{parse_milli, parse_units};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The highest score a plugin gives a node (upstream's `MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;
/// The cpu (millicores) and memory (bytes) scoring assumes for a container that requests none.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Amounts of the resources the scheduler accounts for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources (`example.com/gpu`, `hugepages-2Mi`, ...) in whole units.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Parse a resource list (requests, capacity, allocatable).
    pub fn from_list(list: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Resources {
        let mut resources = Resources::default();
        for (name, quantity) in list {
            match name.as_str() {
                "cpu" => resources.milli_cpu = parse_milli(&quantity.0).unwrap_or(0),
                "memory" => resources.memory = parse_units(&quantity.0).unwrap_or(0),
                "ephemeral-storage" => resources.ephemeral_storage = parse_units(&quantity.0).unwrap_or(0),
                "pods" => {}
                other if is_scalar(other) => {
                    resources.scalar.insert(other.to_owned(), parse_units(&quantity.0).unwrap_or(0));
                }
                _ => {}
            }
        }
        resources
    }

    fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (name, amount) in &other.scalar {
            *self.scalar.entry(name.clone()).or_insert(0) += amount;
        }
    }

    fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (name, amount) in &other.scalar {
            *self.scalar.entry(name.clone()).or_insert(0) -= amount;
        }
    }

    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, amount) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = (*entry).max(*amount);
        }
    }
}

/// Extended resources: domain-qualified names outside `kubernetes.io/`, and hugepages.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("requests.")
        || (name.contains('/') && !name.starts_with("kubernetes.io/"))
}

/// What `pod` requests: the larger of its app containers' sum and each init container
/// (restartable init containers, sidecars, add to both), plus the pod overhead. With
/// `non_zero`, containers without a cpu or memory request count the scoring defaults.
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resources {
    let Some(spec) = &pod.spec else { return Resources::default() };
    let container_requests = |container: &k8s_openapi::api::core::v1::Container| {
        let mut requests = container
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .map(Resources::from_list)
            .unwrap_or_default();
        if non_zero {
            let list = container.resources.as_ref().and_then(|r| r.requests.as_ref());
            if !list.is_some_and(|l| l.contains_key("cpu")) {
                requests.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
            }
            if !list.is_some_and(|l| l.contains_key("memory")) {
                requests.memory = DEFAULT_MEMORY_REQUEST;
            }
        }
        requests
    };
    let mut total = Resources::default();
    for container in &spec.containers {
        total.add(&container_requests(container));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for init in spec.init_containers.iter().flatten() {
        let requests = container_requests(init);
        if init.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&requests);
            init_peak.max_with(&sidecars);
        } else {
            let mut during = sidecars.clone();
            during.add(&requests);
            init_peak.max_with(&during);
        }
    }
    total.add(&sidecars);
    total.max_with(&init_peak);
    if let Some(overhead) = &spec.overhead {
        total.add(&Resources::from_list(overhead));
    }
    total
}

/// A host port a pod uses: protocol, host IP (`0.0.0.0` when unset) and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    /// Two uses conflict on the same protocol and port when either binds every address.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.protocol == other.protocol
            && self.port == other.port
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// The host ports `pod`'s containers ask for.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = &pod.spec else { return Vec::new() };
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    containers
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.host_port.is_some_and(|port| port > 0))
        .map(|p| HostPort {
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
            ip: p.host_ip.clone().filter(|ip| !ip.is_empty()).unwrap_or_else(|| "0.0.0.0".to_owned()),
            port: p.host_port.unwrap_or_default(),
        })
        .collect()
}

/// Whether `pod` has any pod affinity or anti-affinity (required or preferred).
pub fn has_pod_affinity(pod: &Pod) -> bool {
    let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
    affinity.is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
}

/// Whether `pod` has a required pod anti-affinity term.
pub fn has_required_anti_affinity(pod: &Pod) -> bool {
    let anti = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()).and_then(|a| a.pod_anti_affinity.as_ref());
    anti.and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref()).is_some_and(|t| !t.is_empty())
}

/// One node and the pods on it, with their totals.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub pods: Vec<Arc<Pod>>,
    /// The pods with pod affinity or anti-affinity (upstream's `PodsWithAffinity`), so the
    /// affinity plugins need not look at every pod.
    pub pods_with_affinity: Vec<Arc<Pod>>,
    /// The pods with required anti-affinity (upstream's `PodsWithRequiredAntiAffinity`).
    pub pods_with_required_anti_affinity: Vec<Arc<Pod>>,
    /// The sum of the pods' requests.
    pub requested: Resources,
    /// The same with the scoring defaults for containers that request nothing.
    pub non_zero_requested: Resources,
    pub used_ports: Vec<HostPort>,
    pub allocatable: Resources,
    /// How many pods the node takes (`allocatable.pods`).
    pub allowed_pods: i64,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let mut info = NodeInfo {
            node: node.clone(),
            pods: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            used_ports: Vec::new(),
            allocatable: Resources::default(),
            allowed_pods: 0,
        };
        info.set_node(node);
        info
    }

    /// Replace the node object (a change of labels, taints or allocatable), keeping its pods.
    pub fn set_node(&mut self, node: Arc<Node>) {
        let list = node.status.as_ref().and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
        self.allocatable = list.map(Resources::from_list).unwrap_or_default();
        self.allowed_pods = list.and_then(|l| l.get("pods")).and_then(|q| parse_units(&q.0)).unwrap_or(0);
        self.node = node;
    }

    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn labels(&self) -> &BTreeMap<String, String> {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.node.metadata.labels.as_ref().unwrap_or(&EMPTY)
    }

    /// `node` holding exactly `pods` (what the node would look like after evictions).
    pub fn with_pods(node: Arc<Node>, pods: impl IntoIterator<Item = Arc<Pod>>) -> NodeInfo {
        let mut info = NodeInfo::new(node);
        for pod in pods {
            info.add_pod(pod);
        }
        info
    }

    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        self.requested.add(&pod_requests(&pod, false));
        self.non_zero_requested.add(&pod_requests(&pod, true));
        self.used_ports.extend(host_ports(&pod));
        if has_pod_affinity(&pod) {
            self.pods_with_affinity.push(pod.clone());
        }
        if has_required_anti_affinity(&pod) {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        self.pods.push(pod);
    }

    /// Take the pod `namespace/name` off the node, undoing [`Self::add_pod`]; whether it was there.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) -> bool {
        let is_it = |p: &Arc<Pod>| {
            p.metadata.name.as_deref() == Some(name) && p.metadata.namespace.as_deref().unwrap_or_default() == namespace
        };
        let Some(position) = self.pods.iter().position(is_it) else { return false };
        let pod = self.pods.remove(position);
        self.requested.sub(&pod_requests(&pod, false));
        self.non_zero_requested.sub(&pod_requests(&pod, true));
        self.pods_with_affinity.retain(|p| !is_it(p));
        self.pods_with_required_anti_affinity.retain(|p| !is_it(p));
        if !host_ports(&pod).is_empty() {
            self.used_ports = self.pods.iter().flat_map(|p| host_ports(p)).collect();
        }
        true
    }
}

/// A pod's `spec.priority` (0 when unset, as upstream's `PodPriority`).
pub fn pod_priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// The cluster as one scheduling cycle sees it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub nodes: Vec<NodeInfo>,
    pub services: Vec<Arc<Service>>,
    pub replica_sets: Vec<Arc<ReplicaSet>>,
    /// Pending pods promised a node by an earlier preemption (`status.nominatedNodeName`),
    /// by node name: filters count them on that node for pods of no higher priority.
    pub nominated: BTreeMap<String, Vec<Arc<Pod>>>,
    /// Which nodes hold pods with affinity terms, when known (the cache keeps it; a
    /// snapshot made by hand has none, and its nodes are all looked at).
    pub affinity_index: Option<AffinityIndex>,
}

/// Positions in [`Snapshot::nodes`] of the nodes holding pods with pod affinity terms
/// (upstream's `HavePodsWithAffinityNodeInfoList`), and with required anti-affinity terms.
/// It may name more nodes than hold such pods (never fewer).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AffinityIndex {
    pub with_affinity: Vec<usize>,
    pub with_required_anti_affinity: Vec<usize>,
}

impl AffinityIndex {
    pub fn of(nodes: &[NodeInfo]) -> AffinityIndex {
        let positions =
            |has: fn(&NodeInfo) -> bool| nodes.iter().enumerate().filter(move |(_, n)| has(n)).map(|(i, _)| i);
        AffinityIndex {
            with_affinity: positions(|n| !n.pods_with_affinity.is_empty()).collect(),
            with_required_anti_affinity: positions(|n| !n.pods_with_required_anti_affinity.is_empty()).collect(),
        }
    }
}

impl Snapshot {
    /// The nodes that may hold pods with affinity terms (with `required_anti`: required
    /// anti-affinity terms).
    pub fn nodes_with_affinity(&self, required_anti: bool) -> Box<dyn Iterator<Item = &NodeInfo> + '_> {
        match &self.affinity_index {
            Some(index) => {
                let positions = if required_anti { &index.with_required_anti_affinity } else { &index.with_affinity };
                Box::new(positions.iter().filter_map(|&i| self.nodes.get(i)))
            }
            None => Box::new(self.nodes.iter()),
        }
    }
}

/// How final a filter's refusal is: whether evicting pods (preemption) could change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Unschedulable,
    UnschedulableAndUnresolvable,
}

/// Why a filter refused a node: upstream's reason strings, which the unschedulable
/// message counts across nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    pub reasons: Vec<String>,
}

impl Rejection {
    pub fn unschedulable(reason: impl Into<String>) -> Rejection {
        Rejection { code: Code::Unschedulable, reasons: vec![reason.into()] }
    }

    pub fn unresolvable(reason: impl Into<String>) -> Rejection {
        Rejection { code: Code::UnschedulableAndUnresolvable, reasons: vec![reason.into()] }
    }
}

/// What a plugin computed once per scheduling cycle (upstream's PreFilter and PreScore
/// state), handed back to it for every node.
pub type PluginState = Box<dyn std::any::Any + Send + Sync>;

/// A plugin that decides whether a pod may run on a node.
pub trait FilterPlugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// Work done once per cycle, before any node is filtered.
    fn pre_filter(&self, _pod: &Pod, _snapshot: &Snapshot) -> Option<PluginState> {
        None
    }
    fn filter(&self, pod: &Pod, node: &NodeInfo, state: Option<&PluginState>) -> Result<(), Rejection>;
}

/// A plugin that ranks the nodes that passed every filter.
pub trait ScorePlugin: Send + Sync {
    fn name(&self) -> &'static str;
    /// How much this plugin's (normalized) score counts in the node's total.
    fn weight(&self) -> i64;
    /// Work done once per cycle, before any node is scored.
    fn pre_score(&self, _pod: &Pod, _snapshot: &Snapshot) -> Option<PluginState> {
        None
    }
    /// The raw score of `node` for `pod`.
    fn score(&self, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot, state: Option<&PluginState>) -> i64;
    /// Rescale the raw scores of every feasible node into 0..=[`MAX_NODE_SCORE`].
    fn normalize(&self, _scores: &mut [i64]) {}
}

/// Scale `scores` so the highest becomes [`MAX_NODE_SCORE`]; with `reverse`, so the
/// lowest does (upstream's `DefaultNormalizeScore`).
pub fn normalize_scores(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for score in scores.iter_mut() {
        *score = MAX_NODE_SCORE * *score / max;
        if reverse {
            *score = MAX_NODE_SCORE - *score;
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for the plugin tests.
    use super::*;
    use serde_json::json;

    pub fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec})).unwrap()
    }

    pub fn pod_requesting(cpu: &str, memory: &str) -> Pod {
        pod(json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}))
    }

    pub fn node(name: &str, extra: serde_json::Value) -> NodeInfo {
        let mut node = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}}
        });
        merge(&mut node, extra);
        NodeInfo::new(Arc::new(serde_json::from_value(node).unwrap()))
    }

    fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
        match (base, extra) {
            (serde_json::Value::Object(base), serde_json::Value::Object(extra)) => {
                for (key, value) in extra {
                    merge(base.entry(key).or_insert(serde_json::Value::Null), value);
                }
            }
            (base, extra) => *base = extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_take_the_larger_of_containers_and_init_containers() {
        let pod = pod(json!({
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "500m"}}}
            ]
        }));
        let requests = pod_requests(&pod, false);
        assert_eq!(requests.milli_cpu, 2000);
        assert_eq!(requests.memory, 1 << 30);
        let non_zero = pod_requests(&pod, true);
        assert_eq!(non_zero.memory, (1 << 30) + DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn node_info_sums_its_pods() {
        let mut info = node("n1", json!({}));
        info.add_pod(Arc::new(pod_requesting("1", "1Gi")));
        info.add_pod(Arc::new(pod_requesting("250m", "1Gi")));
        assert_eq!(info.requested.milli_cpu, 1250);
        assert_eq!(info.allocatable.milli_cpu, 4000);
        assert_eq!(info.allowed_pods, 110);
    }

    #[test]
    fn normalizing_scales_to_the_maximum() {
        let mut scores = [0, 5, 10];
        normalize_scores(&mut scores, false);
        assert_eq!(scores, [0, 50, 100]);
        let mut scores = [0, 5, 10];
        normalize_scores(&mut scores, true);
        assert_eq!(scores, [100, 50, 0]);
    }
}
