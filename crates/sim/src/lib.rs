//! Simulated kubelets, like kwok but built in: `N` Nodes that register, keep their Lease
//! in `kube-node-lease` and their Ready condition fresh, and drive the pods bound to them
//! through a kubelet's phases without running containers (see [`pods`] and, for pods that
//! finish, the run-to-completion marker in [`marker`]). Every controller can be tested
//! against them. They are API clients like any kubelet: each node with its own identity
//! (`system:node:<name>` in `system:nodes`) or, against any cluster, one shared client.
//! With one shared client, thousands of nodes share one pod watch and one node watch (see
//! [`source`]); either way each node's life is a [`kubelet::Kubelet`].
//!
//! Start with [`Config`], [`Identity`] and [`run`].

pub mod addresses;
pub mod kubelet;
pub mod marker;
pub mod node;
pub mod pods;
pub mod source;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

/// How often a node renews its Lease (upstream's kubelet default).
pub const LEASE_RENEW_INTERVAL: Duration = Duration::from_secs(10);
/// How often a node re-reports its status when nothing changed (its Ready heartbeat).
pub const STATUS_REPORT_INTERVAL: Duration = Duration::from_secs(60);
/// The group every node identity belongs to.
pub const NODES_GROUP: &str = "system:nodes";

/// Why a simulated node could not do something.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("building a node's client: {0}")]
    Client(#[from] client_runtime::Error),
}

/// The simulated nodes to run: how many, and what each offers.
#[derive(Clone, Debug)]
pub struct Config {
    pub nodes: usize,
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    pub ephemeral_storage: String,
    /// Extra labels on every node.
    pub labels: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            nodes: 0,
            cpu: "8".to_owned(),
            memory: "32Gi".to_owned(),
            pods: 110,
            ephemeral_storage: "100Gi".to_owned(),
            labels: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The nodes, numbered from 1: `sim-node-1` at 10.99.0.1, and so on.
    pub fn node_specs(&self) -> Vec<NodeSpec> {
        (1..=self.nodes)
            .map(|index| NodeSpec {
                index,
                name: node_name(index),
                internal_ip: addresses::node_ip(index),
                cpu: self.cpu.clone(),
                memory: self.memory.clone(),
                pods: self.pods,
                ephemeral_storage: self.ephemeral_storage.clone(),
                labels: self.labels.clone(),
            })
            .collect()
    }
}

/// The name of the simulated node numbered `index`.
pub fn node_name(index: usize) -> String {
    format!("sim-node-{index}")
}

/// One simulated node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub index: usize,
    pub name: String,
    pub internal_ip: Ipv4Addr,
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    pub ephemeral_storage: String,
    pub labels: BTreeMap<String, String>,
}

impl NodeSpec {
    /// The node numbered `index` with the default capacity.
    pub fn numbered(index: usize) -> NodeSpec {
        let config = Config { nodes: index, ..Config::default() };
        config.node_specs().pop().expect("index >= 1")
    }
}

/// Who the nodes are to the API server.
pub enum Identity {
    /// Node `i` uses `clients[i - 1]` (see [`node_client`]). A node the API server refuses
    /// (no Node authorizer to grant node identities their writes) uses `fallback` instead.
    PerNode { clients: Vec<kube::Client>, fallback: Option<kube::Client> },
    /// Every node uses this client (`krust sim` against any cluster with a kubeconfig).
    Shared(kube::Client),
}

/// A client for node `name` of the cluster of `pki`: user `system:node:<name>`, group
/// `system:nodes`, with a certificate freshly issued by the cluster CA.
pub async fn node_client(pki: &pki::Pki, server_url: &str, name: &str) -> Result<kube::Client, Error> {
    let user = format!("system:node:{name}");
    Ok(client_runtime::client::component_client(pki, server_url, &user, &[NODES_GROUP]).await?)
}

/// Run the nodes of `config` until `shutdown` resolves. With [`Identity::Shared`] all nodes
/// share one pod watch and one node watch ([`source::FanOut`]); with [`Identity::PerNode`]
/// each node watches its own pods. Either way all nodes share the bounds on API calls in
/// flight ([`kubelet::Limits`]).
pub async fn run(identity: Identity, config: Config, shutdown: impl Future<Output = ()>) {
    let specs = config.node_specs();
    let fan_out = match &identity {
        Identity::Shared(client) => {
            Some(Arc::new(source::FanOut::new(client.clone(), specs.iter().map(|spec| spec.name.clone()))))
        }
        Identity::PerNode { .. } => None,
    };
    let source = fan_out.clone().map_or(source::Source::Own, source::Source::Shared);
    let limits = kubelet::Limits::default();
    // Each node on its own task (dropping the set on shutdown aborts them all).
    let mut kubelets = tokio::task::JoinSet::new();
    if let Some(fan_out) = fan_out {
        kubelets.spawn(async move { fan_out.run().await });
    }
    for spec in specs {
        let (client, fallback) = match &identity {
            Identity::PerNode { clients, fallback } => (clients.get(spec.index - 1).cloned(), fallback.clone()),
            Identity::Shared(client) => (Some(client.clone()), None),
        };
        let Some(client) = client.or_else(|| fallback.clone()) else {
            tracing::error!(node = %spec.name, "no client for the simulated node");
            continue;
        };
        let kubelet = kubelet::Kubelet { spec, client, fallback, source: source.clone(), nodes: config.nodes };
        kubelets.spawn(kubelet.run(limits.clone()));
    }
    tokio::select! {
        _ = kubelets.join_all() => {}
        () = shutdown => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_numbered_from_one() {
        let specs = Config { nodes: 3, ..Config::default() }.node_specs();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["sim-node-1", "sim-node-2", "sim-node-3"]);
        assert_eq!(specs[2].internal_ip, Ipv4Addr::new(10, 99, 0, 3));
        assert_eq!(specs[0].cpu, "8");
    }
}
