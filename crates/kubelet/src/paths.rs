//! Where the node agent keeps its files under the data dir. Everything a node writes lives
//! under `<data-dir>/agent`, so a test's node never touches the machine's own containerd,
//! CNI state or logs.

use std::path::{Path, PathBuf};

/// The agent's directory layout.
#[derive(Clone, Debug)]
pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    /// The layout under `data_dir`.
    pub fn new(data_dir: &Path) -> Paths {
        Paths { root: data_dir.join("agent") }
    }

    /// containerd's own directory: its config, root, state, socket and log.
    pub fn containerd(&self) -> PathBuf {
        self.root.join("containerd")
    }

    pub fn containerd_config(&self) -> PathBuf {
        self.containerd().join("config.toml")
    }

    pub fn containerd_socket(&self) -> PathBuf {
        self.containerd().join("containerd.sock")
    }

    pub fn containerd_log(&self) -> PathBuf {
        self.containerd().join("containerd.log")
    }

    pub fn containerd_pid(&self) -> PathBuf {
        self.containerd().join("containerd.pid")
    }

    /// The CNI configuration directory containerd reads.
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.root.join("cni/net.d")
    }

    /// host-local IPAM's allocations.
    pub fn cni_ipam_dir(&self) -> PathBuf {
        self.root.join("cni/networks")
    }

    /// local-path volumes (the provisioner's directories on this node).
    pub fn storage(&self) -> PathBuf {
        self.root.join("storage")
    }

    /// Pod volumes: `pods/<uid>/volumes/<plugin>/<name>`, as upstream's kubelet root.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root.join("pods").join(uid)
    }

    pub fn pods_dir(&self) -> PathBuf {
        self.root.join("pods")
    }

    /// Container logs in upstream's layout: `logs/pods/<ns>_<name>_<uid>/<container>/<n>.log`.
    pub fn pod_logs(&self, namespace: &str, name: &str, uid: &str) -> PathBuf {
        self.root.join("logs/pods").join(format!("{namespace}_{name}_{uid}"))
    }

    pub fn pod_logs_root(&self) -> PathBuf {
        self.root.join("logs/pods")
    }

    /// Image archives imported at start (k3s's air-gap convention), beside the agent dir.
    pub fn images_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("images")
    }
}
