//! A bounded benchmark of the SQLite store: throughput and latency percentiles for creates
//! from 32 concurrent callers, current-revision gets, compare-and-swap updates, and the
//! delivery of writes to many watchers. Run with `cargo bench -p storage`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use storage::sqlite::SqliteStore;
use storage::{RangeRequest, Store, prefix_end};

const CALLERS: usize = 32;
/// How long each write phase runs; the whole benchmark stays within a few seconds.
const PHASE: Duration = Duration::from_millis(1500);
const WATCHERS: usize = 100;
const WATCHED_WRITES: usize = 200;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).expect("open store"));
    let value = Bytes::from(vec![b'x'; 512]);
    runtime.block_on(async {
        let keys = bench_creates(&store, &value).await;
        bench_gets(&store, &keys).await;
        bench_updates(&store, &keys, &value).await;
        bench_watch_fan_out(&store, &value).await;
    });
}

/// Creates from concurrent callers for [`PHASE`]; returns the keys created.
async fn bench_creates(store: &Arc<SqliteStore>, value: &Bytes) -> Vec<String> {
    let started = Instant::now();
    let callers: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let (store, value) = (Arc::clone(store), value.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                while started.elapsed() < PHASE {
                    let key = format!("/bench/{caller:02}/{:06}", done.len());
                    let began = Instant::now();
                    store.create(&key, value.clone()).await.expect("create");
                    done.push((key, began.elapsed()));
                }
                done
            })
        })
        .collect();
    let mut keys = Vec::new();
    let mut latencies = Vec::new();
    for caller in callers {
        for (key, latency) in caller.await.expect("caller") {
            keys.push(key);
            latencies.push(latency);
        }
    }
    report(&format!("create ({CALLERS} concurrent)"), started.elapsed(), latencies);
    keys
}

async fn bench_gets(store: &SqliteStore, keys: &[String]) {
    let started = Instant::now();
    let mut latencies = Vec::new();
    for key in keys.iter().cycle().take(100_000) {
        let began = Instant::now();
        let found = store.range(RangeRequest { start: key.clone(), ..Default::default() }).await.expect("get");
        assert_eq!(found.kvs.len(), 1);
        latencies.push(began.elapsed());
    }
    report("get (current revision)", started.elapsed(), latencies);
}

/// Compare-and-swap updates from concurrent callers, each on keys of its own.
async fn bench_updates(store: &Arc<SqliteStore>, keys: &[String], value: &Bytes) {
    let started = Instant::now();
    let callers: Vec<_> = keys
        .chunks(keys.len().div_ceil(CALLERS))
        .map(|mine| {
            let (store, value, mine) = (Arc::clone(store), value.clone(), mine.to_vec());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for key in mine.iter().cycle() {
                    if started.elapsed() >= PHASE {
                        break;
                    }
                    let began = Instant::now();
                    let current = store.range(RangeRequest { start: key.clone(), ..Default::default() }).await;
                    let revision = current.expect("get").kvs[0].mod_revision;
                    store.update(key, revision, value.clone()).await.expect("update");
                    latencies.push(began.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for caller in callers {
        latencies.extend(caller.await.expect("caller"));
    }
    report(&format!("update (get + CAS, {CALLERS} concurrent)"), started.elapsed(), latencies);
}

/// Writes one key at a time while [`WATCHERS`] watch its prefix; measures commit-to-delivery.
async fn bench_watch_fan_out(store: &Arc<SqliteStore>, value: &Bytes) {
    let after = store.current_revision().await.expect("revision");
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let mut stream = store.watch("/fan/", &prefix_end("/fan/"), after).await.expect("watch");
        watchers.push(tokio::spawn(async move {
            let mut arrivals = Vec::with_capacity(WATCHED_WRITES);
            while arrivals.len() < WATCHED_WRITES {
                stream.next().await.expect("stream open").expect("event");
                arrivals.push(Instant::now());
            }
            arrivals
        }));
    }
    let started = Instant::now();
    let mut acknowledged = Vec::with_capacity(WATCHED_WRITES);
    for i in 0..WATCHED_WRITES {
        store.create(&format!("/fan/{i:06}"), value.clone()).await.expect("create");
        acknowledged.push(Instant::now());
    }
    let mut latencies = Vec::new();
    for watcher in watchers {
        let arrivals = watcher.await.expect("watcher");
        // An event is broadcast just before its write is acknowledged; measure from the ack.
        latencies.extend(
            arrivals.iter().zip(&acknowledged).map(|(arrived, acked)| arrived.saturating_duration_since(*acked)),
        );
    }
    report(&format!("watch delivery ({WATCHERS} watchers x {WATCHED_WRITES} writes)"), started.elapsed(), latencies);
}

fn report(name: &str, elapsed: Duration, mut latencies: Vec<Duration>) {
    latencies.sort();
    let percentile = |p: usize| latencies.get((latencies.len() * p / 100).min(latencies.len() - 1)).copied();
    let ops = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{name:<48} {:>8} ops in {:>6.2?}  {ops:>10.0} ops/s  p50 {:>9.2?}  p99 {:>9.2?}",
        latencies.len(),
        elapsed,
        percentile(50).unwrap_or_default(),
        percentile(99).unwrap_or_default(),
    );
}
