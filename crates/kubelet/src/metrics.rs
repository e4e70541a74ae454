//! The kubelet's Prometheus metrics on `/metrics`, named as upstream's:
//! `kubelet_pod_start_sli_duration_seconds` (creation to all containers started, without
//! image pulls), `kubelet_pod_start_duration_seconds` (creation to Running),
//! `kubelet_running_pods` and `kubelet_running_containers`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upstream's buckets for pod start durations, in seconds.
const START_BUCKETS: [f64; 25] = [
    0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 480.0,
    600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ContainerState {
    container_state: String,
}

/// The kubelet's metrics.
pub struct Metrics {
    registry: Registry,
    pub pod_start_sli: Histogram,
    pub pod_start: Histogram,
    pub running_pods: Gauge,
    running_containers: Family<ContainerState, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let pod_start_sli = Histogram::new(START_BUCKETS);
        let pod_start = Histogram::new(START_BUCKETS);
        let running_pods = Gauge::default();
        let running_containers = Family::<ContainerState, Gauge>::default();
        registry.register(
            "kubelet_pod_start_sli_duration_seconds",
            "Duration in seconds to start a pod, excluding time to pull images, from pod creation to all containers started, observed via watch",
            pod_start_sli.clone(),
        );
        registry.register(
            "kubelet_pod_start_duration_seconds",
            "Duration in seconds from the kubelet seeing a pod for the first time to the pod starting to run",
            pod_start.clone(),
        );
        registry.register(
            "kubelet_running_pods",
            "Number of pods that have a running pod sandbox",
            running_pods.clone(),
        );
        registry.register(
            "kubelet_running_containers",
            "Number of containers currently running",
            running_containers.clone(),
        );
        Metrics { registry, pod_start_sli, pod_start, running_pods, running_containers }
    }
}

impl Metrics {
    /// Set the number of containers in `state` (`running`, `exited`, `created`).
    pub fn set_containers(&self, state: &str, count: i64) {
        self.running_containers.get_or_create(&ContainerState { container_state: state.to_owned() }).set(count);
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_have_upstreams_names() {
        let metrics = Metrics::default();
        metrics.pod_start_sli.observe(0.7);
        metrics.set_containers("running", 2);
        let text = metrics.render();
        assert!(text.contains("kubelet_pod_start_sli_duration_seconds_bucket{le=\"1.0\"} 1"), "{text}");
        assert!(text.contains("kubelet_running_containers{container_state=\"running\"} 2"), "{text}");
    }
}
