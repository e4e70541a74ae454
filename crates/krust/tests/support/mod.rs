//! A `krust server` on a temporary data dir and a free loopback port, and the real
//! `kubectl` pointed at it. Dropping the cluster stops the server (by PID).

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod etcd;
pub mod node;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Cluster {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// Extra `krust server` flags, kept for restarts.
    args: Vec<String>,
    /// The namespaces of a cluster with a real node (see [`node`]); kubectl runs in them.
    pub netns: Option<node::Netns>,
}

impl Cluster {
    /// Start a server and wait until it is ready.
    pub fn start() -> Cluster {
        Self::start_with(&[])
    }

    /// Start a server with extra `krust server` flags (`{dir}` stands for the data dir).
    /// With `KRUST_E2E_ETCD=<endpoint>` in the environment, the server keeps its state in
    /// that etcd (under a prefix of its own) instead of the embedded store, so the whole
    /// suite can be run against the etcd backend.
    pub fn start_with(args: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut args: Vec<String> =
            args.iter().map(|a| a.replace("{dir}", &dir.path().display().to_string())).collect();
        if let Ok(endpoint) = std::env::var("KRUST_E2E_ETCD")
            && !args.iter().any(|a| a.starts_with("--etcd-servers"))
        {
            let prefix = format!("/{}", dir.path().file_name().unwrap().to_string_lossy());
            args.extend(["--etcd-servers".to_owned(), endpoint, "--etcd-prefix".to_owned(), prefix]);
        }
        let (port, child) = Self::spawn_on(dir.path(), 0, &args, None);
        Cluster { child: Some(child), dir, port, args, netns: None }
    }

    /// Start a server that is also a real node (containerd in network namespaces of the
    /// test's own, see [`node`]), with the busybox image imported; `None` (the test is
    /// skipped) where the machine cannot run one.
    pub fn start_node(args: &[&str]) -> Option<Cluster> {
        if !node::available() {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        node::stage_busybox(dir.path());
        let netns = node::Netns::create().expect("creating the node's network namespaces");
        let mut args: Vec<String> =
            args.iter().map(|a| a.replace("{dir}", &dir.path().display().to_string())).collect();
        args.extend([
            "--node-ip".to_owned(),
            node::NODE_IP.to_owned(),
            "--node-name".to_owned(),
            "krust-node".to_owned(),
        ]);
        let (port, child) = Self::spawn_on(dir.path(), 0, &args, Some(&netns.node));
        let cluster = Cluster { child: Some(child), dir, port, args, netns: Some(netns) };
        cluster.wait_for_ready_node();
        Some(cluster)
    }

    /// Wait until the node reports Ready.
    pub fn wait_for_ready_node(&self) {
        eventually(60, || {
            let ready = self.kubectl(&[
                "get",
                "node",
                "krust-node",
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#,
            ]);
            (ready.stdout == "True").then_some(())
        });
    }

    /// A command run in the node's network namespace (or here, without one).
    pub fn in_node(&self, program: &str) -> Command {
        match &self.netns {
            Some(netns) => netns.exec(program),
            None => Command::new(program),
        }
    }

    /// Start a second server beside `other`, with its certificates and keys (one cluster CA,
    /// one service account issuer) and extra flags, e.g. the same `--etcd-servers`.
    pub fn start_beside(other: &Cluster, args: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = dir.path().join("pki");
        std::fs::create_dir_all(&pki).expect("pki dir");
        for file in std::fs::read_dir(other.dir.path().join("pki")).expect("the other server's pki") {
            let file = file.expect("pki entry");
            std::fs::copy(file.path(), pki.join(file.file_name())).expect("copying the pki");
        }
        let args: Vec<String> = args.iter().map(|a| a.replace("{dir}", &dir.path().display().to_string())).collect();
        let (port, child) = Self::spawn_on(dir.path(), 0, &args, None);
        Cluster { child: Some(child), dir, port, args, netns: None }
    }

    /// Kill the server with SIGKILL, leaving it down.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL the server");
            c.wait().expect("reap the server");
        }
    }

    /// Start (or restart) a server on `data_dir`; returns the port and the child. Without
    /// `netns` it runs no node agent; with one it runs inside that network namespace.
    fn spawn_on(data_dir: &Path, port: u16, args: &[String], netns: Option<&str>) -> (u16, Child) {
        let mut command = match netns {
            Some(ns) => {
                let mut command = Command::new("nsenter");
                command.arg(format!("--net=/var/run/netns/{ns}")).arg(env!("CARGO_BIN_EXE_krust"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_krust")),
        };
        command.arg("server");
        if netns.is_none() {
            command.arg("--disable-agent");
        }
        let mut child = command
            .args(["--bind-address", "127.0.0.1", "--secure-port", &port.to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting krust server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            assert!(Instant::now() < deadline, "server did not report its address in time");
            let line = lines.next().expect("server exited before it was ready").expect("reading stdout");
            if let Some(addr) = line.strip_prefix("Krust API server listening on https://") {
                break addr.rsplit(':').next().unwrap().parse().expect("port");
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        (port, child)
    }

    /// Stop the server with SIGTERM (as a person stops it: the node agent stops containerd,
    /// containers keep running) and start it again on the same data, port and namespace,
    /// with `extra` flags this once.
    pub fn stop_and_restart(&mut self, extra: &[&str]) {
        if let Some(mut c) = self.child.take() {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let mut args = self.args.clone();
        args.extend(extra.iter().map(|a| a.to_string()));
        let netns = self.netns.as_ref().map(|n| n.node.as_str());
        let (port, child) = Self::spawn_on(self.dir.path(), self.port, &args, netns);
        assert_eq!(port, self.port);
        self.child = Some(child);
    }

    /// Kill the server with SIGKILL and start it again on the same data and port.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        let netns = self.netns.as_ref().map(|n| n.node.as_str());
        let (port, child) = Self::spawn_on(self.dir.path(), self.port, &self.args, netns);
        assert_eq!(port, self.port);
        self.child = Some(child);
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn pki(&self, file: &str) -> PathBuf {
        self.dir.path().join("pki").join(file)
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// A `kubectl` command against this cluster, with its own cache dir.
    /// A field of the Lease `kube-system/<name>`, by a kubectl jsonpath (`{.spec.holderIdentity}`).
    pub fn lease(&self, name: &str, jsonpath: &str) -> String {
        self.ok(&["get", "lease", "-n", "kube-system", name, "-o", &format!("jsonpath={jsonpath}")])
    }

    /// Who holds the Lease `kube-system/<name>` ("" if nobody).
    pub fn lease_holder(&self, name: &str) -> String {
        self.lease(name, "{.spec.holderIdentity}")
    }

    pub fn kubectl_cmd(&self) -> Command {
        let mut cmd = self.in_node("kubectl");
        cmd.arg("--kubeconfig").arg(self.kubeconfig()).arg("--cache-dir").arg(self.dir.path().join("kubectl-cache"));
        cmd
    }

    /// Run kubectl; returns (success, stdout, stderr).
    pub fn kubectl(&self, args: &[&str]) -> Run {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = self.kubectl_cmd();
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("running kubectl");
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(input) = stdin {
            pipe.write_all(input.as_bytes()).expect("writing kubectl stdin");
        }
        drop(pipe);
        Run::from(child.wait_with_output().expect("kubectl output"), args)
    }

    /// Run kubectl and require success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.kubectl(args);
        assert!(run.success, "kubectl {args:?} failed:\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
        run.stdout
    }

    /// Run kubectl with `stdin` and require success; returns stdout.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let run = self.kubectl_stdin(args, Some(stdin));
        assert!(run.success, "kubectl {args:?} failed:\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
        run.stdout
    }

    /// Run kubectl and require failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let run = self.kubectl(args);
        assert!(!run.success, "kubectl {args:?} should have failed:\nstdout: {}", run.stdout);
        run.stderr
    }

    /// `curl` with the given extra arguments against `path`; returns (status, body).
    pub fn curl(&self, path: &str, extra: &[&str]) -> (u16, String) {
        let out = self
            .in_node("curl")
            .args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(self.pki("ca.crt"))
            .args(extra)
            .arg(self.url(path))
            .output()
            .expect("running curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').expect("curl prints the code last");
        (code.trim().parse().expect("HTTP code"), body.to_owned())
    }

    /// `curl` as the admin (client certificate).
    pub fn curl_admin(&self, path: &str, extra: &[&str]) -> (u16, String) {
        let cert = self.pki("admin.crt");
        let key = self.pki("admin.key");
        let mut args = vec!["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.curl(path, &args)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(netns) = &self.netns {
            // Workloads first (so nothing recreates pods), then the pods at once: the node
            // agent removes their sandboxes; what is left after that is removed directly.
            let workloads = "deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs,replicationcontrollers";
            let _ = self.kubectl(&["delete", workloads, "--all", "-A", "--wait=false"]);
            let _ = self.kubectl(&["delete", "pods", "--all", "-A", "--grace-period=0", "--force", "--wait=false"]);
            node::remove_sandboxes(self.dir.path(), Duration::from_secs(20));
            if let Some(c) = &self.child {
                let pid = nix::unistd::Pid::from_raw(c.id() as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(15);
            while let Some(c) = self.child.as_mut()
                && c.try_wait().ok().flatten().is_none()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            netns.delete();
            node::unmount_under(self.dir.path());
            return;
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output, _args: &[&str]) -> Run {
        Run {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Poll `f` until it returns Some, for at most `secs` seconds.
pub fn eventually<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met within {secs}s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A manifest from ../shared/manifests (the seeds' files).
pub fn manifest(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/manifests").join(name);
    assert!(p.exists(), "missing manifest {}", p.display());
    p
}
