//! `krust-bench`: starts a `krust server` on a temporary data dir and a free loopback
//! port, then measures it: time to ready, idle memory, throughput and latency of create,
//! get, list, update and watch fan-out under concurrent HTTPS clients, latency at a fixed
//! request rate, and memory after the load. Every phase is bounded in count and time.
//!
//! The server's own `/metrics` histograms are diffed around each phase to show where its
//! time went (request handling versus storage).
//!
//! `krust-bench scale` measures kwok's scale targets instead (see [`scale`]): N simulated
//! nodes from a separate `krust sim` process Ready, P pods Running and deleted, and the
//! scheduler's pods/s, with both processes' peak memory.

mod client;
mod load;
mod pods;
mod scale;
mod server;
mod server_metrics;
mod sim_nodes;
mod stats;
mod tracker;
mod watch;

use anyhow::Result;
use clap::Parser;
use client::Client;
use load::Target;
use server::Server;
use server_metrics::Snapshot;
use stats::{Outcome, millis};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "krust-bench",
    about = "Start a krust server and measure it over HTTPS",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    api: Args,
}

#[derive(clap::Subcommand)]
enum Mode {
    /// kwok's scale targets: N simulated nodes (a separate `krust sim`) Ready, P pods
    /// Running and deleted, and the scheduler's pods/s, with peak memory.
    Scale(scale::ScaleArgs),
    /// Pod startup on a real node (root, containerd; in network namespaces of its own):
    /// creation to Ready for batches of pods, p50/p99, and the server's memory.
    Pods(pods::PodsArgs),
}

/// The API benchmark (the default mode).
#[derive(clap::Args)]
struct Args {
    /// The krust binary to start.
    #[arg(long, default_value = "target/release/krust")]
    krust: PathBuf,
    /// RUST_LOG for the server.
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Concurrent clients in the create, get and update phases.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// ConfigMaps to create (and then list).
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Gets by name.
    #[arg(long, default_value_t = 100_000)]
    gets: usize,
    /// Unconditional updates (PUT).
    #[arg(long, default_value_t = 20_000)]
    updates: usize,
    /// Full (unpaged) lists of all objects.
    #[arg(long, default_value_t = 20)]
    lists: usize,
    /// Walks of the collection in pages of `--page-size`.
    #[arg(long, default_value_t = 10)]
    paged_lists: usize,
    #[arg(long, default_value_t = 500)]
    page_size: usize,
    /// Concurrent listers.
    #[arg(long, default_value_t = 2)]
    list_concurrency: usize,
    /// Watchers on one collection in the fan-out phase.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Writes each watcher must see.
    #[arg(long, default_value_t = 200)]
    watch_writes: usize,
    /// Milliseconds between those writes.
    #[arg(long, default_value_t = 10)]
    watch_interval_ms: u64,
    /// Requests per second in the fixed-rate phase.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Seconds of the fixed-rate phase.
    #[arg(long, default_value_t = 10)]
    rate_secs: u64,
    /// Upper bound on each phase's seconds, whatever its count.
    #[arg(long, default_value_t = 30)]
    phase_secs: u64,
}

/// A reference figure a row is judged against.
enum Goal {
    MinPerSecond(f64),
    MaxP99Millis(f64),
    None,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.mode {
        Some(Mode::Scale(args)) => runtime.block_on(scale::run(args)),
        Some(Mode::Pods(args)) if args.is_inside() => runtime.block_on(pods::inside(args)),
        Some(Mode::Pods(args)) => pods::run(args),
        None => runtime.block_on(run(cli.api)),
    }
}

async fn run(args: Args) -> Result<()> {
    let server = Server::start(&args.krust, &args.server_log, &[], Duration::from_secs(30)).await?;
    println!("krust server pid {} on 127.0.0.1:{}", server.pid, server.port);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.memory_kib()?;

    let client = Client::connect(server.port, &server.tls_files(), args.connections).await?;
    let target = Target {
        client: client.clone(),
        namespace: "bench".into(),
        concurrency: args.concurrency,
        budget: Duration::from_secs(args.phase_secs),
    };
    target.create_namespace().await?;
    let watch_target = Target { namespace: "bench-watch".into(), ..target.clone() };
    watch_target.create_namespace().await?;

    let mut rows: Vec<(Outcome, Goal)> = Vec::new();
    let mut breakdown = Vec::new();
    let mut before = scrape(&client).await;
    let mut record = async |outcome: Outcome, goal: Goal, rows: &mut Vec<(Outcome, Goal)>| {
        let after = scrape(&client).await;
        breakdown.push((outcome.name.clone(), after.since(&before)));
        before = after;
        eprintln!("  done: {} ({} ops in {:.1}s)", outcome.name, outcome.ops, outcome.elapsed.as_secs_f64());
        rows.push((outcome, goal));
    };

    let created = target.create(args.objects).await;
    let objects = created.ops;
    record(created, Goal::MinPerSecond(3000.0), &mut rows).await;
    anyhow::ensure!(objects > 0, "no object was created: {:?}", rows[0].0.first_error);
    record(target.get(objects, args.gets).await, Goal::MinPerSecond(20_000.0), &mut rows).await;
    let listed = target.count().await?;
    let full = target.list_full(listed, args.lists, args.list_concurrency).await;
    record(full, Goal::None, &mut rows).await;
    let paged = target.list_paged(listed, args.page_size, args.paged_lists, args.list_concurrency).await;
    record(paged, Goal::None, &mut rows).await;
    record(target.update(objects, args.updates).await, Goal::None, &mut rows).await;
    let fan_out = watch::FanOut {
        watchers: args.watchers,
        writes: args.watch_writes,
        interval: Duration::from_millis(args.watch_interval_ms),
        drain: Duration::from_secs(args.phase_secs),
    };
    record(fan_out.run(&client, &watch_target.namespace).await?, Goal::None, &mut rows).await;
    let steady = target.fixed_rate_get(objects, args.rate, Duration::from_secs(args.rate_secs)).await;
    record(steady, Goal::MaxP99Millis(20.0), &mut rows).await;

    drop(client);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = server.memory_kib()?;

    print_table(&rows);
    println!();
    let ready_ms = millis(server.ready_after);
    println!("{:<34} {:>9.0} ms   {}", "ready (spawn → /readyz ok)", ready_ms, verdict(ready_ms < 1000.0, "< 1 s"));
    let mib = |kib: u64| kib as f64 / 1024.0;
    let idle_mib = mib(idle.rss);
    println!("{:<34} {:>9.1} MiB  {}", "RSS idle after start", idle_mib, verdict(idle_mib < 40.0, "< 40 MiB"));
    println!("{:<34} {:>9.1} MiB", "RSS idle after the load", mib(loaded.rss));
    for (when, m) in [("start", &idle), ("after load", &loaded)] {
        println!(
            "  {when}: anonymous {:.1} MiB, file-backed {:.1} MiB, peak {:.1} MiB",
            mib(m.anon),
            mib(m.file),
            mib(m.peak)
        );
    }
    println!();
    println!("Server-side time per phase (from its /metrics: count, mean ms):");
    for (phase, moved) in breakdown {
        // The benchmark's own scrapes of /metrics show as requests without a resource.
        let top: Vec<String> = moved
            .iter()
            .filter(|(series, _, _)| !series.ends_with("resource="))
            .take(4)
            .map(|(series, n, mean)| format!("{series} n={n} {mean:.3}ms"))
            .collect();
        println!("  {phase}: {}", top.join("; "));
    }
    drop(server);
    Ok(())
}

async fn scrape(client: &Client) -> Snapshot {
    match client.get("/metrics").await {
        Ok(reply) if reply.status == 200 => Snapshot::parse(&String::from_utf8_lossy(&reply.body)),
        _ => Snapshot::default(),
    }
}

fn verdict(ok: bool, goal: &str) -> String {
    format!("{} (target {goal})", if ok { "ok" } else { "MISSED" })
}

fn print_table(rows: &[(Outcome, Goal)]) {
    println!();
    println!(
        "{:<34} {:>8} {:>6} {:>7} {:>10} {:>8} {:>8} {:>8}  target",
        "phase", "ops", "errors", "secs", "ops/s", "p50 ms", "p99 ms", "max ms"
    );
    for (o, goal) in rows {
        let goal = match goal {
            Goal::MinPerSecond(min) => verdict(o.per_second() >= *min, &format!(">= {min:.0}/s")),
            Goal::MaxP99Millis(max) => verdict(millis(o.quantile(0.99)) < *max, &format!("p99 < {max:.0} ms")),
            Goal::None => String::new(),
        };
        println!(
            "{:<34} {:>8} {:>6} {:>7.2} {:>10.0} {:>8.2} {:>8.2} {:>8.2}  {goal}",
            o.name,
            o.ops,
            o.errors,
            o.elapsed.as_secs_f64(),
            o.per_second(),
            millis(o.quantile(0.5)),
            millis(o.quantile(0.99)),
            millis(o.quantile(1.0)),
        );
        if let Some(e) = &o.first_error {
            println!("    first error: {e}");
        }
    }
}
