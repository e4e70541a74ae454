//! A pod as the container runtime sees it: its sandboxes and containers, found by the
//! pod-UID label Krust puts on them (so an agent that restarted finds what it started).

use super::sandbox::{CONTAINER_NAME_LABEL, POD_UID_LABEL};
use crate::cri::Cri;
use crate::error::{Error, Result};
use k8s_cri::v1::{
    ContainerFilter, ContainerStatusRequest, ListContainersRequest, ListPodSandboxRequest, PodSandboxFilter,
    PodSandboxStatusRequest,
};
use std::collections::HashMap;

/// CRI sandbox state `SANDBOX_READY`.
pub const SANDBOX_READY: i32 = 0;
/// CRI container states.
pub const CONTAINER_CREATED: i32 = 0;
pub const CONTAINER_RUNNING: i32 = 1;
pub const CONTAINER_EXITED: i32 = 2;

/// One sandbox of the pod.
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub id: String,
    pub attempt: u32,
    pub ready: bool,
    pub ip: Option<String>,
    pub created_at: i64,
}

/// One container instance (a name's attempt) of the pod.
#[derive(Clone, Debug)]
pub struct ContainerInstance {
    pub id: String,
    pub sandbox_id: String,
    pub name: String,
    pub attempt: u32,
    pub state: i32,
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    pub image: String,
    pub image_ref: String,
}

impl ContainerInstance {
    pub fn running(&self) -> bool {
        self.state == CONTAINER_RUNNING
    }

    pub fn exited(&self) -> bool {
        self.state == CONTAINER_EXITED
    }
}

/// Everything the runtime holds for one pod.
#[derive(Clone, Debug, Default)]
pub struct RuntimePod {
    /// Newest first.
    pub sandboxes: Vec<Sandbox>,
    pub containers: Vec<ContainerInstance>,
}

impl RuntimePod {
    /// The newest sandbox.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandboxes.first()
    }

    /// The newest instance of container `name` in sandbox `sandbox_id`.
    pub fn latest(&self, sandbox_id: &str, name: &str) -> Option<&ContainerInstance> {
        self.containers
            .iter()
            .filter(|c| c.sandbox_id == sandbox_id && c.name == name)
            .max_by_key(|c| (c.attempt, c.created_at))
    }

    /// The newest instance of container `name` in any sandbox.
    pub fn latest_anywhere(&self, name: &str) -> Option<&ContainerInstance> {
        self.containers.iter().filter(|c| c.name == name).max_by_key(|c| (c.created_at, c.attempt))
    }

    /// The instance before the newest of container `name` (for `lastState`).
    pub fn previous(&self, name: &str) -> Option<&ContainerInstance> {
        let mut instances: Vec<&ContainerInstance> = self.containers.iter().filter(|c| c.name == name).collect();
        instances.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.attempt)));
        instances.get(1).copied()
    }
}

/// Read pod `uid`'s sandboxes and containers from the runtime.
pub async fn runtime_pod(cri: &Cri, uid: &str) -> Result<RuntimePod> {
    let labels = HashMap::from([(POD_UID_LABEL.to_owned(), uid.to_owned())]);
    let mut runtime = cri.runtime();
    let listed = runtime
        .list_pod_sandbox(ListPodSandboxRequest {
            filter: Some(PodSandboxFilter { label_selector: labels.clone(), ..Default::default() }),
        })
        .await
        .map_err(Error::cri("ListPodSandbox"))?
        .into_inner()
        .items;
    let mut sandboxes = Vec::new();
    for item in listed {
        let status = runtime
            .pod_sandbox_status(PodSandboxStatusRequest { pod_sandbox_id: item.id.clone(), verbose: false })
            .await
            .map_err(Error::cri("PodSandboxStatus"))?
            .into_inner()
            .status
            .unwrap_or_default();
        let ip = status.network.map(|n| n.ip).filter(|ip| !ip.is_empty());
        sandboxes.push(Sandbox {
            id: item.id,
            attempt: item.metadata.map(|m| m.attempt).unwrap_or(0),
            ready: item.state == SANDBOX_READY,
            ip,
            created_at: item.created_at,
        });
    }
    sandboxes.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    let listed = runtime
        .list_containers(ListContainersRequest {
            filter: Some(ContainerFilter { label_selector: labels, ..Default::default() }),
        })
        .await
        .map_err(Error::cri("ListContainers"))?
        .into_inner()
        .containers;
    let mut containers = Vec::new();
    for item in listed {
        let Some(status) = runtime
            .container_status(ContainerStatusRequest { container_id: item.id.clone(), verbose: false })
            .await
            .map_err(Error::cri("ContainerStatus"))?
            .into_inner()
            .status
        else {
            continue;
        };
        let name = item
            .labels
            .get(CONTAINER_NAME_LABEL)
            .cloned()
            .or(item.metadata.as_ref().map(|m| m.name.clone()))
            .unwrap_or_default();
        containers.push(ContainerInstance {
            id: item.id,
            sandbox_id: item.pod_sandbox_id,
            name,
            attempt: item.metadata.map(|m| m.attempt).unwrap_or(0),
            state: status.state,
            created_at: status.created_at,
            started_at: status.started_at,
            finished_at: status.finished_at,
            exit_code: status.exit_code,
            reason: status.reason,
            message: status.message,
            image: status.image.map(|i| i.image).unwrap_or_default(),
            image_ref: status.image_ref,
        });
    }
    Ok(RuntimePod { sandboxes, containers })
}
