//! The pods bound to this node: one worker per pod ([`worker`]) drives it toward its spec
//! through CRI (sandbox, volumes, init containers, containers, restarts with back-off,
//! graceful termination) and reports its status; [`PodManager`] routes the node's pod
//! watch to the workers and removes what the runtime holds for pods that no longer exist.

pub mod admit;
pub mod atomic_writer;
pub mod backoff;
pub mod container;
pub mod env;
pub mod fields;
pub mod hooks;
pub mod hosts;
pub mod image_pull;
pub mod objects;
pub mod probe;
pub mod probes;
pub mod qos;
pub mod runtime_pod;
pub mod sandbox;
pub mod service_env;
mod start;
pub mod status;
mod stop;
pub mod volumes;
mod worker;

use crate::cri::Cri;
use crate::node::machine::Capacity;
use crate::paths::Paths;
use client_runtime::events::Recorder;
use k8s_cri::v1::{ListPodSandboxRequest, RemovePodSandboxRequest, StopPodSandboxRequest};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::runtime::reflector::Store;
use sandbox::{ClusterDns, POD_UID_LABEL};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often the runtime is asked for the state of each pod (upstream's PLEG relist period).
pub const RESYNC: Duration = Duration::from_secs(1);
/// How often sandboxes of pods that no longer exist are looked for (and the running pod
/// and container gauges refreshed).
const ORPHAN_SWEEP: Duration = Duration::from_secs(10);

/// What every pod worker of the node shares.
pub struct Context {
    pub client: kube::Client,
    pub cri: Cri,
    pub paths: Paths,
    pub node_name: String,
    pub host_ip: String,
    pub dns: ClusterDns,
    pub recorder: Recorder,
    /// Every Service (for the service-link environment variables).
    pub services: Store<Service>,
    /// The pods bound to this node (for admission).
    pub pods: Store<Pod>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub capacity: Capacity,
}

impl Context {
    /// The downward API's view of a pod at `pod_ips` on this node.
    pub fn downward<'a>(&'a self, pod_ips: &'a [String]) -> fields::Downward<'a> {
        fields::Downward {
            pod_ips,
            host_ip: &self.host_ip,
            node_cpu_millis: self.capacity.allocatable_millicpu(),
            node_memory: self.capacity.allocatable_memory(),
        }
    }
}

/// Routes pod changes to per-pod workers.
pub struct PodManager {
    context: Arc<Context>,
    workers: Mutex<HashMap<String, watch::Sender<Option<Pod>>>>,
}

impl PodManager {
    pub fn new(context: Arc<Context>) -> Arc<PodManager> {
        Arc::new(PodManager { context, workers: Mutex::new(HashMap::new()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Option<Pod>>>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A pod bound to this node changed: hand it to its worker (starting one if needed).
    /// Never blocks (it runs on the watch).
    pub fn update(self: &Arc<Self>, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut workers = self.lock();
        if let Some(sender) = workers.get(&uid) {
            sender.send_replace(Some(pod.clone()));
            return;
        }
        let (sender, receiver) = watch::channel(Some(pod.clone()));
        workers.insert(uid.clone(), sender);
        let (manager, context) = (self.clone(), self.context.clone());
        tokio::spawn(async move {
            worker::PodWorker::new(context, uid.clone()).run(receiver).await;
            manager.lock().remove(&uid);
        });
    }

    /// A pod is gone from the API: its worker removes everything it had.
    pub fn delete(&self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if let Some(sender) = self.lock().get(&uid) {
            sender.send_replace(None);
        }
    }

    /// Every [`ORPHAN_SWEEP`], stop and remove sandboxes whose pods this node no longer
    /// runs (deleted while the agent was down); `known` says whether a pod UID exists.
    pub async fn sweep_orphans(self: Arc<Self>, known: impl Fn(&str) -> bool) {
        loop {
            if let Err(error) = self.remove_orphans(&known).await {
                tracing::warn!(%error, "looking for leftover pod sandboxes failed");
            }
            tokio::time::sleep(ORPHAN_SWEEP).await;
        }
    }

    async fn remove_orphans(&self, known: &impl Fn(&str) -> bool) -> crate::Result<()> {
        let mut runtime = self.context.cri.runtime();
        let sandboxes = runtime
            .list_pod_sandbox(ListPodSandboxRequest { filter: None })
            .await
            .map_err(crate::Error::cri("ListPodSandbox"))?
            .into_inner()
            .items;
        let ready = sandboxes.iter().filter(|s| s.state == runtime_pod::SANDBOX_READY).count();
        self.context.metrics.running_pods.set(ready as i64);
        if let Ok(listed) = runtime.list_containers(k8s_cri::v1::ListContainersRequest { filter: None }).await {
            let containers = listed.into_inner().containers;
            for (state, code) in [
                ("created", runtime_pod::CONTAINER_CREATED),
                ("running", runtime_pod::CONTAINER_RUNNING),
                ("exited", runtime_pod::CONTAINER_EXITED),
            ] {
                self.context
                    .metrics
                    .set_containers(state, containers.iter().filter(|c| c.state == code).count() as i64);
            }
        }
        for sandbox in sandboxes {
            let Some(uid) = sandbox.labels.get(POD_UID_LABEL) else { continue };
            if known(uid) || self.lock().contains_key(uid) {
                continue;
            }
            tracing::info!(%uid, sandbox = %sandbox.id, "removing the sandbox of a pod that no longer exists");
            let id = sandbox.id.clone();
            let _ = runtime.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id.clone() }).await;
            let _ = runtime.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id }).await;
            volumes::clean_up(&self.context.paths, uid);
            if let Some(meta) = sandbox.metadata {
                let _ = std::fs::remove_dir_all(self.context.paths.pod_logs(&meta.namespace, &meta.name, uid));
            }
        }
        Ok(())
    }
}
