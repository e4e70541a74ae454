//! Prometheus metrics of the API server: requests by verb, resource and code, their
//! latency, open watches, and storage operation latency (`/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub verb: String,
    pub resource: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    pub verb: String,
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    pub resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StorageLabels {
    pub operation: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    watchers: Family<ResourceLabels, Gauge>,
    storage: Family<StorageLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let watchers = Family::<ResourceLabels, Gauge>::default();
        let storage = Family::<StorageLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests by verb, resource and HTTP code",
            requests.clone(),
        );
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds by verb and resource",
            latency.clone(),
        );
        registry.register(
            "apiserver_registered_watchers",
            "Number of currently open watches by resource",
            watchers.clone(),
        );
        registry.register(
            "apiserver_storage_operation_duration_seconds",
            "Storage operation latency distribution in seconds by operation",
            storage.clone(),
        );
        Metrics { registry, requests, latency, watchers, storage }
    }
}

/// Decrements the open-watch gauge when the watch ends.
pub struct WatchGuard(Gauge);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    pub fn observe_request(&self, verb: &str, resource: &str, code: u16, elapsed: Duration) {
        let (verb, resource) = (verb.to_uppercase(), resource.to_owned());
        self.requests
            .get_or_create(&RequestLabels { verb: verb.clone(), resource: resource.clone(), code: code.to_string() })
            .inc();
        self.latency.get_or_create(&LatencyLabels { verb, resource }).observe(elapsed.as_secs_f64());
    }

    pub fn watch_started(&self, resource: &str) -> WatchGuard {
        let g = self.watchers.get_or_create(&ResourceLabels { resource: resource.to_owned() }).clone();
        g.inc();
        WatchGuard(g)
    }

    pub fn observe_storage(&self, operation: &str, elapsed: Duration) {
        self.storage.get_or_create(&StorageLabels { operation: operation.to_owned() }).observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// A [`storage::Store`] that times every operation into [`Metrics`].
pub struct InstrumentedStore {
    pub inner: Arc<dyn storage::Store>,
    pub metrics: Arc<Metrics>,
}

macro_rules! timed {
    ($self:ident, $op:literal, $call:expr) => {{
        let start = std::time::Instant::now();
        let out = $call.await;
        $self.metrics.observe_storage($op, start.elapsed());
        out
    }};
}

#[async_trait::async_trait]
impl storage::Store for InstrumentedStore {
    async fn range(&self, req: storage::RangeRequest) -> storage::Result<storage::RangeResult> {
        timed!(self, "range", self.inner.range(req))
    }
    async fn create(&self, key: &str, value: bytes::Bytes) -> storage::Result<storage::Revision> {
        timed!(self, "create", self.inner.create(key, value))
    }
    async fn update(
        &self,
        key: &str,
        expected: storage::Revision,
        value: bytes::Bytes,
    ) -> storage::Result<storage::Revision> {
        timed!(self, "update", self.inner.update(key, expected, value))
    }
    async fn delete(&self, key: &str, expected: storage::Revision) -> storage::Result<storage::Revision> {
        timed!(self, "delete", self.inner.delete(key, expected))
    }
    async fn watch(&self, start: &str, end: &str, after: storage::Revision) -> storage::Result<storage::WatchStream> {
        timed!(self, "watch", self.inner.watch(start, end, after))
    }
    async fn current_revision(&self) -> storage::Result<storage::Revision> {
        self.inner.current_revision().await
    }
    async fn compact(&self, revision: storage::Revision) -> storage::Result<()> {
        timed!(self, "compact", self.inner.compact(revision))
    }
    async fn compacted_revision(&self) -> storage::Result<storage::Revision> {
        self.inner.compacted_revision().await
    }
}
