//! One pod's worker: each sync reads what the runtime holds for the pod, moves it one step
//! toward its spec (sandbox and volumes, then init containers in order, then containers,
//! restarting by `restartPolicy` with back-off) and reports the status when it changed.
//! A pod being deleted is stopped gracefully and then deleted for good; a pod gone from the
//! API has everything removed.

use super::backoff::Backoff;
use super::objects::Objects;
use super::runtime_pod::{RuntimePod, runtime_pod};
use super::sandbox::sandbox_config;
use super::status::{StatusInputs, Waiting, init_done, is_sidecar, phase, pod_status};
use super::volumes::{self, VolumeInputs, VolumeState};
use super::{Context, RESYNC};
use crate::error::{Error, Result};
use k8s_cri::v1::{RemoveContainerRequest, RunPodSandboxRequest};
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often volumes (ConfigMaps, Secrets, tokens) are re-read for a running pod.
const VOLUME_REFRESH: Duration = Duration::from_secs(10);

pub struct PodWorker {
    pub(super) context: Arc<Context>,
    pub(super) uid: String,
    pub(super) volume_state: VolumeState,
    pub(super) volumes_refreshed: Option<Instant>,
    /// Each volume's host path and whether it is always read-only.
    pub(super) volume_paths: HashMap<String, (PathBuf, bool)>,
    /// Containers held back, by name, and why.
    pub(super) waiting: HashMap<String, Waiting>,
    /// Restart back-off by container name; image pull back-off by container name.
    pub(super) restarts: HashMap<String, Backoff>,
    pub(super) pulls: HashMap<String, Backoff>,
    /// Termination messages by container ID.
    pub(super) messages: HashMap<String, String>,
    /// The containers' probes.
    pub(super) probes: super::probes::Probes,
    /// When the worker first saw the pod, how long its image pulls took, and whether its
    /// start was measured.
    pub(super) first_seen: Instant,
    pub(super) pull_seconds: f64,
    start_measured: bool,
    /// The last status reported, and the last FailedMount message.
    last_status: Option<Value>,
    last_mount_error: Option<String>,
}

impl PodWorker {
    pub fn new(context: Arc<Context>, uid: String) -> PodWorker {
        PodWorker {
            context,
            uid,
            volume_state: VolumeState::default(),
            volumes_refreshed: None,
            volume_paths: HashMap::new(),
            waiting: HashMap::new(),
            restarts: HashMap::new(),
            pulls: HashMap::new(),
            messages: HashMap::new(),
            probes: super::probes::Probes::default(),
            first_seen: Instant::now(),
            pull_seconds: 0.0,
            start_measured: false,
            last_status: None,
            last_mount_error: None,
        }
    }

    /// Sync the pod every [`RESYNC`] and whenever it changes, until it is gone.
    pub async fn run(mut self, mut updates: watch::Receiver<Option<Pod>>) {
        let mut failures = 0u32;
        loop {
            let pod = updates.borrow_and_update().clone();
            let Some(pod) = pod else { break };
            match self.sync(&pod).await {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures += 1;
                    // Logged on the first failure and then every 30th, so a stuck pod
                    // cannot flood the log.
                    if failures % 30 == 1 {
                        tracing::warn!(pod = %name(&pod), %error, failures, "syncing pod failed");
                    }
                }
            }
            let wait = RESYNC * failures.clamp(1, 10);
            tokio::select! {
                changed = updates.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.remove_everything().await;
    }

    async fn sync(&mut self, pod: &Pod) -> Result<()> {
        let runtime = runtime_pod(&self.context.cri, &self.uid).await?;
        if pod.metadata.deletion_timestamp.is_some() {
            return self.terminate_and_delete(pod, runtime).await;
        }
        let reported = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
        if matches!(reported, "Succeeded" | "Failed") {
            // Done for good: free the sandbox (its IP), keep the containers for logs.
            return self.stop_sandboxes(&runtime).await;
        }
        if let Some(message) = self.past_deadline(pod) {
            return self.fail(pod, &runtime, "Normal", "DeadlineExceeded", message).await;
        }
        if let Some(message) = self.empty_dir_over_limit(pod) {
            return self.fail(pod, &runtime, "Warning", "Evicted", message).await;
        }
        if runtime.sandboxes.is_empty() && reported == "Pending" {
            let others: Vec<Pod> = self.context.pods.state().iter().map(|p| (**p).clone()).collect();
            if let Some((reason, message)) = super::admit::reject(pod, &others, &self.context.capacity) {
                self.context.recorder.record(pod, "Warning", &reason, &message).await;
                let status = json!({"phase": "Failed", "reason": reason, "message": message,
                    "hostIP": self.context.host_ip, "hostIPs": [{"ip": self.context.host_ip}],
                    "startTime": crate::node::now().to_string()});
                return self.report(pod, status).await;
            }
        }
        if !self.prepare_volumes(pod).await {
            let status = self.status(pod, &runtime);
            return self.report(pod, status).await;
        }
        let sandbox = match runtime.sandbox().filter(|s| s.ready) {
            Some(sandbox) => sandbox.clone(),
            None if self.finished_for_good(pod, &runtime) => {
                let status = self.status(pod, &runtime);
                return self.report(pod, status).await;
            }
            None => {
                let attempt = runtime.sandbox().map_or(0, |s| s.attempt + 1);
                self.create_sandbox(pod, attempt).await?;
                runtime_pod(&self.context.cri, &self.uid).await?.sandbox().cloned().ok_or_else(|| Error::Cri {
                    call: "RunPodSandbox",
                    status: tonic::Status::not_found("the new sandbox is not listed"),
                })?
            }
        };
        self.write_etc_hosts(pod, &sandbox)?;
        let spec = pod.spec.clone().unwrap_or_default();
        let mut initialized = true;
        for container in spec.init_containers.iter().flatten() {
            if is_sidecar(container) {
                self.keep_running(pod, &runtime, &sandbox, container, true).await;
                if !init_done(container, &runtime) {
                    initialized = false;
                    break;
                }
                continue;
            }
            if init_done(container, &runtime) {
                continue;
            }
            initialized = false;
            self.keep_running(pod, &runtime, &sandbox, container, false).await;
            break;
        }
        if initialized {
            for container in &spec.containers {
                self.keep_running(pod, &runtime, &sandbox, container, false).await;
            }
            for container in super::status::ephemeral_containers(pod) {
                if runtime.latest_anywhere(&container.name).is_none() {
                    self.start_container(pod, &sandbox, &container, 0).await;
                }
            }
        }
        let runtime = runtime_pod(&self.context.cri, &self.uid).await?;
        self.probe(pod, &runtime, &sandbox).await;
        self.read_termination_messages(&runtime);
        let status = self.status(pod, &runtime);
        let terminal = matches!(status["phase"].as_str(), Some("Succeeded" | "Failed"));
        self.measure_start(pod, &status);
        self.report(pod, status).await?;
        if terminal {
            self.stop_sandboxes(&runtime).await?;
        }
        Ok(())
    }

    /// Once every container runs and has started: the pod's start for the SLI (from its
    /// creation, without image pulls) and from when this node first saw it.
    fn measure_start(&mut self, pod: &Pod, status: &Value) {
        if self.start_measured || status["phase"] != "Running" {
            return;
        }
        let statuses = status["containerStatuses"].as_array().cloned().unwrap_or_default();
        if statuses.is_empty() || !statuses.iter().all(|s| s["started"] == json!(true)) {
            return;
        }
        self.start_measured = true;
        if let Some(created) = &pod.metadata.creation_timestamp {
            let since = jiff::Timestamp::now().duration_since(created.0).as_secs_f64();
            self.context.metrics.pod_start_sli.observe((since - self.pull_seconds).max(0.0));
        }
        self.context.metrics.pod_start.observe(self.first_seen.elapsed().as_secs_f64());
    }

    /// Start `container` if it never ran, or restart it when it exited and the restart
    /// policy (or, for a sidecar, always) says so.
    async fn keep_running(
        &mut self,
        pod: &Pod,
        runtime: &RuntimePod,
        sandbox: &super::runtime_pod::Sandbox,
        container: &Container,
        sidecar: bool,
    ) {
        let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_else(|| "Always".into());
        let in_sandbox = runtime.latest(&sandbox.id, &container.name);
        let previous_attempt = runtime.latest_anywhere(&container.name).map(|c| c.attempt);
        match in_sandbox {
            Some(instance) if instance.running() || !instance.exited() => {
                if instance.running() {
                    self.waiting.remove(&container.name);
                }
            }
            Some(instance) => {
                let restart = sidecar
                    || match policy.as_str() {
                        "Always" => true,
                        "OnFailure" => instance.exit_code != 0,
                        _ => false,
                    };
                if !restart {
                    self.waiting.remove(&container.name);
                    return;
                }
                let instance = instance.clone();
                if !self.restart_allowed(pod, &instance).await {
                    return;
                }
                self.start_container(pod, sandbox, container, instance.attempt + 1).await;
            }
            None => {
                // A new sandbox (or the first): never-run containers start at 0; after a
                // sandbox was replaced they continue the count.
                let attempt = previous_attempt.map_or(0, |a| a + 1);
                if previous_attempt.is_some() && policy == "Never" && !sidecar {
                    return;
                }
                self.start_container(pod, sandbox, container, attempt).await;
            }
        }
    }

    /// Whether a crashed container may restart now (CrashLoopBackOff otherwise).
    async fn restart_allowed(&mut self, pod: &Pod, instance: &super::runtime_pod::ContainerInstance) -> bool {
        let now = Instant::now();
        let ran = Duration::from_nanos((instance.finished_at - instance.started_at).max(0) as u64);
        let finished_ago = jiff::Timestamp::now().as_nanosecond() - instance.finished_at as i128;
        let finished_at = now.checked_sub(Duration::from_nanos(finished_ago.max(0) as u64)).unwrap_or(now);
        let backoff = self.restarts.entry(instance.name.clone()).or_default();
        if ran >= super::backoff::RESET_AFTER {
            backoff.reset();
        }
        backoff.failed_at(finished_at);
        let remaining = backoff.remaining(now);
        if remaining.is_zero() {
            backoff.retried(now);
            return true;
        }
        let message = format!(
            "back-off {} restarting failed container={} pod={}_{}({})",
            humanize(backoff.delay()),
            instance.name,
            name(pod),
            namespace(pod),
            self.uid
        );
        let fresh = self.waiting.get(&instance.name).map(|w| w.reason.as_str()) != Some("CrashLoopBackOff");
        self.waiting.insert(instance.name.clone(), Waiting { reason: "CrashLoopBackOff".into(), message });
        if fresh {
            let event = format!(
                "Back-off restarting failed container {} in pod {}_{}({})",
                instance.name,
                name(pod),
                namespace(pod),
                self.uid
            );
            self.context.recorder.record(pod, "Warning", "BackOff", &event).await;
        }
        false
    }

    /// A pod whose containers all ran and must not run again (restartPolicy Never/OnFailure
    /// with success) gets no new sandbox.
    fn finished_for_good(&self, pod: &Pod, runtime: &RuntimePod) -> bool {
        let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
        policy != "Always" && !runtime.containers.is_empty() && matches!(phase(pod, runtime), "Succeeded" | "Failed")
    }

    /// Set up the pod's volumes (re-reading their sources now and then); false when one is
    /// missing, after a FailedMount event.
    async fn prepare_volumes(&mut self, pod: &Pod) -> bool {
        if self.volumes_refreshed.is_some_and(|at| at.elapsed() < VOLUME_REFRESH) {
            return true;
        }
        let pod_ips = pod_ips_of(pod);
        let context = self.context.clone();
        let inputs =
            VolumeInputs { client: &context.client, paths: &context.paths, downward: context.downward(&pod_ips) };
        let mut objects = Objects::new(context.client.clone(), namespace(pod));
        match volumes::prepare(pod, &inputs, &mut objects, &mut self.volume_state).await {
            Ok(paths) => {
                let read_only = |name: &str| {
                    pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()).find(|v| v.name == name).is_some_and(|v| {
                        v.config_map.is_some()
                            || v.secret.is_some()
                            || v.projected.is_some()
                            || v.downward_api.is_some()
                    })
                };
                self.volume_paths = paths
                    .into_iter()
                    .map(|(name, path)| {
                        let ro = read_only(&name);
                        (name, (path, ro))
                    })
                    .collect();
                self.volumes_refreshed = Some(Instant::now());
                self.last_mount_error = None;
                true
            }
            Err(missing) => {
                if self.volumes_refreshed.is_some() {
                    // Already running: keep what it has; a source that vanished is not fatal.
                    return true;
                }
                let message = format!("MountVolume.SetUp failed: {missing}");
                if self.last_mount_error.as_deref() != Some(message.as_str()) {
                    self.context.recorder.record(pod, "Warning", "FailedMount", &message).await;
                    self.last_mount_error = Some(message);
                }
                false
            }
        }
    }

    async fn create_sandbox(&mut self, pod: &Pod, attempt: u32) -> Result<()> {
        let config = sandbox_config(pod, &self.context.paths, &self.context.dns, attempt);
        let logs = PathBuf::from(&config.log_directory);
        std::fs::create_dir_all(&logs).map_err(Error::io("creating", &logs))?;
        let request = RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() };
        if let Err(status) = self.context.cri.runtime().run_pod_sandbox(request).await {
            let message = format!("Failed to create pod sandbox: {}", status.message());
            self.context.recorder.record(pod, "Warning", "FailedCreatePodSandBox", &message).await;
            return Err(Error::Cri { call: "RunPodSandbox", status });
        }
        Ok(())
    }

    fn write_etc_hosts(&self, pod: &Pod, sandbox: &super::runtime_pod::Sandbox) -> Result<()> {
        let path = self.context.paths.pod_dir(&self.uid).join("etc-hosts");
        let ips: Vec<String> = sandbox.ip.iter().cloned().collect();
        let content = super::hosts::etc_hosts(pod, &ips, &self.context.dns.domain);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            std::fs::create_dir_all(self.context.paths.pod_dir(&self.uid)).map_err(Error::io("creating", &path))?;
            std::fs::write(&path, content).map_err(Error::io("writing", &path))?;
        }
        Ok(())
    }

    /// The file behind a container instance's termination message.
    pub(super) fn termination_log(&self, container: &str, attempt: u32) -> PathBuf {
        self.context
            .paths
            .pod_dir(&self.uid)
            .join("containers")
            .join(container)
            .join(format!("{attempt}.termination-log"))
    }

    fn read_termination_messages(&mut self, runtime: &RuntimePod) {
        for instance in runtime.containers.iter().filter(|c| c.exited()) {
            if !self.messages.contains_key(&instance.id) {
                let path = self.termination_log(&instance.name, instance.attempt);
                let mut message = std::fs::read_to_string(path).unwrap_or_default();
                message.truncate(4096);
                self.messages.insert(instance.id.clone(), message);
            }
        }
    }

    /// Run the due probes of the pod's running containers; a liveness or startup failure
    /// past its threshold stops the container, which the next sync restarts.
    async fn probe(&mut self, pod: &Pod, runtime: &RuntimePod, sandbox: &super::runtime_pod::Sandbox) {
        let spec = pod.spec.clone().unwrap_or_default();
        let containers: Vec<&Container> =
            spec.containers.iter().chain(spec.init_containers.iter().flatten().filter(|c| is_sidecar(c))).collect();
        let running: HashMap<String, String> = containers
            .iter()
            .filter_map(|c| {
                runtime.latest(&sandbox.id, &c.name).filter(|i| i.running()).map(|i| (c.name.clone(), i.id.clone()))
            })
            .collect();
        self.probes.retain(&running);
        let pod_ip = sandbox.ip.clone().unwrap_or_else(|| self.context.host_ip.clone());
        for container in containers {
            let Some(id) = running.get(&container.name) else { continue };
            let verdicts = self.probes.probe(&self.context.cri, container, id, &pod_ip).await;
            for verdict in verdicts {
                match verdict {
                    super::probes::Verdict::Fine => {}
                    super::probes::Verdict::Unhealthy { message, .. } => {
                        self.context.recorder.record(pod, "Warning", "Unhealthy", &message).await;
                    }
                    super::probes::Verdict::Restart { kind, message } => {
                        self.context.recorder.record(pod, "Warning", "Unhealthy", &message).await;
                        let why = format!(
                            "Container {} failed {} probe, will be restarted",
                            container.name,
                            kind.name().to_lowercase()
                        );
                        self.context.recorder.record(pod, "Normal", "Killing", &why).await;
                        let grace = spec.termination_grace_period_seconds.unwrap_or(30);
                        let request = k8s_cri::v1::StopContainerRequest { container_id: id.clone(), timeout: grace };
                        if let Err(status) = self.context.cri.runtime().stop_container(request).await {
                            tracing::warn!(container = %id, %status, "stopping an unhealthy container failed");
                        }
                    }
                }
            }
        }
    }

    pub(super) fn status(&self, pod: &Pod, runtime: &RuntimePod) -> Value {
        let sandbox = runtime.sandbox().filter(|s| s.ready);
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network) == Some(true);
        let pod_ips: Vec<String> = if host_network {
            vec![self.context.host_ip.clone()]
        } else {
            sandbox.and_then(|s| s.ip.clone()).into_iter().collect()
        };
        let pod_ips = if pod_ips.is_empty() && sandbox.is_none() { pod_ips_of(pod) } else { pod_ips };
        let spec = pod.spec.clone().unwrap_or_default();
        let readiness: HashMap<String, bool> = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .map(|c| (c.name.clone(), self.probes.ready(c)))
            .collect();
        let started: HashMap<String, bool> = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .map(|c| (c.name.clone(), self.probes.started(c)))
            .collect();
        pod_status(&StatusInputs {
            pod,
            runtime,
            waiting: &self.waiting,
            readiness: &readiness,
            started: &started,
            messages: &self.messages,
            host_ip: &self.context.host_ip,
            pod_ips: &pod_ips,
            sandbox_ready: sandbox.is_some(),
            now: crate::node::now(),
        })
    }

    /// Report `status` if it differs from what was reported last.
    pub(super) async fn report(&mut self, pod: &Pod, status: Value) -> Result<()> {
        if self.last_status.as_ref() == Some(&status) {
            return Ok(());
        }
        let api: Api<Pod> = Api::namespaced(self.context.client.clone(), namespace(pod));
        let patch = json!({"metadata": {"uid": self.uid}, "status": status});
        api.patch_status(name(pod), &PatchParams::default(), &Patch::Strategic(patch)).await?;
        self.last_status = Some(status);
        Ok(())
    }

    /// Remove dead instances of `container` older than the one before `attempt` (the one
    /// before stays for `kubectl logs --previous`).
    pub(super) async fn remove_old_instances(&self, runtime: &RuntimePod, container: &str, attempt: u32) {
        for old in runtime.containers.iter().filter(|c| c.name == container && c.exited() && c.attempt + 1 < attempt) {
            let request = RemoveContainerRequest { container_id: old.id.clone() };
            if let Err(status) = self.context.cri.runtime().remove_container(request).await {
                tracing::debug!(container = %old.id, %status, "removing an old container failed");
            }
        }
    }

    /// End the pod for good: stop its containers at once, stop its sandbox, and report it
    /// Failed with `reason` (an event of `event_type` says why).
    async fn fail(
        &mut self,
        pod: &Pod,
        runtime: &RuntimePod,
        event_type: &str,
        reason: &str,
        message: String,
    ) -> Result<()> {
        self.kill_containers(pod, runtime, Some(0)).await;
        self.stop_sandboxes(runtime).await?;
        let runtime = runtime_pod(&self.context.cri, &self.uid).await?;
        let mut status = self.status(pod, &runtime);
        status["phase"] = json!("Failed");
        status["reason"] = json!(reason);
        status["message"] = json!(message);
        self.context.recorder.record(pod, event_type, reason, &message).await;
        self.report(pod, status).await
    }

    /// Upstream's eviction of a pod whose disk-backed emptyDir outgrew its `sizeLimit`
    /// (checked when the volumes are refreshed).
    fn empty_dir_over_limit(&self, pod: &Pod) -> Option<String> {
        for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            let Some(empty) = &volume.empty_dir else { continue };
            let Some(limit) = &empty.size_limit else { continue };
            if empty.medium.as_deref() == Some("Memory") {
                continue;
            }
            let Some((path, _)) = self.volume_paths.get(&volume.name) else { continue };
            if disk_usage(path) > super::fields::quantity_bytes(&limit.0) {
                return Some(format!(
                    "Usage of EmptyDir volume \"{}\" exceeds the limit \"{}\". ",
                    volume.name, limit.0
                ));
            }
        }
        None
    }

    fn past_deadline(&self, pod: &Pod) -> Option<String> {
        let deadline = pod.spec.as_ref()?.active_deadline_seconds?;
        let started = pod.status.as_ref()?.start_time.as_ref()?.0;
        let elapsed = jiff::Timestamp::now().as_second() - started.as_second();
        (elapsed >= deadline).then(|| "Pod was active on the node longer than the specified deadline".to_owned())
    }
}

/// The bytes of the files under `dir` (not following links).
fn disk_usage(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) if meta.is_file() => total += meta.len(),
                _ => {}
            }
        }
    }
    total
}

/// The pod IPs the API holds for `pod`.
pub(super) fn pod_ips_of(pod: &Pod) -> Vec<String> {
    pod.status.iter().flat_map(|s| s.pod_ips.iter().flatten()).map(|ip| ip.ip.clone()).collect()
}

pub(super) fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

pub(super) fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

/// A duration as Go prints it (`10s`, `1m20s`, `5m0s`).
pub(super) fn humanize(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 60 { format!("{seconds}s") } else { format!("{}m{}s", seconds / 60, seconds % 60) }
}
