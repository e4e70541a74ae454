//! Network namespaces for the tests and benchmarks that run a real node: the node's
//! namespace holds `lo` and `eth0` (172.30.0.2/24), a veth whose other end is `eth0` of a
//! "client" namespace (172.30.0.3/24), each the other's default route, so every packet a
//! node sends stays inside the pair. Programs run in the node's namespace with
//! [`Netns::enter`] (`nsenter --net`, which keeps the machine's cgroup mounts that runc
//! needs; `ip netns exec` would remount /sys and hide them) or [`Netns::exec`] (`ip netns
//! exec`, for clients like kubectl and curl). [`Netns::delete`] kills what is left in the
//! namespaces, by PID, and removes them.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The node's address in its namespace.
pub const NODE_IP: &str = "172.30.0.2";
/// The address of the client namespace (the "outside world").
pub const CLIENT_IP: &str = "172.30.0.3";

/// The two namespaces of one node.
pub struct Netns {
    pub node: String,
    pub client: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("running ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Netns {
    /// Make a fresh pair, named after this process and a counter.
    pub fn create() -> Result<Netns, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let id = format!("{}x{}", std::process::id() % 100_000, NEXT.fetch_add(1, Ordering::SeqCst));
        let netns = Netns { node: format!("krn{id}"), client: format!("krc{id}") };
        let (veth_node, veth_client) = (format!("kvn{id}"), format!("kvc{id}"));
        ip(&["netns", "add", &netns.node])?;
        ip(&["netns", "add", &netns.client])?;
        let result = (|| {
            ip(&["link", "add", &veth_node, "type", "veth", "peer", "name", &veth_client])?;
            ip(&["link", "set", &veth_node, "netns", &netns.node])?;
            ip(&["link", "set", &veth_client, "netns", &netns.client])?;
            for (ns, veth, address, peer) in
                [(&netns.node, &veth_node, NODE_IP, CLIENT_IP), (&netns.client, &veth_client, CLIENT_IP, NODE_IP)]
            {
                ip(&["-n", ns, "link", "set", "lo", "up"])?;
                ip(&["-n", ns, "link", "set", veth, "name", "eth0"])?;
                ip(&["-n", ns, "addr", "add", &format!("{address}/24"), "dev", "eth0"])?;
                ip(&["-n", ns, "link", "set", "eth0", "up"])?;
                ip(&["-n", ns, "route", "add", "default", "via", peer])?;
            }
            Ok(())
        })();
        if let Err(error) = result {
            netns.delete();
            return Err(error);
        }
        Ok(netns)
    }

    /// `program` run in the node's namespace with `nsenter --net` (for the server).
    pub fn enter(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command.arg(format!("--net=/var/run/netns/{}", self.node)).arg(program);
        command
    }

    /// `program` run in the node's namespace with `ip netns exec` (for clients).
    pub fn exec(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.node, program]);
        command
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

/// What this machine lacks to run a real node: root, containerd, runc, the CNI plugins.
pub fn missing_for_a_node() -> Vec<&'static str> {
    [
        ("root", nix::unistd::geteuid().is_root()),
        ("containerd", Path::new("/usr/bin/containerd").exists()),
        ("runc", Path::new("/usr/sbin/runc").exists() || Path::new("/usr/bin/runc").exists()),
        ("containernetworking-plugins", Path::new("/usr/lib/cni/bridge").exists()),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(what, _)| what)
    .collect()
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
