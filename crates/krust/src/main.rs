//! `krust`: a Kubernetes-compatible cluster in one binary. This file only parses the
//! command line and wires the components; each lives in its own crate.

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
    /// Run the control plane: the API server on its embedded store.
    Server(ServerArgs),
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
        data_dir: args.data_dir.unwrap_or_else(default_data_dir),
        bind_address: args.bind_address,
        secure_port: args.secure_port,
        service_cidr: args.service_cluster_ip_range,
        write_kubeconfig: args.write_kubeconfig,
    };
    let running = apiserver::start(&config).await?;
    tracing::info!(address = %running.address, "API server ready");
    let kubeconfig = config.write_kubeconfig.as_ref().unwrap_or(&running.kubeconfig);
    println!("Krust API server listening on https://{}", running.address);
    println!("Admin kubeconfig written to {}", kubeconfig.display());
    println!("export KUBECONFIG={}", kubeconfig.display());
    shutdown_signal().await;
    running.state.set_shutting_down();
    Ok(())
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
        Command::Server(args) => server(args).await,
    }
}
