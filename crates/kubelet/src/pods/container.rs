//! A container as CRI describes it: image, command, environment, mounts (volumes, the
//! pod's `/etc/hosts`, the termination log), resources turned into cgroup settings by QoS
//! class, and its security context.

use super::fields::{cpu_millis, quantity_bytes};
use super::qos::{QosClass, qos_class};
use super::sandbox::{CONTAINER_NAME_LABEL, namespace_options, pod_labels};
use k8s_cri::v1::{
    Capability, ContainerConfig, ContainerMetadata, ImageSpec, Int64Value, KeyValue, LinuxContainerConfig,
    LinuxContainerResources, LinuxContainerSecurityContext, Mount,
};
use k8s_openapi::api::core::v1::{Container, Pod};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The paths the runtime hides or makes read-only in unprivileged containers (upstream's
/// defaults, which the kubelet sends with every container).
const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY_PATHS: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// CFS period in microseconds.
const CPU_PERIOD: i64 = 100_000;
/// The least cpu.shares a container gets (a BestEffort one).
const MIN_SHARES: i64 = 2;

/// Where a container's files on the node are.
pub struct ContainerFiles<'a> {
    /// Each volume's host path by name, and whether it is always read-only (configMap,
    /// secret, projected, downward API).
    pub volumes: &'a HashMap<String, (PathBuf, bool)>,
    /// The pod's managed `/etc/hosts`, unless the pod uses the node's network.
    pub etc_hosts: Option<&'a Path>,
    /// The file behind `terminationMessagePath`.
    pub termination_log: &'a Path,
}

/// The CRI configuration of `container`, restart `attempt`.
pub fn container_config(
    pod: &Pod,
    container: &Container,
    attempt: u32,
    env: Vec<(String, String)>,
    files: &ContainerFiles<'_>,
    node_memory: u64,
) -> Result<ContainerConfig, String> {
    let mut labels = pod_labels(pod);
    labels.insert(CONTAINER_NAME_LABEL.to_owned(), container.name.clone());
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let (path, always_readonly) = files.volumes.get(&mount.name).ok_or_else(|| {
            format!("cannot find volume {:?} to mount into container {:?}", mount.name, container.name)
        })?;
        let mut host_path = path.clone();
        if let Some(sub) = mount.sub_path.as_deref().filter(|s| !s.is_empty()) {
            if sub.split('/').any(|part| part == "..") || sub.starts_with('/') {
                return Err(format!("invalid subPath {sub:?}"));
            }
            host_path = path.join(sub);
            if !host_path.exists() {
                std::fs::create_dir_all(&host_path).map_err(|e| format!("creating subPath {sub:?}: {e}"))?;
            }
        }
        mounts.push(Mount {
            container_path: mount.mount_path.clone(),
            host_path: host_path.to_string_lossy().into_owned(),
            readonly: mount.read_only == Some(true) || *always_readonly,
            ..Default::default()
        });
    }
    let mounted = |mounts: &[Mount], path: &str| mounts.iter().any(|m| m.container_path == path);
    if let Some(hosts) = files.etc_hosts
        && !mounted(&mounts, "/etc/hosts")
    {
        mounts.push(Mount {
            container_path: "/etc/hosts".into(),
            host_path: hosts.to_string_lossy().into_owned(),
            ..Default::default()
        });
    }
    let termination_path = container.termination_message_path.clone().unwrap_or_else(|| "/dev/termination-log".into());
    if !mounted(&mounts, &termination_path) {
        mounts.push(Mount {
            container_path: termination_path,
            host_path: files.termination_log.to_string_lossy().into_owned(),
            ..Default::default()
        });
    }
    Ok(ContainerConfig {
        metadata: Some(ContainerMetadata { name: container.name.clone(), attempt }),
        image: Some(ImageSpec { image: container.image.clone().unwrap_or_default(), ..Default::default() }),
        command: container.command.clone().unwrap_or_default(),
        args: container.args.clone().unwrap_or_default(),
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: env.into_iter().map(|(key, value)| KeyValue { key, value }).collect(),
        mounts,
        labels,
        annotations: HashMap::from([("io.kubernetes.container.restartCount".to_owned(), attempt.to_string())]),
        log_path: format!("{}/{attempt}.log", container.name),
        stdin: container.stdin == Some(true),
        stdin_once: container.stdin_once == Some(true),
        tty: container.tty == Some(true),
        linux: Some(LinuxContainerConfig {
            resources: Some(resources(pod, container, node_memory)),
            security_context: Some(security_context(pod, container)),
        }),
        ..Default::default()
    })
}

/// cgroup settings from the container's requests and limits, and its OOM score by QoS class.
fn resources(pod: &Pod, container: &Container, node_memory: u64) -> LinuxContainerResources {
    let spec = container.resources.clone().unwrap_or_default();
    let requests = spec.requests.unwrap_or_default();
    let limits = spec.limits.unwrap_or_default();
    let request_millis = requests.get("cpu").or(limits.get("cpu")).map(cpu_millis).unwrap_or(0) as i64;
    let mut resources =
        LinuxContainerResources { cpu_shares: (request_millis * 1024 / 1000).max(MIN_SHARES), ..Default::default() };
    if let Some(limit) = limits.get("cpu") {
        resources.cpu_period = CPU_PERIOD;
        resources.cpu_quota = (cpu_millis(limit) as i64 * CPU_PERIOD / 1000).max(1000);
    }
    if let Some(limit) = limits.get("memory") {
        resources.memory_limit_in_bytes = quantity_bytes(&limit.0) as i64;
    }
    let memory_request = requests.get("memory").or(limits.get("memory")).map(|q| quantity_bytes(&q.0)).unwrap_or(0);
    resources.oom_score_adj = match qos_class(pod) {
        QosClass::Guaranteed => -997,
        QosClass::BestEffort => 1000,
        QosClass::Burstable => {
            let share = (1000 * memory_request).checked_div(node_memory).unwrap_or(0);
            (1000 - share as i64).clamp(2, 999)
        }
    };
    resources
}

fn security_context(pod: &Pod, container: &Container) -> LinuxContainerSecurityContext {
    let pod_context = pod.spec.as_ref().and_then(|s| s.security_context.clone()).unwrap_or_default();
    let context = container.security_context.clone().unwrap_or_default();
    let privileged = context.privileged == Some(true);
    let capabilities = context.capabilities.clone().unwrap_or_default();
    let run_as_user = context.run_as_user.or(pod_context.run_as_user);
    let run_as_group = context.run_as_group.or(pod_context.run_as_group);
    LinuxContainerSecurityContext {
        capabilities: Some(Capability {
            add_capabilities: capabilities.add.unwrap_or_default(),
            drop_capabilities: capabilities.drop.unwrap_or_default(),
            ..Default::default()
        }),
        privileged,
        namespace_options: Some(namespace_options(pod)),
        run_as_user: run_as_user.map(|value| Int64Value { value }),
        run_as_group: run_as_group.map(|value| Int64Value { value }),
        readonly_rootfs: context.read_only_root_filesystem == Some(true),
        supplemental_groups: pod_context.supplemental_groups.unwrap_or_default(),
        no_new_privs: context.allow_privilege_escalation == Some(false),
        masked_paths: if privileged { Vec::new() } else { MASKED_PATHS.map(str::to_owned).to_vec() },
        readonly_paths: if privileged { Vec::new() } else { READONLY_PATHS.map(str::to_owned).to_vec() },
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_become_cgroup_settings_and_mounts_follow_volumes() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
                "volumeMounts": [{"name": "conf", "mountPath": "/etc/conf"}, {"name": "data", "mountPath": "/data", "subPath": "x"}]}]},
        }))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let volumes = HashMap::from([
            ("conf".to_owned(), (dir.path().join("conf"), true)),
            ("data".to_owned(), (dir.path().join("data"), false)),
        ]);
        let files = ContainerFiles {
            volumes: &volumes,
            etc_hosts: Some(Path::new("/hosts")),
            termination_log: Path::new("/tl"),
        };
        let container = &pod.spec.as_ref().unwrap().containers[0];
        let config = container_config(&pod, container, 2, vec![("A".into(), "1".into())], &files, 1 << 30).unwrap();
        let linux = config.linux.unwrap();
        let resources = linux.resources.unwrap();
        assert_eq!(resources.cpu_shares, 256);
        assert_eq!(resources.cpu_quota, 50_000);
        assert_eq!(resources.memory_limit_in_bytes, 128 << 20);
        assert!((2..=999).contains(&resources.oom_score_adj));
        assert_eq!(config.log_path, "c/2.log");
        let paths: Vec<(&str, bool)> = config.mounts.iter().map(|m| (m.container_path.as_str(), m.readonly)).collect();
        assert_eq!(
            paths,
            [("/etc/conf", true), ("/data", false), ("/etc/hosts", false), ("/dev/termination-log", false)]
        );
        assert!(dir.path().join("data/x").is_dir());
        assert_eq!(config.labels[CONTAINER_NAME_LABEL], "c");
    }
}
