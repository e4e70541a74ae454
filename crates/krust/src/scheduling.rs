//! Wiring of the scheduler and the simulated nodes: in-process next to the API server
//! (`krust server`, `--simulated-nodes N`, `--disable=scheduler`), or `krust sim` against
//! any cluster with a kubeconfig.

use anyhow::{Context, Result};
use std::path::PathBuf;
use tokio::sync::oneshot;

use crate::election::{ElectionArgs, spawn};

/// `krust sim`: simulated nodes for the cluster of a kubeconfig.
#[derive(clap::Args)]
pub struct SimArgs {
    /// The kubeconfig of the cluster to join [default: $KUBECONFIG, then ~/.kube/config].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// How many nodes to simulate.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// The cpu capacity of each node.
    #[arg(long, default_value = "8")]
    cpu: String,
    /// The memory capacity of each node.
    #[arg(long, default_value = "32Gi")]
    memory: String,
    /// How many pods each node takes.
    #[arg(long, default_value_t = 110)]
    max_pods: u32,
}

/// Start the scheduler (unless `scheduler` is false; while this process holds the
/// `kube-scheduler` Lease) and `simulated_nodes` nodes, each as its own API client; every
/// returned sender stops one of them.
pub async fn start(
    running: &apiserver::Running,
    election: &ElectionArgs,
    identity: &str,
    scheduler: bool,
    simulated_nodes: usize,
) -> Result<Vec<oneshot::Sender<()>>> {
    let url = format!("https://{}", running.state.server_address);
    let mut stops = Vec::new();
    if scheduler {
        let client = scheduler::client(&running.pki, &url).await?;
        let scheduling = client.clone();
        stops.push(
            election.spawn(client, "kube-scheduler", identity, move |stop| scheduler::run(scheduling.clone(), stop)),
        );
    }
    if simulated_nodes > 0 {
        let config = sim::Config { nodes: simulated_nodes, ..sim::Config::default() };
        let mut clients = Vec::new();
        for spec in config.node_specs() {
            clients.push(sim::node_client(&running.pki, &url, &spec.name).await?);
        }
        // Until node identities are authorized, the nodes act as the controller manager.
        let fallback = Some(controllers::client(&running.pki, &url).await?);
        let identity = sim::Identity::PerNode { clients, fallback };
        stops.push(spawn("the simulated nodes".to_owned(), |stopped| async move {
            sim::run(identity, config, stopped).await;
            Ok::<(), sim::Error>(())
        }));
    }
    Ok(stops)
}

/// `krust sim`: run simulated nodes against the cluster of a kubeconfig until interrupted.
pub async fn run_sim(args: SimArgs, shutdown: impl Future<Output = ()>) -> Result<()> {
    let kubeconfig = match &args.kubeconfig {
        Some(path) => kube::config::Kubeconfig::read_from(path)
            .with_context(|| format!("reading the kubeconfig {}", path.display()))?,
        None => kube::config::Kubeconfig::read().context("reading the kubeconfig")?,
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let client = kube::Client::try_from(config)?;
    let config = sim::Config {
        nodes: args.nodes,
        cpu: args.cpu,
        memory: args.memory,
        pods: args.max_pods,
        ..Default::default()
    };
    println!("Simulating {} node(s)", config.nodes);
    sim::run(sim::Identity::Shared(client), config, shutdown).await;
    Ok(())
}
