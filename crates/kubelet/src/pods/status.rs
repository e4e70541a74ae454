//! A pod's status from what the runtime reports and what the agent is waiting on, in
//! upstream's shape: phase (the kubelet's `getPhase` rules), the five conditions,
//! per-container states with `lastState` and restart counts, addresses and QoS class.

use super::qos::qos_class;
use super::runtime_pod::{ContainerInstance, RuntimePod};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Why a container is not running, as its `state.waiting` shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    pub reason: String,
    pub message: String,
}

/// What the status is computed from.
pub struct StatusInputs<'a> {
    pub pod: &'a Pod,
    pub runtime: &'a RuntimePod,
    /// Containers the agent holds back, by name.
    pub waiting: &'a HashMap<String, Waiting>,
    /// Readiness by container name (probes); a running container without an entry is ready.
    pub readiness: &'a HashMap<String, bool>,
    /// Whether each container's startup probe passed (true without one).
    pub started: &'a HashMap<String, bool>,
    /// Termination messages by container ID.
    pub messages: &'a HashMap<String, String>,
    pub host_ip: &'a str,
    pub pod_ips: &'a [String],
    /// Whether the sandbox is up with its network.
    pub sandbox_ready: bool,
    pub now: Timestamp,
}

fn time(nanos: i64) -> Option<String> {
    (nanos > 0).then(|| {
        Timestamp::from_nanosecond(nanos as i128)
            .map(|t| Timestamp::from_second(t.as_second()).unwrap_or(t).to_string())
            .unwrap_or_default()
    })
}

fn terminated(instance: &ContainerInstance, messages: &HashMap<String, String>) -> Value {
    let mut state = json!({
        "exitCode": instance.exit_code,
        "reason": if instance.reason.is_empty() { if instance.exit_code == 0 { "Completed" } else { "Error" } } else { instance.reason.as_str() },
        "startedAt": time(instance.started_at),
        "finishedAt": time(instance.finished_at),
        "containerID": format!("containerd://{}", instance.id),
    });
    if let Some(message) = messages.get(&instance.id).filter(|m| !m.is_empty()) {
        state["message"] = json!(message);
    }
    json!({"terminated": state})
}

/// Whether `container` is a sidecar (an init container that keeps running).
pub fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// One container's status; `default_waiting` is the reason it waits when nothing else is known.
fn container_status(container: &Container, inputs: &StatusInputs<'_>, default_waiting: &str) -> Value {
    let latest = inputs.runtime.latest_anywhere(&container.name);
    let waiting = inputs.waiting.get(&container.name);
    let mut last_state = json!({});
    let state = match (latest, waiting) {
        (Some(instance), _) if instance.running() => {
            if let Some(previous) = inputs.runtime.previous(&container.name).filter(|p| p.exited()) {
                last_state = terminated(previous, inputs.messages);
            }
            json!({"running": {"startedAt": time(instance.started_at)}})
        }
        (Some(instance), Some(waiting)) if instance.exited() => {
            last_state = terminated(instance, inputs.messages);
            json!({"waiting": {"reason": waiting.reason, "message": waiting.message}})
        }
        (Some(instance), None) if instance.exited() => terminated(instance, inputs.messages),
        (_, Some(waiting)) => json!({"waiting": {"reason": waiting.reason, "message": waiting.message}}),
        _ => json!({"waiting": {"reason": default_waiting}}),
    };
    let running = latest.is_some_and(ContainerInstance::running);
    let ready = running && inputs.readiness.get(&container.name).copied().unwrap_or(true);
    let mut status = json!({
        "name": container.name,
        "state": state,
        "lastState": last_state,
        "ready": ready,
        "restartCount": latest.map_or(0, |l| l.attempt),
        "image": latest.map(|l| l.image.clone()).filter(|i| !i.is_empty()).or(container.image.clone()).unwrap_or_default(),
        "imageID": latest.map(|l| l.image_ref.clone()).unwrap_or_default(),
        "started": running && inputs.started.get(&container.name).copied().unwrap_or(true),
    });
    if let Some(instance) = latest {
        status["containerID"] = json!(format!("containerd://{}", instance.id));
    }
    if let Some(waiting) = &status["state"]["waiting"]["message"].as_str()
        && waiting.is_empty()
    {
        status["state"]["waiting"].as_object_mut().map(|w| w.remove("message"));
    }
    status
}

/// Whether init container `container` has done its part: exited 0, or (a sidecar) started.
pub fn init_done(container: &Container, runtime: &RuntimePod) -> bool {
    let latest = runtime.latest_anywhere(&container.name);
    if is_sidecar(container) {
        return latest.is_some_and(ContainerInstance::running);
    }
    latest.is_some_and(|l| l.exited() && l.exit_code == 0)
}

/// The pod's phase by upstream's rules.
pub fn phase(pod: &Pod, runtime: &RuntimePod) -> &'static str {
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let inits: Vec<&Container> = spec.init_containers.iter().flatten().collect();
    let init_failed = inits
        .iter()
        .any(|c| !is_sidecar(c) && runtime.latest_anywhere(&c.name).is_some_and(|l| l.exited() && l.exit_code != 0));
    if inits.iter().any(|c| !init_done(c, runtime)) {
        return if policy == "Never" && init_failed { "Failed" } else { "Pending" };
    }
    let (mut running, mut waiting_count, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for container in &spec.containers {
        match runtime.latest_anywhere(&container.name) {
            Some(instance) if instance.running() => running += 1,
            Some(instance) if instance.exited() => {
                stopped += 1;
                if instance.exit_code == 0 {
                    succeeded += 1;
                }
            }
            _ => waiting_count += 1,
        }
    }
    if waiting_count > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        return match policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        };
    }
    "Pending"
}

fn condition(type_: &str, ok: bool, reason: Option<&str>, message: Option<String>, pod: &Pod, now: Timestamp) -> Value {
    let status = if ok { "True" } else { "False" };
    let previous = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0.to_string());
    let mut value = json!({
        "type": type_, "status": status, "lastProbeTime": null,
        "lastTransitionTime": previous.unwrap_or_else(|| now.to_string()),
    });
    if !ok {
        if let Some(reason) = reason {
            value["reason"] = json!(reason);
        }
        if let Some(message) = message {
            value["message"] = json!(message);
        }
    }
    value
}

/// The pod's status.
pub fn pod_status(inputs: &StatusInputs<'_>) -> Value {
    let pod = inputs.pod;
    let spec = pod.spec.clone().unwrap_or_default();
    let inits: Vec<&Container> = spec.init_containers.iter().flatten().collect();
    let initialized = inits.iter().all(|c| init_done(c, inputs.runtime));
    let init_statuses: Vec<Value> = inits.iter().map(|c| container_status(c, inputs, "PodInitializing")).collect();
    let default_waiting = if initialized { "ContainerCreating" } else { "PodInitializing" };
    let statuses: Vec<Value> = spec.containers.iter().map(|c| container_status(c, inputs, default_waiting)).collect();
    let unready: Vec<&str> = statuses
        .iter()
        .filter(|s| s["ready"] != json!(true))
        .filter_map(|s| s["name"].as_str())
        .chain(inits.iter().filter(|c| is_sidecar(c) && !init_done(c, inputs.runtime)).map(|c| c.name.as_str()))
        .collect();
    let incomplete: Vec<&str> =
        inits.iter().filter(|c| !init_done(c, inputs.runtime)).map(|c| c.name.as_str()).collect();
    let phase = phase(pod, inputs.runtime);
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let (not_ready_reason, ready) =
        if terminal { ("PodCompleted", false) } else { ("ContainersNotReady", unready.is_empty()) };
    let unready_message = (!terminal).then(|| format!("containers with unready status: [{}]", unready.join(" ")));
    let now = inputs.now;
    let start_time = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0.to_string())
        .unwrap_or_else(|| now.to_string());
    let mut status = json!({
        "phase": phase,
        "conditions": [
            condition("PodReadyToStartContainers", inputs.sandbox_ready, None, None, pod, now),
            condition("Initialized", initialized, Some(if terminal { "PodCompleted" } else { "ContainersNotInitialized" }),
                (!terminal).then(|| format!("containers with incomplete status: [{}]", incomplete.join(" "))), pod, now),
            condition("Ready", ready, Some(not_ready_reason), unready_message.clone(), pod, now),
            condition("ContainersReady", ready, Some(not_ready_reason), unready_message, pod, now),
        ],
        "hostIP": inputs.host_ip,
        "hostIPs": [{"ip": inputs.host_ip}],
        "startTime": start_time,
        "containerStatuses": statuses,
        "qosClass": qos_class(pod).as_str(),
    });
    if let Some(ip) = inputs.pod_ips.first() {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!(inputs.pod_ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>());
    }
    if !init_statuses.is_empty() {
        status["initContainerStatuses"] = json!(init_statuses);
    }
    let ephemeral: Vec<Value> =
        ephemeral_containers(pod).iter().map(|c| container_status(c, inputs, "ContainerCreating")).collect();
    if !ephemeral.is_empty() {
        status["ephemeralContainerStatuses"] = json!(ephemeral);
    }
    status
}

/// The pod's ephemeral containers (`kubectl debug`) as plain containers: the same fields,
/// run once, never restarted.
pub fn ephemeral_containers(pod: &Pod) -> Vec<Container> {
    pod.spec
        .iter()
        .flat_map(|s| s.ephemeral_containers.iter().flatten())
        .filter_map(|e| serde_json::to_value(e).ok().and_then(|v| serde_json::from_value(v).ok()))
        .collect()
}
