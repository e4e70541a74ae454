//! `/stats/summary`: the kubelet's Summary API (stats/v1alpha1), what metrics-server and
//! `kubectl top` read: the node's CPU time and memory from the kernel, and each pod's
//! containers' CPU time and working set from CRI `ListContainerStats`.

use super::KubeletApi;
use crate::pods::sandbox::{CONTAINER_NAME_LABEL, POD_NAME_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL};
use k8s_cri::v1::ListContainerStatsRequest;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Clock ticks per second of `/proc/stat` (USER_HZ, 100 on Linux).
const USER_HZ: u64 = 100;

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// The node's total CPU time in nanoseconds, from `/proc/stat`'s first line.
fn node_cpu_nanos(stat: &str) -> u64 {
    let Some(line) = stat.lines().next() else { return 0 };
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    let busy: u64 = ticks.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 4).take(8).map(|(_, t)| t).sum();
    busy * (1_000_000_000 / USER_HZ)
}

fn meminfo_kib(meminfo: &str, key: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The summary of the node and its pods.
pub async fn summary(api: &KubeletApi) -> Value {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total = meminfo_kib(&meminfo, "MemTotal") * 1024;
    let available = meminfo_kib(&meminfo, "MemAvailable") * 1024;
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let time = now();
    let node = json!({
        "nodeName": api.context.node_name,
        "cpu": {"time": time, "usageCoreNanoSeconds": node_cpu_nanos(&stat)},
        "memory": {"time": time, "availableBytes": available, "usageBytes": total.saturating_sub(available),
            "workingSetBytes": total.saturating_sub(available)},
    });
    let request = ListContainerStatsRequest { filter: None };
    let stats = match api.context.cri.runtime().list_container_stats(request).await {
        Ok(response) => response.into_inner().stats,
        Err(status) => {
            tracing::debug!(%status, "listing container stats failed");
            Vec::new()
        }
    };
    let mut pods: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
    for stat in stats {
        let Some(attributes) = stat.attributes else { continue };
        let label = |key: &str| attributes.labels.get(key).cloned().unwrap_or_default();
        let key = (label(POD_NAMESPACE_LABEL), label(POD_NAME_LABEL), label(POD_UID_LABEL));
        let cpu = stat.cpu.and_then(|c| c.usage_core_nano_seconds).map(|v| v.value).unwrap_or(0);
        let memory = stat.memory.and_then(|m| m.working_set_bytes).map(|v| v.value).unwrap_or(0);
        pods.entry(key).or_default().push(json!({
            "name": label(CONTAINER_NAME_LABEL),
            "cpu": {"time": time, "usageCoreNanoSeconds": cpu},
            "memory": {"time": time, "workingSetBytes": memory},
        }));
    }
    let pods: Vec<Value> = pods
        .into_iter()
        .map(|((namespace, name, uid), containers)| {
            let sum =
                |path: &str| containers.iter().filter_map(|c| c.pointer(path).and_then(Value::as_u64)).sum::<u64>();
            json!({
                "podRef": {"name": name, "namespace": namespace, "uid": uid},
                "containers": containers,
                "cpu": {"time": time, "usageCoreNanoSeconds": sum("/cpu/usageCoreNanoSeconds")},
                "memory": {"time": time, "workingSetBytes": sum("/memory/workingSetBytes")},
            })
        })
        .collect();
    json!({"node": node, "pods": pods})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_figures_come_from_procfs() {
        assert_eq!(node_cpu_nanos("cpu  100 0 50 1000 20 0 0 0 0 0\ncpu0 1 2 3\n"), 150 * 10_000_000);
        assert_eq!(meminfo_kib("MemTotal:  2048 kB\nMemAvailable: 1024 kB\n", "MemAvailable"), 1024);
    }
}
