//! `krust`: a Kubernetes-compatible cluster in one binary. This file only parses the
//! command line and wires the components; each lives in its own crate.

mod agent;
mod election;
mod scheduling;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "krust", version, about = "A Kubernetes-compatible cluster in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane: the API server on its embedded store (or etcd), with the
    /// controller manager and the scheduler.
    Server(Box<ServerArgs>),
    /// Run a proxy to the Kubernetes API server (kubectl proxy).
    Proxy(apiproxy::ProxyFlags),
    /// Run simulated nodes (kubelets without containers) against a cluster.
    Sim(scheduling::SimArgs),
    /// Manage the images of this machine's node.
    #[command(subcommand)]
    Image(agent::ImageCommand),
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where the store, certificates and kubeconfig live
    /// [default: /var/lib/krust as root, else ~/.local/share/krust].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The HTTPS port of the API server.
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// The Service cluster-IP range.
    #[arg(long, default_value = "10.0.0.0/16")]
    service_cluster_ip_range: String,
    /// Also write the admin kubeconfig here.
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// Components not to start, comma-separated: `controllers`, `scheduler`, or single
    /// controllers by their upstream names (`deployment-controller` or `deployment`).
    #[arg(long, value_delimiter = ',', value_parser = parse_component)]
    disable: Vec<String>,
    /// Run this many simulated nodes (kubelets without containers) in-process.
    #[arg(long, default_value_t = 0)]
    simulated_nodes: usize,
    /// Append an audit log (audit.k8s.io/v1 Events, one JSON line per request) here.
    #[arg(long)]
    audit_log_path: Option<PathBuf>,
    /// How to encrypt resources at rest (upstream's EncryptionConfiguration file)
    /// [default: Secrets with AES-GCM under a key generated into the data dir].
    #[arg(long)]
    encryption_provider_config: Option<PathBuf>,
    /// Static bearer tokens, one `token,user,uid,"group1,group2"` line each.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// The range node pod ranges (a /24 each) are taken from.
    #[arg(long, default_value = "10.244.0.0/16", value_parser = parse_cluster_cidr)]
    cluster_cidr: controllers::node_ipam::ClusterCidr,
    /// Seconds a node's kubelet may be silent before the node goes Unknown (tests shorten it).
    #[arg(long, hide = true, default_value_t = 40)]
    node_monitor_grace_period: u64,
    /// etcd endpoints (`http://host:port`, comma-separated) to keep the cluster state in,
    /// instead of the embedded store; several servers can share them.
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// A prefix for every key in etcd, so that clusters can share one etcd (keys are
    /// `<prefix>/registry/...`).
    #[arg(long, default_value = "")]
    etcd_prefix: String,
    #[command(flatten)]
    election: election::ElectionArgs,
    #[command(flatten)]
    agent: agent::AgentArgs,
}

fn parse_cluster_cidr(cidr: &str) -> Result<controllers::node_ipam::ClusterCidr, String> {
    controllers::node_ipam::ClusterCidr::parse(cidr).map_err(|e| e.to_string())
}

/// A name `--disable` takes, made canonical (a controller's full upstream name).
fn parse_component(name: &str) -> Result<String, String> {
    match name {
        "controllers" | "scheduler" => Ok(name.to_owned()),
        _ => controllers::controller_named(name).map(str::to_owned).ok_or_else(|| {
            let known: Vec<&str> = controllers::CONTROLLERS.iter().map(|(n, _)| *n).collect();
            format!("unknown component {name:?}; known: controllers, scheduler, {}", known.join(", "))
        }),
    }
}

fn default_data_dir() -> PathBuf {
    let is_root = std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::env::var("HOME").map(|h| h == "/root").unwrap_or(false);
    if is_root {
        return PathBuf::from("/var/lib/krust");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/krust")
}

async fn server(args: ServerArgs) -> Result<()> {
    let config = apiserver::Config {
        data_dir: args.data_dir.clone().unwrap_or_else(default_data_dir),
        bind_address: args.bind_address,
        secure_port: args.secure_port,
        service_cidr: args.service_cluster_ip_range.clone(),
        write_kubeconfig: args.write_kubeconfig.clone(),
        audit_log_path: args.audit_log_path.clone(),
        encryption_provider_config: args.encryption_provider_config.clone(),
        token_auth_file: args.token_auth_file.clone(),
        etcd_servers: args.etcd_servers.clone(),
        etcd_prefix: args.etcd_prefix.clone(),
    };
    let running = apiserver::start(&config).await?;
    // One identity per process, for every Lease it contends for.
    let identity = leaderelection::process_identity();
    let mut stops = Vec::new();
    if !args.disable.iter().any(|c| c == "controllers") {
        stops.push(start_controllers(&running, &args, &identity).await?);
    }
    let scheduler = !args.disable.iter().any(|c| c == "scheduler");
    stops.extend(scheduling::start(&running, &args.election, &identity, scheduler, args.simulated_nodes).await?);
    let node_agent = if args.agent.disable_agent {
        None
    } else {
        let cluster_cidr = args.cluster_cidr.to_string();
        let agent_config =
            args.agent.config(&config.data_dir, &args.service_cluster_ip_range, &cluster_cidr, &running.pki)?;
        Some(agent::start(&running, agent_config).await?)
    };
    tracing::info!(address = %running.address, "API server ready");
    let kubeconfig = config.write_kubeconfig.as_ref().unwrap_or(&running.kubeconfig);
    println!("Krust API server listening on https://{}", running.address);
    println!("Admin kubeconfig written to {}", kubeconfig.display());
    println!("export KUBECONFIG={}", kubeconfig.display());
    shutdown_signal().await;
    for stop in stops {
        let _ = stop.send(());
    }
    // The agent stops containerd before the process exits (the containers keep running).
    if let Some((stop, task)) = node_agent {
        let _ = stop.send(());
        let _ = task.await;
    }
    running.state.set_shutting_down();
    Ok(())
}

/// Run the controller manager in-process as the API client `system:kube-controller-manager`,
/// while this process holds the `kube-controller-manager` Lease; it stops when the returned
/// sender fires.
async fn start_controllers(
    running: &apiserver::Running,
    args: &ServerArgs,
    identity: &str,
) -> Result<tokio::sync::oneshot::Sender<()>> {
    let client = controllers::client(&running.pki, &format!("https://{}", running.state.server_address)).await?;
    let mut context = controllers::Context::new(client.clone(), &running.pki);
    context.node_monitor_grace_period = std::time::Duration::from_secs(args.node_monitor_grace_period);
    context.cluster_cidr = args.cluster_cidr.clone();
    let disabled = args.disable.clone();
    Ok(args.election.spawn(client, "kube-controller-manager", identity, move |stop| {
        let (context, disabled) = (context.clone(), disabled.clone());
        async move { controllers::run(context, &disabled, stop).await }
    }))
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Server(args) => server(*args).await,
        Command::Proxy(flags) => Ok(apiproxy::run(flags).await?),
        Command::Sim(args) => scheduling::run_sim(args, shutdown_signal()).await,
        Command::Image(command) => agent::image(command, default_data_dir()).await,
    }
}
