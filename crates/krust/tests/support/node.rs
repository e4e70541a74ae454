//! A cluster whose `krust server` runs a real node (containerd, runc, CNI) inside network
//! namespaces the test makes, so no pod or Service range ever touches the machine's own
//! network: the node's namespace holds `lo` and `eth0` (172.30.0.2/24), a veth whose other
//! end is `eth0` of a "client" namespace (172.30.0.3/24), each the other's default route.
//! The server runs under `nsenter --net` (not `ip netns exec`, whose fresh /sys would hide
//! the cgroup mounts runc needs); kubectl and curl run in the node's namespace.
//! Dropping it removes the pod sandboxes, stops the server and everything left in the
//! namespaces (by PID), deletes the namespaces and unmounts what is left under the data dir.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The node's address in its namespace.
pub const NODE_IP: &str = "172.30.0.2";
/// The address of the client namespace (the "outside world").
pub const CLIENT_IP: &str = "172.30.0.3";
/// The name of the busybox image every node test imports.
pub const BUSYBOX: &str = "docker.io/library/busybox:1.36";

/// The two namespaces of one node.
pub struct Netns {
    pub node: String,
    pub client: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Netns {
    /// Make a fresh pair, named after this process and a counter.
    pub fn create() -> Netns {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!("{}x{}", std::process::id() % 100_000, NEXT.fetch_add(1, Ordering::SeqCst));
        let (node, client) = (format!("krn{id}"), format!("krc{id}"));
        let (veth_node, veth_client) = (format!("kvn{id}"), format!("kvc{id}"));
        ip(&["netns", "add", &node]);
        ip(&["netns", "add", &client]);
        let netns = Netns { node, client };
        ip(&["link", "add", &veth_node, "type", "veth", "peer", "name", &veth_client]);
        ip(&["link", "set", &veth_node, "netns", &netns.node]);
        ip(&["link", "set", &veth_client, "netns", &netns.client]);
        for (ns, veth, address, peer) in
            [(&netns.node, &veth_node, NODE_IP, CLIENT_IP), (&netns.client, &veth_client, CLIENT_IP, NODE_IP)]
        {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", veth, "name", "eth0"]);
            ip(&["-n", ns, "addr", "add", &format!("{address}/24"), "dev", "eth0"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
            ip(&["-n", ns, "route", "add", "default", "via", peer]);
        }
        netns
    }

    /// SIGKILL every process left in either namespace, then delete both.
    pub fn delete(&self) {
        for ns in [&self.node, &self.client] {
            let pids = Command::new("ip").args(["netns", "pids", ns]).output().map(|o| o.stdout).unwrap_or_default();
            for pid in String::from_utf8_lossy(&pids).split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        for ns in [&self.node, &self.client] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Whether this machine can run a real node: root, containerd, runc, the CNI plugins and
/// busybox. Without them a node test is skipped, except under CI, where it fails.
pub fn available() -> bool {
    let missing: Vec<&str> = [
        ("root", nix::unistd::geteuid().is_root()),
        ("containerd", Path::new("/usr/bin/containerd").exists()),
        ("runc", Path::new("/usr/sbin/runc").exists() || Path::new("/usr/bin/runc").exists()),
        ("containernetworking-plugins", Path::new("/usr/lib/cni/bridge").exists()),
        ("busybox-static", Path::new(kubelet::images::busybox::BUSYBOX).exists()),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(what, _)| what)
    .collect();
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

/// Unmount whatever is still mounted under `dir` (deepest first).
pub fn unmount_under(dir: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<&str> =
        mountinfo.lines().filter_map(|l| l.split_whitespace().nth(4)).filter(|p| p.starts_with(&prefix)).collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
    }
}
