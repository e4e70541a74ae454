//! Measurements of one phase (operation count, errors, latencies) and the two ways of
//! driving load: a closed loop of concurrent workers and an open loop at a fixed rate.

use anyhow::Result;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// What one phase measured.
pub struct Outcome {
    pub name: String,
    pub ops: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// Sorted ascending.
    pub latencies: Vec<Duration>,
}

impl Outcome {
    pub fn new(name: &str, elapsed: Duration, mut latencies: Vec<Duration>, errors: Vec<String>) -> Outcome {
        latencies.sort_unstable();
        Outcome {
            name: name.to_owned(),
            ops: latencies.len(),
            errors: errors.len(),
            first_error: errors.into_iter().next(),
            elapsed,
            latencies,
        }
    }

    pub fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q`-quantile (0..=1) of the latencies, nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1]
    }
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Run `op(0..total)` on `concurrency` workers until all are done or `budget` runs out;
/// each call is one latency sample.
pub async fn closed_loop<F, Fut>(name: &str, concurrency: usize, total: usize, budget: Duration, op: F) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + budget;
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        workers.spawn(async move {
            let (mut samples, mut errors) = (Vec::new(), Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() >= deadline {
                    return (samples, errors);
                }
                let began = Instant::now();
                match op(i).await {
                    Ok(()) => samples.push(began.elapsed()),
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
        });
    }
    collect(name, start, workers).await
}

/// Start `op(i)` at `rate` per second for `duration`, whatever the earlier calls are
/// doing; latency counts from each call's scheduled start, so a stalled server is not
/// hidden by the client slowing down.
pub async fn open_loop<F, Fut>(name: &str, rate: u32, duration: Duration, op: F) -> Outcome
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let total = (rate as f64 * duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let start = Instant::now();
    let mut calls = JoinSet::new();
    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled).await;
        let call = op(i);
        calls.spawn(async move {
            match call.await {
                Ok(()) => (vec![scheduled.elapsed()], Vec::new()),
                Err(e) => (Vec::new(), vec![format!("{e:#}")]),
            }
        });
    }
    collect(name, start, calls).await
}

async fn collect(name: &str, start: Instant, mut tasks: JoinSet<(Vec<Duration>, Vec<String>)>) -> Outcome {
    let (mut samples, mut errors) = (Vec::new(), Vec::new());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((s, e)) => {
                samples.extend(s);
                errors.extend(e);
            }
            Err(e) => errors.push(format!("task failed: {e}")),
        }
    }
    Outcome::new(name, start.elapsed(), samples, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let o = Outcome::new("x", Duration::from_secs(2), (1..=100).rev().map(ms).collect(), vec![]);
        assert_eq!(o.quantile(0.5), ms(50));
        assert_eq!(o.quantile(0.99), ms(99));
        assert_eq!(o.quantile(1.0), ms(100));
        assert_eq!(o.per_second(), 50.0);
        assert_eq!(Outcome::new("empty", ms(1), vec![], vec![]).quantile(0.99), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn closed_loop_runs_each_index_once_and_counts_errors() {
        let o = closed_loop("ops", 4, 10, Duration::from_secs(60), |i| async move {
            tokio::time::sleep(ms(1)).await;
            if i == 3 { anyhow::bail!("three") } else { Ok(()) }
        })
        .await;
        assert_eq!((o.ops, o.errors, o.first_error.as_deref()), (9, 1, Some("three")));
    }

    #[tokio::test(start_paused = true)]
    async fn open_loop_latency_counts_from_the_schedule() {
        let o = open_loop("rate", 100, Duration::from_secs(1), |_| async {
            tokio::time::sleep(ms(5)).await;
            Ok(())
        })
        .await;
        assert_eq!(o.ops, 100);
        assert!(o.quantile(0.99) >= ms(5) && o.quantile(0.99) < ms(7), "{:?}", o.quantile(0.99));
        assert!(o.elapsed >= ms(990));
    }
}
