//! What a simulated kubelet does with the pods bound to its node: starts them (Running,
//! ready containers, a pod IP), finishes run-to-completion pods (see [`crate::marker`]),
//! and ends graceful deletions by deleting the pod for good after a short simulated stop.
//! The driver only consumes [`PodEvent`]s; where they come from (the node's own watch or
//! one watch shared by all nodes) is [`crate::source`]'s concern.

use crate::addresses::PodIps;
use crate::marker::{AfterExit, RUN_TIME, after_exit, exit_code};
use crate::node::now;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, SetOnce};

/// How long stopping a pod's containers takes (bounded by the pod's grace period).
pub const STOP_TIME: Duration = Duration::from_millis(500);
/// The longest wait before restarting a container that exited (upstream's CrashLoopBackOff cap).
const MAX_RESTART_DELAY: Duration = Duration::from_secs(300);

/// A change to a pod bound to the driver's node.
#[derive(Debug)]
pub enum PodEvent {
    /// The pod as it is now (added or changed).
    Applied(Pod),
    /// The pod is gone.
    Deleted(Pod),
}

/// The pod side of one simulated kubelet.
pub struct PodDriver {
    client: kube::Client,
    node: String,
    host_ip: String,
    /// The node's pod range, once known; pods that need an address wait for it, as a
    /// kubelet's pods wait for the pod network.
    ips: SetOnce<Mutex<PodIps>>,
    /// Bounds the API calls in flight across all drivers sharing it.
    writes: Arc<Semaphore>,
    /// Pods (by uid) this driver has taken over, and those it is stopping.
    started: Mutex<HashSet<String>>,
    stopping: Mutex<HashSet<String>>,
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

/// A container ID that stays the same for a pod's container across restarts of the simulator.
fn container_id(pod: &Pod, container: &str, restarts: i32) -> String {
    let mut id = String::from("krust-sim://");
    for round in 0..4u8 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (uid(pod), container, restarts, round).hash(&mut hasher);
        id.push_str(&format!("{:016x}", hasher.finish()));
    }
    id
}

fn condition(type_: &str, status: &str, reason: Option<&str>, at: Timestamp) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "lastProbeTime": null,
        "lastTransitionTime": at.to_string()})
}

fn container_base(pod: &Pod, container: &Container, restarts: i32) -> Value {
    json!({
        "name": container.name,
        "image": container.image.clone().unwrap_or_default(),
        "imageID": "",
        "containerID": container_id(pod, &container.name, restarts),
        "restartCount": restarts,
    })
}

impl PodDriver {
    /// A driver for the pods of `node` (at `host_ip`); `writes` bounds its API calls in
    /// flight together with every other driver sharing it. Pods that need an address start
    /// once [`PodDriver::set_pod_range`] gave it one.
    pub fn new(client: kube::Client, node: String, host_ip: String, writes: Arc<Semaphore>) -> PodDriver {
        PodDriver {
            client,
            node,
            host_ip,
            ips: SetOnce::new(),
            writes,
            started: Mutex::new(HashSet::new()),
            stopping: Mutex::new(HashSet::new()),
        }
    }

    /// The node this driver runs pods for.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Hand out pod addresses from `ips` from now on (the first range set stays).
    pub fn set_pod_range(&self, ips: PodIps) {
        let _ = self.ips.set(Mutex::new(ips));
    }

    fn lock<'a, T>(set: &'a Mutex<T>) -> std::sync::MutexGuard<'a, T> {
        set.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Act on a change to one of this node's pods; the work it starts runs on its own tasks.
    pub fn handle(self: &Arc<Self>, event: PodEvent) {
        match event {
            PodEvent::Applied(pod) => self.clone().observe(pod),
            PodEvent::Deleted(pod) => {
                Self::lock(&self.started).remove(&uid(&pod));
                Self::lock(&self.stopping).remove(&uid(&pod));
            }
        }
    }

    fn observe(self: Arc<Self>, pod: Pod) {
        let id = uid(&pod);
        if pod.metadata.deletion_timestamp.is_some() {
            if Self::lock(&self.stopping).insert(id) {
                tokio::spawn(async move { self.stop(pod).await });
            }
            return;
        }
        if matches!(phase(&pod), "Succeeded" | "Failed") || !Self::lock(&self.started).insert(id) {
            return;
        }
        tokio::spawn(async move {
            let outcome = if phase(&pod) == "Running" { Ok(()) } else { self.start(&pod).await };
            match outcome {
                Ok(()) if exit_code(&pod).is_some() => self.run_to_completion(pod, 0).await,
                Ok(()) => {}
                Err(error) => {
                    // Forget it so the next change to the pod retries.
                    Self::lock(&self.started).remove(&uid(&pod));
                    tracing::warn!(node = %self.node, %error, "starting pod failed");
                }
            }
        });
    }

    fn api(&self, pod: &Pod) -> Api<Pod> {
        Api::namespaced(self.client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"))
    }

    fn name(pod: &Pod) -> &str {
        pod.metadata.name.as_deref().unwrap_or_default()
    }

    /// Pending → Running: every container started and ready, the pod on an address.
    async fn start(&self, pod: &Pod) -> Result<(), kube::Error> {
        let spec = pod.spec.clone().unwrap_or_default();
        let at = now();
        let pod_ip = if spec.host_network == Some(true) {
            self.host_ip.clone()
        } else {
            Self::lock(self.ips.wait().await).allocate().to_string()
        };
        let init_statuses: Vec<Value> = spec
            .init_containers
            .iter()
            .flatten()
            .map(|c| {
                let mut status = container_base(pod, c, 0);
                status["ready"] = json!(true);
                status["started"] = json!(false);
                status["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed",
                    "startedAt": at.to_string(), "finishedAt": at.to_string(),
                    "containerID": container_id(pod, &c.name, 0)}});
                status
            })
            .collect();
        let statuses: Vec<Value> = spec.containers.iter().map(|c| running(pod, c, 0, at, None)).collect();
        let mut status = json!({
            "phase": "Running",
            "conditions": [
                condition("PodReadyToStartContainers", "True", None, at),
                condition("Initialized", "True", None, at),
                condition("Ready", "True", None, at),
                condition("ContainersReady", "True", None, at),
                condition("PodScheduled", "True", None, at),
            ],
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": pod_ip,
            "podIPs": [{"ip": pod_ip}],
            "startTime": at.to_string(),
            "containerStatuses": statuses,
        });
        if !init_statuses.is_empty() {
            status["initContainerStatuses"] = json!(init_statuses);
        }
        let _permit = self.writes.acquire().await;
        self.api(pod)
            .patch_status(Self::name(pod), &PatchParams::default(), &Patch::Merge(&json!({"status": status})))
            .await?;
        Ok(())
    }

    /// Let the marked container run, exit with its code, and finish or restart the pod.
    async fn run_to_completion(&self, pod: Pod, restarts: i32) {
        let Some(code) = exit_code(&pod) else { return };
        let mut restarts = restarts;
        let mut delay = RUN_TIME;
        loop {
            tokio::time::sleep(delay).await;
            let _permit = self.writes.acquire().await;
            let Ok(Some(current)) = self.api(&pod).get_opt(Self::name(&pod)).await else { return };
            if current.metadata.deletion_timestamp.is_some() || current.metadata.uid != pod.metadata.uid {
                return;
            }
            restarts = restarts.max(
                current
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .and_then(|c| c.first())
                    .map_or(0, |c| c.restart_count),
            );
            let outcome = after_exit(&current, code);
            let status = exited_status(&current, code, outcome, restarts);
            let patch = Patch::Merge(json!({"status": status}));
            if let Err(error) = self.api(&pod).patch_status(Self::name(&pod), &PatchParams::default(), &patch).await {
                tracing::warn!(node = %self.node, %error, "reporting an exited container failed");
                return;
            }
            if outcome != AfterExit::Restart {
                return;
            }
            restarts += 1;
            delay = (RUN_TIME * 2u32.pow(restarts.clamp(0, 9) as u32)).min(MAX_RESTART_DELAY);
        }
    }

    /// A graceful deletion: stop the containers (briefly), then delete the pod for good.
    async fn stop(&self, pod: Pod) {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0).max(0) as u64;
        tokio::time::sleep(STOP_TIME.min(Duration::from_secs(grace))).await;
        let _permit = self.writes.acquire().await;
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions { uid: pod.metadata.uid.clone(), resource_version: None }),
            ..Default::default()
        };
        match self.api(&pod).delete(Self::name(&pod), &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => {}
            Err(error) => {
                Self::lock(&self.stopping).remove(&uid(&pod));
                tracing::warn!(node = %self.node, %error, "deleting a stopped pod failed");
            }
        }
    }
}

/// A running, ready container status.
fn running(pod: &Pod, container: &Container, restarts: i32, at: Timestamp, last: Option<Value>) -> Value {
    let mut status = container_base(pod, container, restarts);
    status["ready"] = json!(true);
    status["started"] = json!(true);
    status["state"] = json!({"running": {"startedAt": at.to_string()}});
    status["lastState"] = last.unwrap_or_else(|| json!({}));
    status
}

/// The pod's status once its first container exited with `code`.
fn exited_status(pod: &Pod, code: i32, outcome: AfterExit, restarts: i32) -> Value {
    let at = now();
    let spec = pod.spec.clone().unwrap_or_default();
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.state.as_ref()?.running.as_ref()?.started_at.as_ref())
        .map_or(at, |t| t.0);
    let reason = if code == 0 { "Completed" } else { "Error" };
    let terminated = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started.to_string(),
        "finishedAt": at.to_string(), "containerID": container_id(pod, &spec.containers[0].name, restarts)}});
    let existing = |type_: &str| {
        pod.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == type_))
            .and_then(|c| c.last_transition_time.as_ref())
            .map_or(at, |t| t.0)
    };
    if outcome == AfterExit::Restart {
        let statuses: Vec<Value> = spec
            .containers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    running(pod, c, restarts + 1, at, Some(terminated.clone()))
                } else {
                    running(pod, c, restarts, at, None)
                }
            })
            .collect();
        return json!({"containerStatuses": statuses});
    }
    let phase = if outcome == AfterExit::Succeeded { "Succeeded" } else { "Failed" };
    let statuses: Vec<Value> = spec
        .containers
        .iter()
        .map(|c| {
            let mut status = container_base(pod, c, restarts);
            status["ready"] = json!(false);
            status["started"] = json!(false);
            status["state"] = terminated.clone();
            status["lastState"] = json!({});
            status
        })
        .collect();
    json!({
        "phase": phase,
        "conditions": [
            condition("PodReadyToStartContainers", "False", None, at),
            condition("Initialized", "True", Some("PodCompleted"), existing("Initialized")),
            condition("Ready", "False", Some("PodCompleted"), at),
            condition("ContainersReady", "False", Some("PodCompleted"), at),
            condition("PodScheduled", "True", None, existing("PodScheduled")),
        ],
        "containerStatuses": statuses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(policy: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "job", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox",
                "command": ["krust-sim:exit", "0"]}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "",
                "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_completed_container_ends_the_pod() {
        let status = exited_status(&pod("Never"), 0, AfterExit::Succeeded, 0);
        assert_eq!(status["phase"], "Succeeded");
        assert_eq!(status["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
        assert_eq!(status["containerStatuses"][0]["state"]["terminated"]["startedAt"], "2025-01-01T00:00:00Z");
        assert_eq!(status["conditions"][2]["reason"], "PodCompleted");
        let _: k8s_openapi::api::core::v1::PodStatus = serde_json::from_value(status).unwrap();
        let failed = exited_status(&pod("Never"), 2, AfterExit::Failed, 0);
        assert_eq!(failed["phase"], "Failed");
        assert_eq!(failed["containerStatuses"][0]["state"]["terminated"]["exitCode"], 2);
    }

    #[test]
    fn a_restarted_container_counts_and_remembers_its_exit() {
        let status = exited_status(&pod("Always"), 1, AfterExit::Restart, 0);
        assert!(status.get("phase").is_none());
        assert_eq!(status["containerStatuses"][0]["restartCount"], 1);
        assert_eq!(status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(status["containerStatuses"][0]["ready"], true);
    }

    #[test]
    fn container_ids_are_stable() {
        let pod = pod("Never");
        assert_eq!(container_id(&pod, "c", 0), container_id(&pod, "c", 0));
        assert_ne!(container_id(&pod, "c", 0), container_id(&pod, "c", 1));
        assert_eq!(container_id(&pod, "c", 0).len(), "krust-sim://".len() + 64);
    }
}
