//! The request phases on ConfigMaps in one namespace: create, get by name, full and
//! paged list, update (PUT), and gets at a fixed rate.

use crate::client::Client;
use crate::stats::{Outcome, closed_loop, open_loop};
use anyhow::{Context, Result, ensure};
use http::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where the phases run and how hard. Lists expect every object of the namespace,
/// including those the cluster adds itself (the `kube-root-ca.crt` ConfigMap).
#[derive(Clone)]
pub struct Target {
    pub client: Client,
    pub namespace: String,
    pub concurrency: usize,
    pub budget: Duration,
}

pub fn object_name(i: usize) -> String {
    format!("cm-{i:06}")
}

/// A ConfigMap of about 300 bytes; `generation` changes its data on every update.
fn configmap(name: &str, generation: usize) -> Vec<u8> {
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "krust-bench"}},
        "data": {"generation": generation.to_string(), "payload": "x".repeat(128)},
    });
    serde_json::to_vec(&body).expect("a JSON value serializes")
}

impl Target {
    fn collection(&self) -> String {
        format!("/api/v1/namespaces/{}/configmaps", self.namespace)
    }

    pub async fn create_namespace(&self) -> Result<()> {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}});
        self.client.expect(Method::POST, "/api/v1/namespaces", Some(serde_json::to_vec(&body)?), 201).await?;
        Ok(())
    }

    /// How many ConfigMaps the namespace holds now.
    pub async fn count(&self) -> Result<usize> {
        let body = self.client.expect(Method::GET, &self.collection(), None, 200).await?;
        let list: Value = serde_json::from_slice(&body).context("list body")?;
        Ok(list["items"].as_array().map_or(0, Vec::len))
    }

    /// Create `cm-000000` .. `cm-{total-1}`.
    pub async fn create(&self, total: usize) -> Outcome {
        let (client, path) = (self.client.clone(), self.collection());
        closed_loop("CREATE", self.concurrency, total, self.budget, move |i| {
            let (client, path) = (client.clone(), path.clone());
            async move { client.expect(Method::POST, &path, Some(configmap(&object_name(i), 0)), 201).await.map(drop) }
        })
        .await
    }

    /// `total` gets spread over the first `objects` names.
    pub async fn get(&self, objects: usize, total: usize) -> Outcome {
        let (client, path) = (self.client.clone(), self.collection());
        closed_loop("GET", self.concurrency, total, self.budget, move |i| {
            let (client, path) = (client.clone(), path.clone());
            async move {
                client.expect(Method::GET, &format!("{path}/{}", object_name(i % objects)), None, 200).await.map(drop)
            }
        })
        .await
    }

    /// Unconditional PUTs (no resourceVersion) of a new generation of each object.
    pub async fn update(&self, objects: usize, total: usize) -> Outcome {
        let (client, path) = (self.client.clone(), self.collection());
        closed_loop("UPDATE (PUT)", self.concurrency, total, self.budget, move |i| {
            let (client, path) = (client.clone(), path.clone());
            let name = object_name(i % objects);
            let body = configmap(&name, i / objects + 1);
            async move { client.expect(Method::PUT, &format!("{path}/{name}"), Some(body), 200).await.map(drop) }
        })
        .await
    }

    /// Whole-collection lists without a limit; each must hold `expected` items.
    pub async fn list_full(&self, expected: usize, iterations: usize, concurrency: usize) -> Outcome {
        let (client, path) = (self.client.clone(), self.collection());
        let name = format!("LIST {expected} (full)");
        closed_loop(&name, concurrency, iterations, self.budget, move |_| {
            let (client, path) = (client.clone(), path.clone());
            async move {
                let body = client.expect(Method::GET, &path, None, 200).await?;
                let list: Value = serde_json::from_slice(&body).context("list body")?;
                let items = list["items"].as_array().map_or(0, Vec::len);
                ensure!(items == expected, "full list held {items} items, not {expected}");
                Ok(())
            }
        })
        .await
    }

    /// Lists in pages of `limit` following `continue`; each page is one sample, and each
    /// walk must see `expected` items in all.
    pub async fn list_paged(&self, expected: usize, limit: usize, walks: usize, concurrency: usize) -> Outcome {
        let (client, path) = (self.client.clone(), self.collection());
        let pages = Arc::new(Mutex::new(Vec::new()));
        let page_samples = pages.clone();
        let walked = closed_loop("paged walk", concurrency, walks, self.budget, move |_| {
            let (client, path, pages) = (client.clone(), path.clone(), page_samples.clone());
            async move {
                let (mut seen, mut token) = (0, String::new());
                loop {
                    let mut url = format!("{path}?limit={limit}");
                    if !token.is_empty() {
                        url.push_str(&format!("&continue={token}"));
                    }
                    let began = Instant::now();
                    let body = client.expect(Method::GET, &url, None, 200).await?;
                    pages.lock().expect("page samples").push(began.elapsed());
                    let page: Value = serde_json::from_slice(&body).context("list page")?;
                    seen += page["items"].as_array().map_or(0, Vec::len);
                    token = page["metadata"]["continue"].as_str().unwrap_or_default().to_owned();
                    if token.is_empty() {
                        ensure!(seen == expected, "paged list saw {seen} items, not {expected}");
                        return Ok(());
                    }
                }
            }
        })
        .await;
        let samples = std::mem::take(&mut *pages.lock().expect("page samples"));
        let mut outcome = Outcome::new(&format!("LIST limit={limit} (per page)"), walked.elapsed, samples, vec![]);
        (outcome.errors, outcome.first_error) = (walked.errors, walked.first_error);
        outcome
    }

    /// Gets at `rate` per second for `duration`, whatever the latency.
    pub async fn fixed_rate_get(&self, objects: usize, rate: u32, duration: Duration) -> Outcome {
        let (client, path) = (self.client.clone(), self.collection());
        open_loop(&format!("GET @ {rate}/s fixed"), rate, duration, move |i| {
            let client = client.clone();
            let url = format!("{path}/{}", object_name(i % objects));
            async move { client.expect(Method::GET, &url, None, 200).await.map(drop) }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmaps_are_small_and_named_in_order() {
        let body: Value = serde_json::from_slice(&configmap(&object_name(42), 3)).unwrap();
        assert_eq!(body["metadata"]["name"], "cm-000042");
        assert_eq!(body["data"]["generation"], "3");
        assert!(configmap("cm-000000", 0).len() < 400);
        assert!(object_name(1) < object_name(10), "names sort like indexes, as list order does");
    }
}
