//! The node agent's life: start (or reach) containerd, load the pause image and the air-gap
//! images, register the Node, wait for its pod range and write the pod network, then run
//! the pods bound to it while heartbeating, until shutdown stops containerd again (the
//! containers keep running, for the next start to adopt).

use crate::containerd::Containerd;
use crate::cri::Cri;
use crate::error::{Error, Result};
use crate::node::machine::Capacity;
use crate::node::{self, NodeConfig, Observed, lease};
use crate::paths::Paths;
use crate::pods::sandbox::ClusterDns;
use crate::pods::{Context, PodManager};
use crate::server::auth::Authorizer;
use crate::server::{self, KubeletApi};
use crate::{cni, images};
use client_runtime::events::Recorder;
use client_runtime::informers::Informers;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use kube::runtime::watcher;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often the node reports its status (upstream's `nodeStatusUpdateFrequency`).
const STATUS_INTERVAL: Duration = Duration::from_secs(10);
/// The port of the plain-HTTP health check (upstream's `--healthz-port`).
const HEALTHZ_PORT: u16 = 10248;
/// The field manager and event source of the agent's writes.
pub const COMPONENT: &str = "kubelet";

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub node: NodeConfig,
    /// A CRI socket to use instead of starting containerd.
    pub container_runtime_endpoint: Option<PathBuf>,
    pub max_pods: u32,
    pub cluster_dns: String,
    pub cluster_domain: String,
    /// The cluster's pod range (traffic leaving it is masqueraded).
    pub cluster_cidr: Option<String>,
    /// The kubelet API's TLS: the cluster CA (for client certificates) and this node's
    /// serving certificate and key, all PEM.
    pub tls: ServingTls,
}

/// The PEMs the kubelet API serves with.
#[derive(Clone, Debug)]
pub struct ServingTls {
    pub ca: String,
    pub cert: String,
    pub key: String,
}

/// Run the agent with `client` (its own identity) until `shutdown` resolves.
pub async fn run(config: Config, client: kube::Client, shutdown: impl Future<Output = ()>) -> Result<()> {
    let paths = Paths::new(&config.data_dir);
    let (containerd, socket) = match &config.container_runtime_endpoint {
        Some(endpoint) => (None, endpoint.clone()),
        None => {
            let containerd = Containerd::start(&paths).await?;
            let socket = containerd.socket();
            (Some(containerd), socket)
        }
    };
    let result = tokio::select! {
        result = serve(&config, &paths, &socket, client) => result,
        () = shutdown => Ok(()),
    };
    if let Some(containerd) = containerd {
        containerd.stop().await;
    }
    result
}

async fn serve(config: &Config, paths: &Paths, socket: &std::path::Path, client: kube::Client) -> Result<()> {
    let cri = Cri::connect(socket).await?;
    let archive = images::pause::archive().map_err(Error::io("building", "the pause image"))?;
    images::import::import_bytes(socket, &paths.root.join("tmp"), "pause.tar", &archive).await?;
    images::import::import_dir(socket, &config.data_dir).await;
    let version = cri.version().await?;
    let runtime_version = format!("{}://{}", version.runtime_name, version.runtime_version);
    let capacity = Capacity::of_machine(&config.data_dir, config.max_pods);

    let registered = register(&client, &config.node).await;
    let informers = Informers::new(client.clone());
    let node_name = config.node.name.clone();
    let nodes = informers.selected::<Node>(watcher::Config::default().fields(&format!("metadata.name={node_name}")));
    let pods = informers.selected::<Pod>(watcher::Config::default().fields(&format!("spec.nodeName={node_name}")));
    let services = informers.all::<Service>();
    let context = Arc::new(Context {
        client: client.clone(),
        cri: cri.clone(),
        paths: paths.clone(),
        node_name: node_name.clone(),
        host_ip: config.node.internal_ip.to_string(),
        dns: ClusterDns { server: config.cluster_dns.clone(), domain: config.cluster_domain.clone() },
        recorder: Recorder::new(client.clone(), COMPONENT, COMPONENT).with_host(&node_name),
        services: services.store(),
        pods: pods.store(),
        metrics: Arc::default(),
        capacity: capacity.clone(),
    });

    let network = async {
        let cidr = loop {
            nodes.synced().await;
            let cidr = nodes
                .store()
                .get(&kube::runtime::reflector::ObjectRef::new(&node_name))
                .and_then(|n| n.spec.as_ref()?.pod_cidr.clone());
            if let Some(cidr) = cidr {
                break cidr;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        if let Err(error) = cni::write_config(paths, &cidr) {
            tracing::error!(%error, "writing the pod network configuration failed");
        }
        if let Some(cluster_cidr) = &config.cluster_cidr {
            cni::masquerade(&cidr, cluster_cidr).await;
        }
        tracing::info!(pod_cidr = %cidr, "pod network configured");
    };

    let manager = PodManager::new(context.clone());
    // Pods start only once the Services are known (their environment needs them).
    services.synced().await;
    {
        let manager = manager.clone();
        pods.on_change(move |pod| manager.update(pod));
    }
    {
        let manager = manager.clone();
        pods.on_delete(move |pod| manager.delete(pod));
    }
    let api = Arc::new(KubeletApi {
        context: context.clone(),
        pods: pods.store(),
        authorizer: Authorizer::new(client.clone(), &node_name),
    });
    let tls = pki::kubelet_server_tls_config(&config.tls.ca, &config.tls.cert, &config.tls.key)?;
    let address = std::net::SocketAddr::from(([0, 0, 0, 0], node::KUBELET_PORT));
    let listener =
        tokio::net::TcpListener::bind(address).await.map_err(Error::io("listening on", address.to_string()))?;
    let healthz_address = std::net::SocketAddr::from(([127, 0, 0, 1], HEALTHZ_PORT));
    let healthz = tokio::net::TcpListener::bind(healthz_address)
        .await
        .map_err(Error::io("listening on", healthz_address.to_string()))?;
    let serving = async {
        tokio::join!(server::serve(listener, tls, api), server::serve_healthz(healthz));
    };
    let sweep = async {
        pods.synced().await;
        let store = pods.store();
        manager
            .clone()
            .sweep_orphans(move |uid| store.state().iter().any(|p| p.metadata.uid.as_deref() == Some(uid)))
            .await;
    };
    let heartbeat = heartbeat(&client, config, &cri, &capacity, &runtime_version, registered);
    tokio::join!(network, sweep, heartbeat, serving);
    Ok(())
}

/// Register the node, retrying with back-off until the API server takes it.
async fn register(client: &kube::Client, config: &NodeConfig) -> Node {
    let mut delay = Duration::from_millis(200);
    loop {
        match node::register(client, config).await {
            Ok(node) => return node,
            Err(error) => {
                tracing::warn!(node = %config.name, %error, "registering the node failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Renew the Lease every ten seconds, and report the status every ten seconds (every
/// second while the node is not Ready, so it turns Ready promptly).
async fn heartbeat(
    client: &kube::Client,
    config: &Config,
    cri: &Cri,
    capacity: &Capacity,
    runtime_version: &str,
    node: Node,
) {
    let leases = async {
        let mut tick = tokio::time::interval(lease::RENEW_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(error) = lease::renew(client, &node).await {
                tracing::warn!(%error, "renewing the node lease failed");
            }
        }
    };
    let statuses = async {
        let mut was_ready = None;
        let mut ready_since = node::now();
        loop {
            let ready = node::runtime_ready(cri).await;
            let is_ready = ready.is_ok();
            if was_ready != Some(is_ready) {
                ready_since = node::now();
                was_ready = Some(is_ready);
            }
            let observed = Observed {
                capacity,
                runtime_version,
                ready,
                images: node::images(cri).await,
                ready_since,
                pressure: node::machine::Pressure::now(&config.data_dir),
            };
            if let Err(error) =
                node::report_status(client, &config.node, node::node_status(&config.node, &observed)).await
            {
                tracing::warn!(%error, "reporting node status failed");
            }
            tokio::time::sleep(if is_ready { STATUS_INTERVAL } else { Duration::from_secs(1) }).await;
        }
    };
    tokio::join!(leases, statuses);
}
