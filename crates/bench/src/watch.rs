//! Watch fan-out: many watchers on one collection, a writer creating objects at a steady
//! pace, and for every (write, watcher) pair the time from issuing the write to that
//! watcher reading its ADDED event.

use crate::client::Client;
use crate::stats::Outcome;
use anyhow::{Context, Result, bail, ensure};
use http::Method;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub struct FanOut {
    pub watchers: usize,
    pub writes: usize,
    pub interval: Duration,
    /// How long after the last write watchers may still be catching up.
    pub drain: Duration,
}

const PREFIX: &str = "probe-";

impl FanOut {
    pub async fn run(&self, client: &Client, namespace: &str) -> Result<Outcome> {
        let path = format!("/api/v1/namespaces/{namespace}/configmaps");
        let body = client.expect(Method::GET, &format!("{path}?limit=1"), None, 200).await?;
        let list: Value = serde_json::from_slice(&body)?;
        let rv = list["metadata"]["resourceVersion"].as_str().context("list resourceVersion")?.to_owned();

        // Everyone starts together once every watch has its response head, i.e. the
        // server has registered it.
        let started = Arc::new(Barrier::new(self.watchers + 1));
        let origin = Instant::now();
        let watch_until = origin + self.interval.mul_f64(self.writes as f64) + self.drain + Duration::from_secs(30);
        let mut watchers = JoinSet::new();
        for _ in 0..self.watchers {
            let (client, started) = (client.clone(), started.clone());
            let url = format!("{path}?watch=1&resourceVersion={rv}&timeoutSeconds=300");
            let writes = self.writes;
            watchers.spawn(async move {
                let resp = client.send(Method::GET, &url, None).await;
                started.wait().await;
                let resp = resp?;
                ensure!(resp.status() == 200, "watch answered {}", resp.status());
                read_events(resp.into_body(), writes, watch_until).await
            });
        }
        started.wait().await;

        let mut sent = Vec::with_capacity(self.writes);
        let mut pace = tokio::time::interval(self.interval);
        let began = Instant::now();
        for seq in 0..self.writes {
            pace.tick().await;
            let object = json!({"metadata": {"name": format!("{PREFIX}{seq}")}, "data": {"seq": seq.to_string()}});
            sent.push(Instant::now());
            client.expect(Method::POST, &path, Some(serde_json::to_vec(&object)?), 201).await?;
        }
        let (mut samples, mut errors) = (Vec::new(), Vec::new());
        let mut last_received = began;
        let drain_deadline = Instant::now() + self.drain;
        while let Some(joined) = tokio::time::timeout_at(drain_deadline, watchers.join_next()).await.ok().flatten() {
            match joined {
                Ok(Ok(received)) => {
                    let missing = self.writes - received.len();
                    if missing > 0 {
                        errors.push(format!("a watcher missed {missing} of {} events", self.writes));
                    }
                    for (seq, at) in received {
                        last_received = last_received.max(at);
                        samples.push(at.saturating_duration_since(sent[seq]));
                    }
                }
                Ok(Err(e)) => errors.push(format!("{e:#}")),
                Err(e) => errors.push(format!("watcher task failed: {e}")),
            }
        }
        if !watchers.is_empty() {
            errors.push(format!("{} watchers still incomplete after the drain time", watchers.len()));
            watchers.abort_all();
        }
        let name = format!("WATCH fan-out x{}", self.watchers);
        Ok(Outcome::new(&name, last_received - began, samples, errors))
    }
}

/// Read newline-delimited watch events until all `writes` probes arrived; returns each
/// probe's sequence number and when it was read.
async fn read_events(mut body: hyper::body::Incoming, writes: usize, until: Instant) -> Result<Vec<(usize, Instant)>> {
    let mut received = Vec::with_capacity(writes);
    let mut buf: Vec<u8> = Vec::new();
    while received.len() < writes {
        let Ok(frame) = tokio::time::timeout_at(until, body.frame()).await else { break };
        let Some(frame) = frame else { bail!("watch ended after {} events", received.len()) };
        let Ok(data) = frame?.into_data() else { continue };
        let at = Instant::now();
        buf.extend_from_slice(&data);
        while let Some(end) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let event: Value = serde_json::from_slice(&line).context("watch event")?;
            if event["type"] == "ERROR" {
                bail!("watch error: {}", event["object"]);
            }
            let name = event["object"]["metadata"]["name"].as_str().unwrap_or_default();
            if let Some(seq) = name.strip_prefix(PREFIX).and_then(|s| s.parse().ok()) {
                received.push((seq, at));
            }
        }
    }
    Ok(received)
}
