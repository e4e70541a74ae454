//! `krust sim` as a process of its own beside the server under test (as kwok runs beside
//! a cluster): simulated nodes joining through the server's admin kubeconfig, measured
//! through `/proc`, and killed by PID when dropped.

use crate::server::{Memory, memory_of};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct SimNodes {
    child: Child,
    pub pid: u32,
}

impl SimNodes {
    /// Spawn `krust sim` with `nodes` nodes against the cluster of `kubeconfig`.
    pub fn start(krust: &Path, kubeconfig: &Path, nodes: usize, log_filter: &str) -> Result<SimNodes> {
        let child = Command::new(krust)
            .args(["sim", "--nodes", &nodes.to_string(), "--kubeconfig"])
            .arg(kubeconfig)
            .env("RUST_LOG", log_filter)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} sim", krust.display()))?;
        Ok(SimNodes { pid: child.id(), child })
    }

    /// The simulator's memory now.
    pub fn memory_kib(&self) -> Result<Memory> {
        memory_of(self.pid)
    }
}

impl Drop for SimNodes {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
