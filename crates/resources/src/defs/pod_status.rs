//! What a Pod's row in `kubectl get pods` says (upstream's `printPod`: the Ready count,
//! the Status reason, the Restarts count) and its QoS class (upstream's
//! `ComputePodQOS`), both derived from the pod's spec and status.

use crate::quantity::Quantity;
use crate::table;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use std::collections::{BTreeMap, BTreeSet};

/// The Ready, Status and Restarts cells of a pod's row.
#[derive(Debug, PartialEq, Eq)]
pub struct PodSummary {
    /// `ready/total` containers, sidecars included.
    pub ready: String,
    /// The phase, or the most telling container reason (`CrashLoopBackOff`,
    /// `Init:0/1`, `Terminating`, ...).
    pub status: String,
    /// The restart count, with the time since the last restart when known.
    pub restarts: String,
}

fn finished_at(cs: &ContainerStatus) -> Option<Timestamp> {
    cs.last_state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0)
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    a.max(b)
}

fn condition_true(status: &PodStatus, kind: &str) -> bool {
    status.conditions.iter().flatten().any(|c| c.type_ == kind && c.status == "True")
}

/// Summarize a pod the way upstream's printer does.
pub fn summarize(pod: &Pod) -> PodSummary {
    let default_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&default_spec);
    let default_status = PodStatus::default();
    let status = pod.status.as_ref().unwrap_or(&default_status);
    let phase = status.phase.as_deref().unwrap_or_default();
    let mut reason = status.reason.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| phase.to_owned());
    if status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"))
    {
        reason = "SchedulingGated".to_owned();
    }

    let init_containers = spec.init_containers.as_deref().unwrap_or_default();
    let sidecars: BTreeSet<&str> = init_containers
        .iter()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let total = spec.containers.len() + sidecars.len();
    let (mut ready, mut restarts, mut sidecar_restarts) = (0, 0, 0);
    let (mut last_restart, mut last_sidecar_restart) = (None, None);

    let mut initializing = false;
    for (i, cs) in status.init_container_statuses.iter().flatten().enumerate() {
        restarts += cs.restart_count;
        last_restart = later(last_restart, finished_at(cs));
        let sidecar = sidecars.contains(cs.name.as_str());
        if sidecar {
            sidecar_restarts += cs.restart_count;
            last_sidecar_restart = later(last_sidecar_restart, finished_at(cs));
        }
        let state = cs.state.clone().unwrap_or_default();
        let waiting_reason = state.waiting.as_ref().and_then(|w| w.reason.as_deref()).unwrap_or_default();
        match &state.terminated {
            Some(t) if t.exit_code == 0 => continue,
            _ if sidecar && cs.started == Some(true) => {
                if cs.ready {
                    ready += 1;
                }
                continue;
            }
            Some(t) => {
                reason = match (t.reason.as_deref().filter(|r| !r.is_empty()), t.signal.filter(|s| *s != 0)) {
                    (Some(r), _) => format!("Init:{r}"),
                    (None, Some(signal)) => format!("Init:Signal:{signal}"),
                    (None, None) => format!("Init:ExitCode:{}", t.exit_code),
                };
            }
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                reason = format!("Init:{waiting_reason}");
            }
            None => reason = format!("Init:{i}/{}", init_containers.len()),
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(status, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in status.container_statuses.iter().flatten().rev() {
            restarts += cs.restart_count;
            last_restart = later(last_restart, finished_at(cs));
            let state = cs.state.clone().unwrap_or_default();
            let waiting_reason = state.waiting.as_ref().and_then(|w| w.reason.clone()).filter(|r| !r.is_empty());
            if let Some(r) = waiting_reason {
                reason = r;
            } else if let Some(t) = &state.terminated {
                reason = match (t.reason.as_deref().filter(|r| !r.is_empty()), t.signal.filter(|s| *s != 0)) {
                    (Some(r), _) => r.to_owned(),
                    (None, Some(signal)) => format!("Signal:{signal}"),
                    (None, None) => format!("ExitCode:{}", t.exit_code),
                };
            } else if cs.ready && state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(status, "Ready") { "Running" } else { "NotReady" }.to_owned();
        }
    }

    if pod.metadata.deletion_timestamp.is_some() {
        if status.reason.as_deref() == Some("NodeLost") {
            reason = "Unknown".to_owned();
        } else if phase != "Failed" && phase != "Succeeded" {
            reason = "Terminating".to_owned();
        }
    }

    let restarts = match last_restart.filter(|_| restarts != 0) {
        Some(t) => format!("{restarts} ({} ago)", table::human_duration(Timestamp::now().duration_since(t).as_secs())),
        None => restarts.to_string(),
    };
    PodSummary { ready: format!("{ready}/{total}"), status: reason, restarts }
}

/// A resource's quantity in a request or limit list, when above zero.
fn positive(list: Option<&BTreeMap<String, ApiQuantity>>, name: &str) -> Option<Quantity> {
    list?.get(name).and_then(|q| Quantity::parse(&q.0)).filter(|q| q.is_positive())
}

/// The pod's QoS class: `Guaranteed` when every container limits CPU and memory and
/// requests equal limits, `BestEffort` when nothing is requested or limited, else
/// `Burstable`. Only CPU and memory count; zero quantities are ignored.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let add = |sums: &mut BTreeMap<&'static str, Quantity>, name: &'static str, q: Quantity| {
        let entry = sums.entry(name).or_insert(Quantity::ZERO);
        *entry = entry.checked_add(q).unwrap_or(*entry);
    };
    for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        let resources = c.resources.clone().unwrap_or_default();
        let mut limited = 0;
        for name in ["cpu", "memory"] {
            if let Some(q) = positive(resources.requests.as_ref(), name) {
                add(&mut requests, name, q);
            }
            if let Some(q) = positive(resources.limits.as_ref(), name) {
                limited += 1;
                add(&mut limits, name, q);
            }
        }
        if limited < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests.iter().all(|(name, req)| limits.get(name) == Some(req)) && requests.len() == limits.len()
    {
        return "Guaranteed";
    }
    "Burstable"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn spec(resources: Value) -> PodSpec {
        serde_json::from_value(json!({"containers": [{"name": "c", "resources": resources}]})).unwrap()
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&spec(json!({}))), "BestEffort");
        assert_eq!(qos_class(&spec(json!({"requests": {"cpu": "100m"}}))), "Burstable");
        let equal =
            json!({"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "0.5", "memory": "128Mi"}});
        assert_eq!(qos_class(&spec(equal)), "Guaranteed");
        let unequal =
            json!({"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}});
        assert_eq!(qos_class(&spec(unequal)), "Burstable");
    }

    #[test]
    fn running_pod() {
        let p = pod(json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "image": "x", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "image": "x", "imageID": "", "ready": false, "restartCount": 3,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "finishedAt": Timestamp::now().to_string()}}}]}}));
        let s = summarize(&p);
        assert_eq!(s.ready, "1/2");
        assert_eq!(s.status, "CrashLoopBackOff");
        assert_eq!(s.restarts, "3 (0s ago)");
    }

    #[test]
    fn pending_init_and_terminating_pods() {
        let init = pod(json!({"metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i", "image": "x", "imageID": "", "ready": false, "restartCount": 0, "state": {"running": {}}}]}}));
        assert_eq!(
            summarize(&init),
            PodSummary { ready: "0/1".into(), status: "Init:0/1".into(), restarts: "0".into() }
        );

        let new = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}}),
        );
        assert_eq!(summarize(&new).status, "Pending");

        let deleting = pod(json!({"metadata": {"name": "p", "deletionTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Running"}}));
        assert_eq!(summarize(&deleting).status, "Terminating");
    }
}
