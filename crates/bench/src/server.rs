//! The `krust server` under test: started on a temporary data dir and a free loopback
//! port, timed to its first successful `/readyz`, measured through `/proc`, and killed by
//! PID when dropped.

use crate::client::{Client, TlsFiles};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub pid: u32,
    pub port: u16,
    pub dir: tempfile::TempDir,
    /// From spawning the process to the first `/readyz` that answered 200.
    pub ready_after: Duration,
}

impl Server {
    /// Spawn `krust server` (with `extra_args`) and wait (at most `timeout`) until it
    /// reports its port and its `/readyz` says ok.
    /// The server runs no node (`--disable-agent`).
    pub async fn start(krust: &Path, log_filter: &str, extra_args: &[&str], timeout: Duration) -> Result<Server> {
        let dir = tempfile::tempdir().context("creating a temp data dir")?;
        Self::spawn(krust, log_filter, &["--disable-agent"], extra_args, timeout, dir).await
    }

    /// Like [`Server::start`], but the server is also a real node (the caller runs in a
    /// network namespace of its own) on the data dir `dir` (prepared, e.g. with images).
    pub async fn start_node(
        krust: &Path,
        log_filter: &str,
        extra_args: &[&str],
        timeout: Duration,
        dir: tempfile::TempDir,
    ) -> Result<Server> {
        Self::spawn(krust, log_filter, &[], extra_args, timeout, dir).await
    }

    async fn spawn(
        krust: &Path,
        log_filter: &str,
        mode: &[&str],
        extra_args: &[&str],
        timeout: Duration,
        dir: tempfile::TempDir,
    ) -> Result<Server> {
        let spawned = Instant::now();
        let mut child = Command::new(krust)
            .arg("server")
            .args(mode)
            .args(["--bind-address", "127.0.0.1", "--secure-port", "0", "--data-dir"])
            .arg(dir.path())
            .args(extra_args)
            .env("RUST_LOG", log_filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", krust.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut server = Server { child, pid, port: 0, dir, ready_after: Duration::ZERO };

        // The port is only known from the server's banner; read it on a thread and keep
        // draining stdout afterwards so the server never blocks on a full pipe.
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let port = lines.by_ref().map_while(Result::ok).find_map(|line| {
                let addr = line.strip_prefix("Krust API server listening on https://")?.to_owned();
                addr.rsplit(':').next()?.parse::<u16>().ok()
            });
            let _ = port_tx.send(port);
            for _ in lines {}
        });
        let deadline = spawned + timeout;
        server.port = match tokio::time::timeout_at(deadline.into(), port_rx).await {
            Ok(Ok(Some(port))) => port,
            Ok(_) => bail!("krust exited before printing its address"),
            Err(_) => bail!("krust did not print its address within {timeout:?}"),
        };

        let client = Client::connect(server.port, &server.tls_files(), 1).await?;
        loop {
            if let Ok(resp) = client.get("/readyz").await
                && resp.status == 200
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("/readyz did not answer ok within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.ready_after = spawned.elapsed();
        Ok(server)
    }

    pub fn tls_files(&self) -> TlsFiles {
        let pki = self.dir.path().join("pki");
        TlsFiles { ca: pki.join("ca.crt"), cert: pki.join("admin.crt"), key: pki.join("admin.key") }
    }

    /// The admin kubeconfig the server wrote into its data dir.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The server's memory now, from `/proc/PID/status`.
    pub fn memory_kib(&self) -> Result<Memory> {
        memory_of(self.pid)
    }
}

/// The memory of process `pid` now, from `/proc/PID/status`.
pub fn memory_of(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .with_context(|| format!("{name} missing from /proc/{pid}/status"))
    };
    Ok(Memory { rss: field("VmRSS")?, peak: field("VmHWM")?, anon: field("RssAnon")?, file: field("RssFile")? })
}

/// Resident memory in KiB: total, peak, and its anonymous (heap, stacks) and
/// file-backed (the mapped binary) parts.
pub struct Memory {
    pub rss: u64,
    pub peak: u64,
    pub anon: u64,
    pub file: u64,
}

impl Drop for Server {
    fn drop(&mut self) {
        // `Child::kill` signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
