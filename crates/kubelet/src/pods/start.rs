//! Starting one container of a pod: its image (pull policy, pull back-off), environment,
//! CRI configuration, create and start, with upstream's events and waiting reasons
//! (`ErrImagePull`, `ImagePullBackOff`, `ErrImageNeverPull`, `CreateContainerConfigError`,
//! `CreateContainerError`, `RunContainerError`).

use super::container::{ContainerFiles, container_config};
use super::env::{EnvInputs, container_env};
use super::image_pull::{Pulled, needs_pull, pull};
use super::objects::Objects;
use super::runtime_pod::{Sandbox, runtime_pod};
use super::sandbox::sandbox_config;
use super::service_env::service_env;
use super::status::Waiting;
use super::worker::{PodWorker, humanize, namespace};
use k8s_cri::v1::{CreateContainerRequest, StartContainerRequest};
use k8s_openapi::api::core::v1::{Container, Pod};
use std::time::Instant;

impl PodWorker {
    /// An ephemeral container with a `targetContainerName` joins that container's
    /// process namespace (`kubectl debug --target`), as upstream's kubelet arranges.
    async fn join_target(
        &self,
        pod: &Pod,
        container: &Container,
        mut config: k8s_cri::v1::ContainerConfig,
    ) -> k8s_cri::v1::ContainerConfig {
        let target = pod
            .spec
            .iter()
            .flat_map(|s| s.ephemeral_containers.iter().flatten())
            .find(|e| e.name == container.name)
            .and_then(|e| e.target_container_name.clone());
        let Some(target) = target else { return config };
        let Ok(runtime) = runtime_pod(&self.context.cri, &self.uid).await else { return config };
        let Some(instance) = runtime.latest_anywhere(&target).filter(|i| i.running()) else { return config };
        if let Some(options) =
            config.linux.as_mut().and_then(|l| l.security_context.as_mut()).and_then(|s| s.namespace_options.as_mut())
        {
            options.pid = super::sandbox::NAMESPACE_TARGET;
            options.target_id = instance.id.clone();
        }
        config
    }

    fn hold(&mut self, container: &str, reason: &str, message: String) {
        self.waiting.insert(container.to_owned(), Waiting { reason: reason.to_owned(), message });
    }

    /// Start instance `attempt` of `container` in `sandbox`; on failure the container waits
    /// with the reason upstream gives.
    pub(super) async fn start_container(&mut self, pod: &Pod, sandbox: &Sandbox, container: &Container, attempt: u32) {
        let context = self.context.clone();
        let image = container.image.clone().unwrap_or_default();
        let mut objects = Objects::new(context.client.clone(), namespace(pod));

        let pull_backoff = self.pulls.entry(container.name.clone()).or_default();
        if !pull_backoff.remaining(Instant::now()).is_zero() {
            let fresh = self.waiting.get(&container.name).map(|w| w.reason.as_str()) != Some("ImagePullBackOff");
            self.hold(&container.name, "ImagePullBackOff", format!("Back-off pulling image \"{image}\""));
            if fresh {
                context.recorder.record(pod, "Normal", "BackOff", &format!("Back-off pulling image \"{image}\"")).await;
                context.recorder.record(pod, "Warning", "Failed", "Error: ImagePullBackOff").await;
            }
            return;
        }
        let pulled = match needs_pull(&context.cri, container).await {
            Ok(true) => {
                context.recorder.record(pod, "Normal", "Pulling", &format!("Pulling image \"{image}\"")).await;
                pull(&context.cri, pod, container, &mut objects).await
            }
            Ok(false) => Ok(Pulled::Present),
            Err(error) => Err(error),
        };
        match pulled {
            Ok(Pulled::Present) => {
                self.pulls.remove(&container.name);
                let message = format!("Container image \"{image}\" already present on machine");
                context.recorder.record(pod, "Normal", "Pulled", &message).await;
            }
            Ok(Pulled::Now { seconds, size }) => {
                self.pulls.remove(&container.name);
                self.pull_seconds += seconds;
                let took = format!("{seconds:.3}s");
                let message = format!(
                    "Successfully pulled image \"{image}\" in {took} ({took} including waiting). Image size: {size} bytes."
                );
                context.recorder.record(pod, "Normal", "Pulled", &message).await;
            }
            Err(error) if error.never => {
                self.hold(&container.name, "ErrImageNeverPull", error.message.clone());
                context.recorder.record(pod, "Warning", "ErrImageNeverPull", &error.message).await;
                return;
            }
            Err(error) => {
                let backoff = self.pulls.entry(container.name.clone()).or_default();
                backoff.retried(Instant::now());
                let message = format!("Failed to pull image \"{image}\": {}", error.message);
                self.hold(&container.name, "ErrImagePull", message.clone());
                context.recorder.record(pod, "Warning", "Failed", &message).await;
                context.recorder.record(pod, "Warning", "Failed", "Error: ErrImagePull").await;
                tracing::debug!(delay = %humanize(self.pulls[&container.name].delay()), "image pull back-off");
                return;
            }
        }

        let services: Vec<_> = context.services.state().iter().map(|s| (**s).clone()).collect();
        let enable_links = pod.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true);
        let links = service_env(&services, namespace(pod), enable_links);
        let pod_ips: Vec<String> = sandbox.ip.iter().cloned().collect();
        let inputs = EnvInputs { pod, service_env: &links, downward: context.downward(&pod_ips) };
        let env = match container_env(container, &inputs, &mut objects).await {
            Ok(env) => env,
            Err(missing) => {
                self.hold(&container.name, "CreateContainerConfigError", missing.0.clone());
                context.recorder.record(pod, "Warning", "Failed", &format!("Error: {}", missing.0)).await;
                return;
            }
        };
        let termination_log = self.termination_log(&container.name, attempt);
        if let Some(dir) = termination_log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(&termination_log, b"");
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network) == Some(true);
        let etc_hosts = context.paths.pod_dir(&self.uid).join("etc-hosts");
        let files = ContainerFiles {
            volumes: &self.volume_paths,
            etc_hosts: (!host_network).then_some(etc_hosts.as_path()),
            termination_log: &termination_log,
        };
        let config = match container_config(pod, container, attempt, env, &files, context.capacity.allocatable_memory())
        {
            Ok(config) => self.join_target(pod, container, config).await,
            Err(message) => {
                self.hold(&container.name, "CreateContainerConfigError", message.clone());
                context.recorder.record(pod, "Warning", "Failed", &format!("Error: {message}")).await;
                return;
            }
        };
        let request = CreateContainerRequest {
            pod_sandbox_id: sandbox.id.clone(),
            config: Some(config),
            sandbox_config: Some(sandbox_config(pod, &context.paths, &context.dns, sandbox.attempt)),
        };
        let id = match context.cri.runtime().create_container(request).await {
            Ok(created) => created.into_inner().container_id,
            Err(status) => {
                let message = status.message().to_owned();
                self.hold(&container.name, "CreateContainerError", message.clone());
                context.recorder.record(pod, "Warning", "Failed", &format!("Error: {message}")).await;
                return;
            }
        };
        context.recorder.record(pod, "Normal", "Created", &format!("Created container: {}", container.name)).await;
        if let Err(status) =
            context.cri.runtime().start_container(StartContainerRequest { container_id: id.clone() }).await
        {
            let message = status.message().to_owned();
            self.hold(&container.name, "RunContainerError", message.clone());
            context.recorder.record(pod, "Warning", "Failed", &format!("Error: {message}")).await;
            return;
        }
        context.recorder.record(pod, "Normal", "Started", &format!("Started container {}", container.name)).await;
        if let Some(hook) = container.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            let pod_ip = sandbox.ip.clone().unwrap_or_else(|| context.host_ip.clone());
            let limit = std::time::Duration::from_secs(
                pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30).max(1) as u64,
            );
            if let Err(message) = super::hooks::run(&context.cri, hook, container, &id, &pod_ip, limit).await {
                let text = format!("PostStartHook failed: {message}");
                context.recorder.record(pod, "Warning", "FailedPostStartHook", &text).await;
                let stop = k8s_cri::v1::StopContainerRequest { container_id: id, timeout: 0 };
                let _ = context.cri.runtime().stop_container(stop).await;
                return;
            }
        }
        self.waiting.remove(&container.name);
        if let Ok(runtime) = runtime_pod(&context.cri, &self.uid).await {
            self.remove_old_instances(&runtime, &container.name, attempt).await;
        }
    }
}
