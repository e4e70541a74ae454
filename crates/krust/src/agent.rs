//! Wiring of the node agent (`crates/kubelet`): its flags, as upstream's kubelet and k3s
//! name them, and starting it in-process next to the API server (`krust server` runs one
//! unless `--disable-agent`), and `krust image import`.

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Taint;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;

/// The node agent's flags.
#[derive(clap::Args, Clone)]
pub struct AgentArgs {
    /// Run no node agent: this machine does not become a node.
    #[arg(long)]
    pub disable_agent: bool,
    /// The node's name [default: the hostname].
    #[arg(long)]
    pub node_name: Option<String>,
    /// The node's InternalIP [default: the address of the default route's interface].
    #[arg(long)]
    pub node_ip: Option<IpAddr>,
    /// The node's ExternalIP.
    #[arg(long)]
    pub node_external_ip: Option<IpAddr>,
    /// Labels to register the node with (`key=value`, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub node_labels: Vec<String>,
    /// Taints to register the node with (`key=value:Effect`, comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub node_taints: Vec<String>,
    /// A CRI socket to use (`unix:///run/containerd/containerd.sock`) instead of the
    /// containerd Krust starts itself.
    #[arg(long)]
    pub container_runtime_endpoint: Option<String>,
    /// How many pods the node takes.
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
    /// The cluster DNS server pods resolve with [default: the tenth address of the
    /// Service range].
    #[arg(long)]
    pub cluster_dns: Option<IpAddr>,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
}

fn hostname() -> String {
    nix_hostname().unwrap_or_else(|| "krust-node".to_owned()).to_lowercase()
}

fn nix_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_owned()).filter(|h| !h.is_empty())
}

/// `key=value` labels.
fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>> {
    labels
        .iter()
        .filter(|l| !l.is_empty())
        .map(|label| {
            let (key, value) =
                label.split_once('=').with_context(|| format!("--node-labels: {label:?} is not key=value"))?;
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `key[=value]:Effect` taints.
fn parse_taints(taints: &[String]) -> Result<Vec<Taint>> {
    taints
        .iter()
        .filter(|t| !t.is_empty())
        .map(|taint| {
            let (key_value, effect) = taint.rsplit_once(':').with_context(|| format!("--node-taints: {taint:?} is not key=value:Effect"))?;
            if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                bail!("--node-taints: {taint:?} has an unknown effect {effect:?} (NoSchedule, PreferNoSchedule, NoExecute)");
            }
            let (key, value) = match key_value.split_once('=') {
                Some((key, value)) => (key, Some(value.to_owned())),
                None => (key_value, None),
            };
            Ok(Taint { key: key.to_owned(), value, effect: effect.to_owned(), time_added: None })
        })
        .collect()
}

/// The tenth address of the Service range (upstream's convention for the cluster DNS).
fn default_cluster_dns(service_cidr: &str) -> Result<IpAddr> {
    let base: std::net::Ipv4Addr =
        service_cidr.split('/').next().unwrap_or_default().parse().context("--service-cluster-ip-range")?;
    Ok(IpAddr::V4(std::net::Ipv4Addr::from(u32::from(base) + 10)))
}

impl AgentArgs {
    /// The agent's configuration for a server with `data_dir`, `service_cidr` and `cluster_cidr`.
    pub fn config(
        &self,
        data_dir: &Path,
        service_cidr: &str,
        cluster_cidr: &str,
        pki: &pki::Pki,
    ) -> Result<kubelet::Config> {
        let name = self.node_name.clone().unwrap_or_else(hostname);
        let internal_ip = match self.node_ip {
            Some(ip) => ip,
            None => kubelet::node::machine::default_node_ip().context("no --node-ip given and no address found")?,
        };
        let endpoint = self.container_runtime_endpoint.as_ref().map(|e| PathBuf::from(e.trim_start_matches("unix://")));
        let (cert, key) = pki.issue_kubelet_serving_cert(&name, &[internal_ip])?;
        let tls = kubelet::ServingTls { ca: pki.ca_pem().to_owned(), cert, key };
        let cluster_dns = match self.cluster_dns {
            Some(ip) => ip,
            None => default_cluster_dns(service_cidr)?,
        };
        Ok(kubelet::Config {
            data_dir: data_dir.to_path_buf(),
            node: kubelet::node::NodeConfig {
                name,
                internal_ip,
                external_ip: self.node_external_ip,
                labels: parse_labels(&self.node_labels)?,
                taints: parse_taints(&self.node_taints)?,
                storage_root: Some(kubelet::paths::Paths::new(data_dir).storage().display().to_string()),
            },
            container_runtime_endpoint: endpoint,
            max_pods: self.max_pods,
            cluster_dns: cluster_dns.to_string(),
            cluster_domain: self.cluster_domain.clone(),
            cluster_cidr: Some(cluster_cidr.to_owned()),
            tls,
        })
    }
}

/// Start the node agent in-process as `system:node:<name>`; it runs until the sender
/// fires, then stops containerd and completes the returned task.
pub async fn start(
    running: &apiserver::Running,
    config: kubelet::Config,
) -> Result<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)> {
    let url = format!("https://{}", running.state.server_address);
    let user = format!("system:node:{}", config.node.name);
    let client = client_runtime::client::component_client(&running.pki, &url, &user, &["system:nodes"]).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let node = config.node.name.clone();
        match kubelet::run(config, client, async {
            let _ = stopped.await;
        })
        .await
        {
            Ok(()) => {}
            Err(kubelet::Error::NoContainerd) => {
                tracing::warn!("{}; running without a node (or pass --disable-agent)", kubelet::Error::NoContainerd);
            }
            Err(error) => tracing::error!(%node, %error, "the node agent stopped"),
        }
    });
    Ok((stop, task))
}

/// `krust image`: manage the images of this machine's node.
#[derive(clap::Subcommand)]
pub enum ImageCommand {
    /// Load OCI or docker-archive tarballs into the node's containerd (`k8s.io` namespace).
    Import {
        /// The data dir of the `krust server` whose containerd to use.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The archives to import.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Run `krust image ...`.
pub async fn image(command: ImageCommand, default_data_dir: PathBuf) -> Result<()> {
    match command {
        ImageCommand::Import { data_dir, files } => {
            let paths = kubelet::paths::Paths::new(&data_dir.unwrap_or(default_data_dir));
            let socket = paths.containerd_socket();
            if !socket.exists() {
                bail!("no containerd socket at {} (is `krust server` running with this --data-dir?)", socket.display());
            }
            for file in files {
                kubelet::images::import::import(&socket, &file).await?;
                println!("imported {}", file.display());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_taints_and_the_dns_address_parse_as_upstreams_flags() {
        let labels = parse_labels(&["zone=a".into(), "disk=ssd".into()]).unwrap();
        assert_eq!(labels["zone"], "a");
        assert!(parse_labels(&["bad".into()]).is_err());
        let taints = parse_taints(&["dedicated=db:NoSchedule".into(), "gpu:NoExecute".into()]).unwrap();
        assert_eq!(
            (taints[0].key.as_str(), taints[0].value.as_deref(), taints[0].effect.as_str()),
            ("dedicated", Some("db"), "NoSchedule")
        );
        assert_eq!((taints[1].key.as_str(), taints[1].value.as_deref()), ("gpu", None));
        assert!(parse_taints(&["x=y:Sometimes".into()]).is_err());
        assert_eq!(default_cluster_dns("10.0.0.0/16").unwrap().to_string(), "10.0.0.10");
    }
}
