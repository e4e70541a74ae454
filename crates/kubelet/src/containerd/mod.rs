//! containerd, started and kept by Krust as k3s does: a private instance with a config
//! generated under the data dir ([`config`]), restarted if it dies, stopped on exit.
//! Stopping containerd leaves the containers running (their shims outlive it), so a
//! restarted Krust adopts them.

pub mod config;

use crate::cri::Cri;
use crate::error::{Error, Result};
use crate::paths::Paths;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, watch};

/// How long containerd gets to answer CRI after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long containerd gets to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest pause between restarts of a containerd that keeps dying.
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

/// The `containerd` executable on `PATH`, if installed.
pub fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|dir| dir.join("containerd")).find(|candidate| candidate.is_file())
}

/// A running containerd that Krust supervises.
pub struct Containerd {
    paths: Paths,
    stopping: watch::Sender<bool>,
    child: Arc<Mutex<Option<Child>>>,
}

impl Containerd {
    /// Start containerd for `paths` (stopping one a previous Krust left running), wait
    /// until it answers CRI, and keep it running until [`Containerd::stop`].
    pub async fn start(paths: &Paths) -> Result<Containerd> {
        let binary = find_binary().ok_or(Error::NoContainerd)?;
        let dir = paths.containerd();
        std::fs::create_dir_all(&dir).map_err(Error::io("creating", &dir))?;
        std::fs::create_dir_all(paths.cni_conf_dir()).map_err(Error::io("creating", paths.cni_conf_dir()))?;
        let config = paths.containerd_config();
        std::fs::write(&config, config::render(paths)).map_err(Error::io("writing", &config))?;
        stop_leftover(paths).await;
        let child = spawn(&binary, paths)?;
        let child = Arc::new(Mutex::new(Some(child)));
        wait_until_serving(paths, &child).await?;
        let (stopping, _) = watch::channel(false);
        let containerd = Containerd { paths: paths.clone(), stopping, child };
        containerd.supervise(binary);
        Ok(containerd)
    }

    /// Restart containerd whenever it exits, with a growing pause, until stopped.
    fn supervise(&self, binary: PathBuf) {
        let (paths, child, mut stopping) = (self.paths.clone(), self.child.clone(), self.stopping.subscribe());
        tokio::spawn(async move {
            let mut delay = Duration::from_secs(1);
            loop {
                let status = {
                    let mut guard = child.lock().await;
                    let Some(running) = guard.as_mut() else { return };
                    tokio::select! {
                        status = running.wait() => status,
                        _ = stopping.wait_for(|s| *s) => return,
                    }
                };
                if *stopping.borrow() {
                    return;
                }
                tracing::error!(?status, log = %paths.containerd_log().display(), "containerd exited; restarting it");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RESTART_DELAY);
                match spawn(&binary, &paths) {
                    Ok(restarted) => *child.lock().await = Some(restarted),
                    Err(error) => tracing::error!(%error, "restarting containerd failed"),
                }
            }
        });
    }

    /// Stop containerd (SIGTERM, then SIGKILL after a grace period); containers keep running.
    pub async fn stop(&self) {
        let _ = self.stopping.send(true);
        let mut guard = self.child.lock().await;
        if let Some(mut child) = guard.take() {
            if let Some(pid) = child.id() {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            }
            if tokio::time::timeout(STOP_TIMEOUT, child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
        let _ = std::fs::remove_file(self.paths.containerd_pid());
    }

    /// The CRI socket.
    pub fn socket(&self) -> PathBuf {
        self.paths.containerd_socket()
    }
}

fn spawn(binary: &Path, paths: &Paths) -> Result<Child> {
    let log_path = paths.containerd_log();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(Error::io("opening", &log_path))?;
    let err = log.try_clone().map_err(Error::io("opening", &log_path))?;
    let child = Command::new(binary)
        .arg("--config")
        .arg(paths.containerd_config())
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        // Its own process group: a terminal's Ctrl-C reaches Krust, which stops it in order.
        .process_group(0)
        .spawn()
        .map_err(Error::io("starting", binary))?;
    if let Some(pid) = child.id() {
        let pid_path = paths.containerd_pid();
        std::fs::write(&pid_path, pid.to_string()).map_err(Error::io("writing", &pid_path))?;
    }
    Ok(child)
}

/// Stop the containerd of a previous run on the same data dir (its pid file names a live
/// process started with our config), so two never share one root.
async fn stop_leftover(paths: &Paths) {
    let Some(pid) = std::fs::read_to_string(paths.containerd_pid()).ok().and_then(|p| p.trim().parse::<i32>().ok())
    else {
        return;
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let config = paths.containerd_config();
    if !String::from_utf8_lossy(&cmdline).contains(config.to_string_lossy().as_ref()) {
        return;
    }
    tracing::info!(pid, "stopping the containerd a previous run left");
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
    while Path::new(&format!("/proc/{pid}")).exists() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
}

async fn wait_until_serving(paths: &Paths, child: &Mutex<Option<Child>>) -> Result<()> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let socket = paths.containerd_socket();
    loop {
        if let Some(Ok(Some(status))) = child.lock().await.as_mut().map(|c| c.try_wait()) {
            return Err(Error::ContainerdStart(format!(
                "it exited ({status}); see {}",
                paths.containerd_log().display()
            )));
        }
        if socket.exists()
            && let Ok(cri) = Cri::connect(&socket).await
            && cri.version().await.is_ok()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::ContainerdStart(format!(
                "no CRI answer on {} after {START_TIMEOUT:?}; see {}",
                socket.display(),
                paths.containerd_log().display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
