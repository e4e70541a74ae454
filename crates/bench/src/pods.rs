//! `krust-bench pods`: pod startup as upstream's SLO measures it — from a pod's creation
//! to the watch showing it Ready, images already on the node — for batches of 1, 10 and 30
//! pods on a real node, with p50/p99, and the server's memory (the control plane and the
//! node agent; containerd is a process of its own). The node runs in network namespaces
//! the benchmark makes (see `testnet`): the outer process creates them and runs itself
//! again inside with `--inside`, then deletes them.

use crate::server::{Server, memory_of};
use crate::stats::millis;
use anyhow::{Context, Result, bail};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The image every benchmark pod runs (imported before the server starts).
const IMAGE: &str = "docker.io/library/busybox:1.36";

#[derive(clap::Args)]
pub struct PodsArgs {
    /// The krust binary to start.
    #[arg(long, default_value = "target/release/krust")]
    krust: PathBuf,
    /// RUST_LOG for the server.
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// Batch sizes (pods created at once), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10,30")]
    batches: Vec<usize>,
    /// Run the measurement itself (inside the namespaces the outer process made).
    #[arg(long, hide = true)]
    inside: bool,
}

impl PodsArgs {
    /// Whether this is the measuring process (inside the namespaces).
    pub fn is_inside(&self) -> bool {
        self.inside
    }
}

/// Create the namespaces, run the measurement inside them, delete them.
pub fn run(args: PodsArgs) -> Result<()> {
    let missing = testnet::missing_for_a_node();
    if !missing.is_empty() {
        bail!("the pod startup benchmark needs a real node; missing: {missing:?}");
    }
    let netns = testnet::Netns::create().map_err(anyhow::Error::msg)?;
    let exe = std::env::current_exe().context("finding krust-bench itself")?;
    let status = netns
        .enter(&exe)
        .args(["pods", "--inside", "--krust"])
        .arg(&args.krust)
        .args(["--server-log", &args.server_log, "--batches"])
        .arg(args.batches.iter().map(usize::to_string).collect::<Vec<_>>().join(","))
        .status();
    netns.delete();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => bail!("the measurement failed ({status})"),
        Err(error) => bail!("running the measurement: {error}"),
    }
}

/// The measurement, inside the node's namespace.
pub async fn inside(args: PodsArgs) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temp data dir")?;
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images)?;
    let image = kubelet::images::busybox::image(IMAGE, Path::new(kubelet::images::busybox::BUSYBOX))?;
    std::fs::write(images.join("busybox.tar"), image.archive()?)?;
    let data_dir = dir.path().to_path_buf();
    let node_args = ["--node-name", "bench-node", "--node-ip", testnet::NODE_IP];
    let server = Server::start_node(&args.krust, &args.server_log, &node_args, Duration::from_secs(60), dir).await?;
    println!("krust server pid {} with a node; data in {}", server.pid, data_dir.display());
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(server.kubeconfig())?,
        &Default::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let ready_after = wait_node_ready(&client).await?;
    println!("node Ready {:.1}s after the server", ready_after.as_secs_f64());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    println!("{:<8} {:>10} {:>10} {:>10}", "pods", "p50 ms", "p99 ms", "max ms");
    for (round, &count) in args.batches.iter().enumerate() {
        let mut latencies = startup_round(&pods, round, count).await?;
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1];
        println!("{count:<8} {:>10.0} {:>10.0} {:>10.0}", millis(at(0.5)), millis(at(0.99)), millis(at(1.0)));
        delete_all(&pods).await?;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let memory = memory_of(server.pid)?;
    println!(
        "krust server (control plane and node agent, idle): RSS {} MiB, peak {} MiB (anon {} MiB)",
        memory.rss / 1024,
        memory.peak / 1024,
        memory.anon / 1024
    );
    Ok(())
}

async fn wait_node_ready(client: &kube::Client) -> Result<Duration> {
    let started = Instant::now();
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let ready = nodes.get_opt("bench-node").await?.is_some_and(|n| {
            n.status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        if ready {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the node did not become Ready within 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Create `count` pods at once; each one's time from its create call to the watch event
/// that shows it Ready.
async fn startup_round(pods: &Api<Pod>, round: usize, count: usize) -> Result<Vec<Duration>> {
    let list = pods.list(&ListParams::default()).await?;
    let version = list.metadata.resource_version.unwrap_or_default();
    let mut watch =
        pods.watch(&WatchParams::default().labels(&format!("bench-round={round}")), &version).await?.boxed();
    let mut created: HashMap<String, Instant> = HashMap::new();
    for index in 0..count {
        let name = format!("startup-{round}-{index}");
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"bench-round": round.to_string()}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{"name": "c", "image": IMAGE,
                "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]},
        }))?;
        created.insert(name, Instant::now());
        pods.create(&PostParams::default(), &pod).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut latencies = Vec::new();
    while latencies.len() < count {
        let event = tokio::time::timeout_at(deadline.into(), watch.next())
            .await
            .context("pods did not become Ready within 2 minutes")?;
        let Some(event) = event else { bail!("the watch ended") };
        if let WatchEvent::Added(pod) | WatchEvent::Modified(pod) = event?
            && ready(&pod)
            && let Some(start) = pod.metadata.name.as_ref().and_then(|n| created.remove(n))
        {
            latencies.push(start.elapsed());
        }
    }
    Ok(latencies)
}

async fn delete_all(pods: &Api<Pod>) -> Result<()> {
    pods.delete_collection(&DeleteParams::default(), &ListParams::default()).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pods.list(&ListParams::default()).await?.items.is_empty() {
        if Instant::now() > deadline {
            bail!("pods were not deleted within a minute");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
