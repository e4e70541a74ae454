//! `krust-bench scale`: kwok's scale targets against a `krust server`, with simulated
//! nodes from a separate `krust sim` process. Two rounds, each on a fresh server:
//!
//! 1. The whole cluster: time until N nodes are Ready (from spawning the simulator), until
//!    P pods created at once are Running (from the first create), and until they are gone
//!    after deleting them all (graceful deletion, finished by the simulated kubelets).
//! 2. The scheduler alone: the server runs with `--disable=scheduler`; once the N nodes
//!    are Ready and P pods are Pending, the scheduler starts inside this process (as the
//!    admin client) and the time until every pod is bound gives its pods/s.
//!
//! Every wait is bounded by `--phase-secs` and a timeout is reported as a figure. The peak
//! RSS (VmHWM) of the server and of the simulator closes each round.

use crate::client::Client;
use crate::server::{Memory, Server, memory_of};
use crate::server_metrics::Snapshot;
use crate::sim_nodes::SimNodes;
use crate::tracker::{Tracker, Waited};
use crate::{scrape, verdict};
use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// A cluster range with a /24 for every one of thousands of nodes (the default /16 has 256).
const CLUSTER: [&str; 2] = ["--cluster-cidr", "10.128.0.0/9"];

#[derive(clap::Args)]
pub struct ScaleArgs {
    /// The krust binary to start (as `krust server` and `krust sim`).
    #[arg(long, default_value = "target/release/krust")]
    krust: PathBuf,
    /// Simulated nodes.
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    /// Pods to create, run and delete.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Creates and deletes in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Upper bound on each phase's seconds.
    #[arg(long, default_value_t = 120)]
    phase_secs: u64,
    /// RUST_LOG for the server (its controllers warn of every retried conflict).
    #[arg(long, default_value = "error")]
    server_log: String,
    /// RUST_LOG for the simulator.
    #[arg(long, default_value = "error")]
    sim_log: String,
}

/// The namespace the pods are created in.
const NAMESPACE: &str = "scale";

/// A reference figure a row is judged against.
enum Goal {
    MaxSecs(f64),
    MinPerSecond(f64),
    None,
}

/// One measured phase: how many of `wanted` got there, in how long.
struct Row {
    name: &'static str,
    done: usize,
    wanted: usize,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
    timed_out: bool,
    goal: Goal,
    /// The server's busiest request and storage series during the phase: (series, count,
    /// mean ms).
    server_time: Vec<(String, u64, f64)>,
}

impl Row {
    fn waited(name: &'static str, wanted: usize, done: usize, waited: Waited, goal: Goal) -> Row {
        let (elapsed, timed_out) = (waited.elapsed, waited.timed_out);
        Row { name, done, wanted, errors: 0, first_error: None, elapsed, timed_out, goal, server_time: Vec::new() }
    }

    fn per_second(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Both processes' peak memory at the end of a round.
struct Peaks {
    round: &'static str,
    server: Option<Memory>,
    sim: Option<Memory>,
}

pub async fn run(args: ScaleArgs) -> Result<()> {
    let mut rows = Vec::new();
    let mut peaks = Vec::new();
    peaks.push(whole_cluster(&args, &mut rows).await?);
    peaks.push(scheduler_alone(&args, &mut rows).await?);
    print_rows(&rows);
    print_peaks(&peaks);
    print_server_time(&rows);
    Ok(())
}

/// Round 1: nodes Ready, pods Running, pods deleted.
async fn whole_cluster(args: &ScaleArgs, rows: &mut Vec<Row>) -> Result<Peaks> {
    let budget = Duration::from_secs(args.phase_secs);
    let server = Server::start(&args.krust, &args.server_log, &CLUSTER, Duration::from_secs(60)).await?;
    println!("round 1: krust server pid {} on 127.0.0.1:{}", server.pid, server.port);
    let client = admin_client(&server.kubeconfig()).await?;
    let mut probe = Probe::connect(&server).await?;
    let sim = join_nodes(args, &server, &client, "nodes Ready", Goal::MaxSecs(20.0)).await?;
    rows.push(probe.attribute(sim.1).await);
    let sim = sim.0;

    prepare_namespace(&client, budget).await?;
    let pods = Tracker::start(Api::<Pod>::namespaced(client.clone(), NAMESPACE), Default::default(), is_running);
    let start = Instant::now();
    let created = create_pods(&client, args, start + budget).await;
    let wanted = created.done;
    rows.push(probe.attribute(created).await);
    let running = pods.wait(start, budget, |c| c.matching >= wanted).await;
    let running = Row::waited("pods Running (from 1st create)", wanted, running.counts.matching, running, secs(20.0));
    rows.push(probe.attribute(running).await);
    rows.push(probe.attribute(delete_all(&client, wanted, args, &pods, "pods deleted (until gone)").await).await);
    Ok(peaks("1: scheduler in the server", &server, &sim))
}

/// Round 2: pods created Pending with no scheduler, then the scheduler's throughput, and
/// Running and deletion with every pod on a node.
async fn scheduler_alone(args: &ScaleArgs, rows: &mut Vec<Row>) -> Result<Peaks> {
    let budget = Duration::from_secs(args.phase_secs);
    let disable = [CLUSTER[0], CLUSTER[1], "--disable", "scheduler"];
    let server = Server::start(&args.krust, &args.server_log, &disable, Duration::from_secs(60)).await?;
    println!("round 2: krust server pid {} on 127.0.0.1:{} without its scheduler", server.pid, server.port);
    let client = admin_client(&server.kubeconfig()).await?;
    let mut probe = Probe::connect(&server).await?;
    let (sim, ready) = join_nodes(args, &server, &client, "nodes Ready (no scheduler)", Goal::None).await?;
    rows.push(probe.attribute(ready).await);

    prepare_namespace(&client, budget).await?;
    let pods = || Api::<Pod>::namespaced(client.clone(), NAMESPACE);
    let bound = Tracker::start(pods(), Default::default(), is_bound);
    let running = Tracker::start(pods(), Default::default(), is_running);
    let start = Instant::now();
    let mut created = create_pods(&client, args, start + budget).await;
    created.name = "pods created (left Pending)";
    let wanted = created.done;
    rows.push(probe.attribute(created).await);
    // Every pod is in the watch (so in the store) before the scheduler starts.
    bound.wait(start, budget, |c| c.total >= wanted).await;

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler_client = admin_client(&server.kubeconfig()).await?;
    let start = Instant::now();
    let scheduler = tokio::spawn(scheduler::run(scheduler_client, async {
        let _ = stopped.await;
    }));
    let all_bound = bound.wait(start, budget, |c| c.matching >= wanted).await;
    let done = all_bound.counts.matching;
    let all_bound = Row::waited("pods bound by the scheduler", wanted, done, all_bound, Goal::MinPerSecond(2000.0));
    rows.push(probe.attribute(all_bound).await);
    let all_running = running.wait(start, budget, |c| c.matching >= wanted).await;
    let done = all_running.counts.matching;
    rows.push(
        probe
            .attribute(Row::waited("pods Running (from scheduler start)", wanted, done, all_running, Goal::None))
            .await,
    );
    let _ = stop.send(());
    if let Ok(Err(error)) = scheduler.await {
        eprintln!("  the scheduler failed: {error}");
    }
    rows.push(probe.attribute(delete_all(&client, wanted, args, &running, "pods deleted, all bound").await).await);
    Ok(peaks("2: scheduler started late", &server, &sim))
}

/// Delete the `wanted` pods and wait until `pods` sees none left.
async fn delete_all(client: &kube::Client, wanted: usize, args: &ScaleArgs, pods: &Tracker, name: &'static str) -> Row {
    let budget = Duration::from_secs(args.phase_secs);
    let start = Instant::now();
    let mut deleted = delete_pods(client, wanted, args, start + budget).await;
    let gone = pods.wait(start, budget, |c| c.total == 0).await;
    deleted.name = name;
    deleted.done = wanted.saturating_sub(gone.counts.total);
    (deleted.elapsed, deleted.timed_out) = (gone.elapsed, gone.timed_out);
    eprintln!("  done: {name} ({} in {:.1}s)", deleted.done, deleted.elapsed.as_secs_f64());
    deleted
}

/// The server's `/metrics` between phases, to say where each phase's server time went.
struct Probe {
    client: Client,
    before: Snapshot,
}

impl Probe {
    async fn connect(server: &Server) -> Result<Probe> {
        let client = Client::connect(server.port, &server.tls_files(), 1).await?;
        let before = scrape(&client).await;
        Ok(Probe { client, before })
    }

    /// Give `row` the server time spent since the previous row.
    async fn attribute(&mut self, mut row: Row) -> Row {
        let after = scrape(&self.client).await;
        row.server_time = after.since(&self.before);
        self.before = after;
        row
    }
}

/// Start the simulator for `server`; the row says how long until all its nodes were Ready.
async fn join_nodes(
    args: &ScaleArgs,
    server: &Server,
    client: &kube::Client,
    name: &'static str,
    goal: Goal,
) -> Result<(SimNodes, Row)> {
    let config = watcher::Config::default().labels("type=krust-sim");
    let nodes = Tracker::start(Api::<Node>::all(client.clone()), config, is_ready);
    let start = Instant::now();
    let sim = SimNodes::start(&args.krust, &server.kubeconfig(), args.nodes, &args.sim_log)?;
    println!("  krust sim pid {} with {} node(s)", sim.pid, args.nodes);
    let ready = nodes.wait(start, Duration::from_secs(args.phase_secs), |c| c.matching >= args.nodes).await;
    eprintln!("  done: {name} ({} in {:.1}s)", ready.counts.matching, ready.elapsed.as_secs_f64());
    Ok((sim, Row::waited(name, args.nodes, ready.counts.matching, ready, goal)))
}

fn peaks(round: &'static str, server: &Server, sim: &SimNodes) -> Peaks {
    Peaks { round, server: server.memory_kib().ok(), sim: sim.memory_kib().ok() }
}

fn secs(max: f64) -> Goal {
    Goal::MaxSecs(max)
}

async fn admin_client(kubeconfig: &Path) -> Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).context("reading the admin kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

fn is_ready(node: &Node) -> bool {
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn is_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

fn is_bound(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_some_and(|n| !n.is_empty())
}

/// Create the pods' namespace and wait (bounded) for its default ServiceAccount, which
/// service-account admission needs before it takes pods.
async fn prepare_namespace(client: &kube::Client, budget: Duration) -> Result<()> {
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await?;
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE);
    let deadline = Instant::now() + budget;
    while accounts.get_opt("default").await?.is_none() {
        anyhow::ensure!(Instant::now() < deadline, "no default ServiceAccount in {NAMESPACE} after {budget:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn pod(index: usize) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("scale-{index}"), "labels": {"app": "scale"}},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    }))
    .expect("a Pod")
}

/// Run `call(i)` for every `i < count`, `concurrency` at a time, none after `deadline`;
/// the row counts those that succeeded.
async fn bounded<F>(
    name: &'static str,
    count: usize,
    args: &ScaleArgs,
    deadline: Instant,
    call: impl Fn(usize) -> F,
) -> Row
where
    F: Future<Output = Result<(), kube::Error>>,
{
    let start = Instant::now();
    let results: Vec<Result<(), String>> = futures::stream::iter(0..count)
        .map(|i| {
            let call = (Instant::now() < deadline).then(|| call(i));
            async move {
                match call {
                    Some(call) => call.await.map_err(|e| e.to_string()),
                    None => Err("the phase's time was up".to_owned()),
                }
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let errors: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    Row {
        name,
        done: count - errors.len(),
        wanted: count,
        errors: errors.len(),
        first_error: errors.into_iter().next(),
        elapsed: start.elapsed(),
        timed_out: Instant::now() >= deadline,
        goal: Goal::None,
        server_time: Vec::new(),
    }
}

async fn create_pods(client: &kube::Client, args: &ScaleArgs, deadline: Instant) -> Row {
    let api = Api::<Pod>::namespaced(client.clone(), NAMESPACE);
    let row = bounded("pods created", args.pods, args, deadline, |i| {
        let api = api.clone();
        async move { api.create(&PostParams::default(), &pod(i)).await.map(drop) }
    })
    .await;
    eprintln!("  done: {} ({} in {:.1}s)", row.name, row.done, row.elapsed.as_secs_f64());
    row
}

/// Delete the first `count` pods one by one; the row's goal is the time until all are gone.
async fn delete_pods(client: &kube::Client, count: usize, args: &ScaleArgs, deadline: Instant) -> Row {
    let api = Api::<Pod>::namespaced(client.clone(), NAMESPACE);
    let mut row = bounded("pods deleted", count, args, deadline, |i| {
        let api = api.clone();
        async move { api.delete(&format!("scale-{i}"), &DeleteParams::default()).await.map(drop) }
    })
    .await;
    eprintln!("  done: deletes sent ({} in {:.1}s)", row.done, row.elapsed.as_secs_f64());
    row.goal = secs(30.0);
    row
}

fn print_rows(rows: &[Row]) {
    println!();
    println!("{:<34} {:>13} {:>6} {:>7} {:>10}  target", "phase", "done/wanted", "errors", "secs", "per s");
    for row in rows {
        let goal = match row.goal {
            Goal::MaxSecs(max) => {
                verdict(!row.timed_out && row.elapsed.as_secs_f64() <= max, &format!("<= {max:.0} s"))
            }
            Goal::MinPerSecond(min) => verdict(!row.timed_out && row.per_second() >= min, &format!(">= {min:.0}/s")),
            Goal::None => String::new(),
        };
        let goal = if row.timed_out { format!("TIMED OUT; {goal}") } else { goal };
        println!(
            "{:<34} {:>13} {:>6} {:>7.2} {:>10.0}  {goal}",
            row.name,
            format!("{}/{}", row.done, row.wanted),
            row.errors,
            row.elapsed.as_secs_f64(),
            row.per_second(),
        );
        if let Some(error) = &row.first_error {
            println!("    first error: {error}");
        }
    }
}

fn print_peaks(peaks: &[Peaks]) {
    let mib = |m: &Option<Memory>| m.as_ref().map_or("-".to_owned(), |m| format!("{:.1} MiB", m.peak as f64 / 1024.0));
    println!();
    println!("{:<34} {:>13} {:>13}", "peak RSS (VmHWM), round", "krust server", "krust sim");
    for p in peaks {
        println!("{:<34} {:>13} {:>13}", p.round, mib(&p.server), mib(&p.sim));
    }
    let own = memory_of(std::process::id()).ok();
    println!("{:<34} {:>13}", "krust-bench (with the scheduler)", mib(&own));
}

fn print_server_time(rows: &[Row]) {
    println!();
    println!("Server-side time per phase (from its /metrics: count, mean ms):");
    for row in rows {
        // The benchmark's own scrapes of /metrics show as requests without a resource.
        let top: Vec<String> = row
            .server_time
            .iter()
            .filter(|(series, _, _)| !series.ends_with("resource="))
            .take(4)
            .map(|(series, n, mean)| format!("{series} n={n} {mean:.3}ms"))
            .collect();
        println!("  {}: {}", row.name, top.join("; "));
    }
}
