//! A cluster whose `krust server` runs a real node (containerd, runc, CNI) inside network
//! namespaces the test makes, so no pod or Service range ever touches the machine's own
//! network: the node's namespace holds `lo` and `eth0` (172.30.0.2/24), a veth whose other
//! end is `eth0` of a "client" namespace (172.30.0.3/24), each the other's default route.
//! The server runs under `nsenter --net` (not `ip netns exec`, whose fresh /sys would hide
//! the cgroup mounts runc needs); kubectl and curl run in the node's namespace.
//! Dropping it removes the pod sandboxes, stops the server and everything left in the
//! namespaces (by PID), deletes the namespaces and unmounts what is left under the data dir.

use std::path::Path;

pub use testnet::{NODE_IP, Netns, unmount_under};

/// The name of the busybox image every node test imports.
pub const BUSYBOX: &str = "docker.io/library/busybox:1.36";

/// Whether this machine can run a real node: root, containerd, runc, the CNI plugins and
/// busybox. Without them a node test is skipped, except under CI, where it fails.
pub fn available() -> bool {
    let mut missing = testnet::missing_for_a_node();
    if !Path::new(kubelet::images::busybox::BUSYBOX).exists() {
        missing.push("busybox-static");
    }
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "node tests need {missing:?} (CI installs them)");
    eprintln!("skipping a node test: missing {missing:?}");
    false
}

/// Write the busybox image archive into `data_dir/images/`, which the node imports at start.
pub fn stage_busybox(data_dir: &Path) {
    let images = data_dir.join("images");
    std::fs::create_dir_all(&images).expect("images dir");
    let image =
        kubelet::images::busybox::image(BUSYBOX, Path::new(kubelet::images::busybox::BUSYBOX)).expect("busybox image");
    std::fs::write(images.join("busybox.tar"), image.archive().expect("archive")).expect("writing the image");
}

/// Stop and remove every pod sandbox of the node's containerd (so no container, pod
/// network namespace or mount outlives the test), waiting up to `wait` for the node agent
/// to have removed them itself first (the caller deleted the pods).
pub fn remove_sandboxes(data_dir: &Path, wait: std::time::Duration) {
    let socket = kubelet::paths::Paths::new(data_dir).containerd_socket();
    if !socket.exists() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let Ok(cri) = kubelet::cri::Cri::connect(&socket).await else { return };
        let mut client = cri.runtime();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(listed) = client.list_pod_sandbox(k8s_cri::v1::ListPodSandboxRequest { filter: None }).await else {
                return;
            };
            let sandboxes = listed.into_inner().items;
            if sandboxes.is_empty() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                for sandbox in sandboxes {
                    let id = sandbox.id;
                    let _ = client
                        .stop_pod_sandbox(k8s_cri::v1::StopPodSandboxRequest { pod_sandbox_id: id.clone() })
                        .await;
                    let _ =
                        client.remove_pod_sandbox(k8s_cri::v1::RemovePodSandboxRequest { pod_sandbox_id: id }).await;
                }
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
}
