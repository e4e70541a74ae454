//! Wiring of the scheduler and the simulated nodes: in-process next to the API server
//! (`krust server`, `--simulated-nodes N`, `--disable=scheduler`), or `krust sim` against
//! any cluster with a kubeconfig.

use anyhow::{Context, Result};
use std::path::PathBuf;
use tokio::sync::oneshot;

/// A future that resolves when a component should stop.
type Shutdown = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

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

/// Start the scheduler (unless `scheduler` is false) and `simulated_nodes` nodes, each as
/// its own API client; every returned sender stops one of them.
pub async fn start(
    running: &apiserver::Running,
    scheduler: bool,
    simulated_nodes: usize,
) -> Result<Vec<oneshot::Sender<()>>> {
    let url = format!("https://{}", running.state.server_address);
    let mut stops = Vec::new();
    if scheduler {
        let client = scheduler::client(&running.pki, &url).await?;
        stops.push(spawn("the scheduler", |stopped| scheduler::run(client, stopped)));
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
        stops.push(spawn("the simulated nodes", |stopped| async move {
            sim::run(identity, config, stopped).await;
            Ok::<(), sim::Error>(())
        }));
    }
    Ok(stops)
}

/// Run `component` until the returned sender fires, logging if it stops on its own.
fn spawn<F, E>(name: &'static str, component: impl FnOnce(Shutdown) -> F) -> oneshot::Sender<()>
where
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let running = component(Box::pin(async move { stopped.await.unwrap_or_default() }));
    tokio::spawn(async move {
        if let Err(error) = running.await {
            tracing::error!(%error, "{name} stopped");
        }
    });
    stop
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
