//! Stopping a pod: its containers get SIGTERM and the grace period (the deletion's, else
//! `terminationGracePeriodSeconds`) before SIGKILL, with a `Killing` event each; then the
//! sandbox stops (releasing its IP). A deleted pod is then deleted for good, and a pod gone
//! from the API has its sandboxes, volumes and logs removed.

use super::runtime_pod::{RuntimePod, runtime_pod};
use super::worker::{PodWorker, name, namespace};
use crate::error::{Error, Result};
use k8s_cri::v1::{RemovePodSandboxRequest, StopContainerRequest, StopPodSandboxRequest};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Preconditions};
use serde_json::json;

/// Upstream's default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;

impl PodWorker {
    /// Stop every running container of `pod`, each with `grace` seconds (or the pod's).
    pub(super) async fn kill_containers(&self, pod: &Pod, runtime: &RuntimePod, grace: Option<i64>) {
        let grace = grace
            .or(pod.metadata.deletion_grace_period_seconds)
            .or(pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
            .unwrap_or(DEFAULT_GRACE_SECONDS)
            .max(0);
        let spec = pod.spec.clone().unwrap_or_default();
        let pod_ip = runtime.sandbox().and_then(|s| s.ip.clone()).unwrap_or_else(|| self.context.host_ip.clone());
        let stops = runtime.containers.iter().filter(|c| c.running()).map(|instance| {
            let context = self.context.clone();
            let (id, container) = (instance.id.clone(), instance.name.clone());
            let definition = spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
                .find(|c| c.name == container)
                .cloned();
            let pod_ip = pod_ip.clone();
            async move {
                context.recorder.record(pod, "Normal", "Killing", &format!("Stopping container {container}")).await;
                let started = std::time::Instant::now();
                // preStop runs first, inside the grace period; the rest of it is for the stop signal.
                if let Some(definition) = &definition
                    && let Some(hook) = definition.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref())
                    && grace > 0
                {
                    let limit = std::time::Duration::from_secs(grace as u64);
                    if let Err(message) = super::hooks::run(&context.cri, hook, definition, &id, &pod_ip, limit).await {
                        let text = format!("PreStopHook failed: {message}");
                        context.recorder.record(pod, "Warning", "FailedPreStopHook", &text).await;
                    }
                }
                let left = (grace - started.elapsed().as_secs() as i64).max(2.min(grace));
                let request = StopContainerRequest { container_id: id.clone(), timeout: left };
                if let Err(status) = context.cri.runtime().stop_container(request).await {
                    tracing::warn!(container = %id, %status, "stopping a container failed");
                }
            }
        });
        futures::future::join_all(stops).await;
    }

    /// Stop every sandbox of the pod (its containers are stopped with it).
    pub(super) async fn stop_sandboxes(&self, runtime: &RuntimePod) -> Result<()> {
        for sandbox in runtime.sandboxes.iter().filter(|s| s.ready) {
            let request = StopPodSandboxRequest { pod_sandbox_id: sandbox.id.clone() };
            self.context.cri.runtime().stop_pod_sandbox(request).await.map_err(Error::cri("StopPodSandbox"))?;
        }
        Ok(())
    }

    /// A deleted pod: stop it gracefully, report it terminated, then delete it for good.
    pub(super) async fn terminate_and_delete(&mut self, pod: &Pod, runtime: RuntimePod) -> Result<()> {
        self.kill_containers(pod, &runtime, None).await;
        self.stop_sandboxes(&runtime).await?;
        let runtime = runtime_pod(&self.context.cri, &self.uid).await?;
        self.waiting.clear();
        let mut status = self.status(pod, &runtime);
        // Containers that ran are terminated now; the pod ends in a terminal phase.
        let all_succeeded = runtime.containers.iter().all(|c| c.exit_code == 0);
        if !runtime.containers.is_empty() {
            status["phase"] = json!(if all_succeeded { "Succeeded" } else { "Failed" });
        }
        if let Err(error) = self.report(pod, status).await {
            tracing::debug!(%error, "reporting the final status failed");
        }
        let api: Api<Pod> = Api::namespaced(self.context.client.clone(), namespace(pod));
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions { uid: Some(self.uid.clone()), resource_version: None }),
            ..Default::default()
        };
        match api.delete(name(pod), &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// The pod is gone: remove its sandboxes (and containers), volumes and logs.
    pub(super) async fn remove_everything(&self) {
        let Ok(runtime) = runtime_pod(&self.context.cri, &self.uid).await else { return };
        let mut cri = self.context.cri.runtime();
        for sandbox in &runtime.sandboxes {
            let id = sandbox.id.clone();
            for container in runtime.containers.iter().filter(|c| c.running() && c.sandbox_id == id) {
                let request = StopContainerRequest { container_id: container.id.clone(), timeout: 0 };
                let _ = cri.stop_container(request).await;
            }
            let _ = cri.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id.clone() }).await;
            if let Err(status) = cri.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id }).await {
                tracing::warn!(%status, "removing a pod sandbox failed");
            }
        }
        super::volumes::clean_up(&self.context.paths, &self.uid);
        let logs = self.context.paths.pod_logs_root();
        for entry in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().ends_with(&format!("_{}", self.uid)) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}
