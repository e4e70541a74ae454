//! `krust proxy` (kubectl proxy) against a running cluster: plain HTTP in, the admin's
//! credentials added on the way out, foreign hosts refused, watches streamed, and a server
//! whose certificate the configured CA did not sign refused.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::Cluster;

/// A running `krust proxy`; dropping it kills the process by PID.
struct ProxyProcess {
    child: Child,
    port: u16,
}

impl ProxyProcess {
    fn start(kubeconfig: &Path, extra: &[&str]) -> ProxyProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_krust"))
            .args(["proxy", "--port", "0", "--kubeconfig"])
            .arg(kubeconfig)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting krust proxy");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = lines.next().expect("proxy exited before serving").expect("reading stdout");
        let addr =
            line.strip_prefix("Starting to serve on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        let port = addr.rsplit(':').next().unwrap().parse().expect("port");
        assert_ne!(port, 0, "--port 0 reports the port it picked");
        std::thread::spawn(move || for _ in lines {});
        ProxyProcess { child, port }
    }

    /// `curl` over plain HTTP with no credentials; returns (status, body).
    fn curl(&self, path: &str, extra: &[&str]) -> (u16, String) {
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}"])
            .args(extra)
            .arg(format!("http://localhost:{}{path}", self.port))
            .output()
            .expect("running curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').expect("curl prints the code last");
        (code.trim().parse().expect("HTTP code"), body.to_owned())
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn lists_without_credentials_and_refuses_foreign_hosts() {
    let cluster = Cluster::start();
    let proxy = ProxyProcess::start(&cluster.kubeconfig(), &[]);

    let (code, body) = proxy.curl("/api/v1/pods", &[]);
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("JSON list");
    assert_eq!(list["kind"], "PodList");

    let (code, body) = proxy.curl("/apis/apps/v1/deployments", &[]);
    assert_eq!(code, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("JSON list");
    assert_eq!(list["kind"], "DeploymentList");

    let (code, body) = proxy.curl("/", &[]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"/api\""), "the root lists the paths: {body}");

    let (code, body) = proxy.curl("/api/v1/pods", &["-H", "Host: evil.example"]);
    assert_eq!((code, body.as_str()), (403, "Forbidden\n"));

    let (code, body) = proxy.curl("/api/v1/namespaces/default/pods/p/exec?command=sh", &["-X", "POST"]);
    assert_eq!((code, body.as_str()), (403, "Forbidden\n"), "exec is rejected by default");
}

#[test]
fn a_watch_streams_through_the_proxy() {
    let cluster = Cluster::start();
    let proxy = ProxyProcess::start(&cluster.kubeconfig(), &[]);
    let mut watch = Command::new("curl")
        .args(["-s", "-N"])
        // The cluster's own kube-root-ca.crt ConfigMap is not what this test waits for.
        .arg(format!(
            "http://127.0.0.1:{}/api/v1/namespaces/default/configmaps?watch=1&fieldSelector=metadata.name%21%3Dkube-root-ca.crt",
            proxy.port
        ))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl watch");
    let (tx, rx) = mpsc::channel();
    let stdout = watch.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The watch must be established before the create to see it as an event, so retry the
    // create under fresh names until one arrives.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut event = None;
    for attempt in 0.. {
        assert!(Instant::now() < deadline, "no watch event arrived through the proxy");
        let name = format!("through-proxy-{attempt}");
        cluster.ok(&["create", "configmap", &name, "--from-literal=k=v"]);
        if let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
            event = Some((name, line));
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let (_, line) = event.expect("event");
    let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON watch event per line");
    assert_eq!(event["type"], "ADDED", "{line}");
    assert!(event["object"]["metadata"]["name"].as_str().unwrap().starts_with("through-proxy-"), "{line}");
}

#[test]
fn a_server_not_signed_by_the_configured_ca_is_refused() {
    let cluster = Cluster::start();
    let other = tempfile::tempdir().expect("temp dir");
    let other_ca = pki::Pki::load_or_create(other.path(), &pki::ServingOptions::default()).expect("another CA");
    let read = |file: &str| std::fs::read_to_string(cluster.pki(file)).expect("cluster pki file");
    let kubeconfig = other.path().join("kubeconfig");
    pki::Kubeconfig::new(&cluster.url(""), other_ca.ca_pem(), &read("admin.crt"), &read("admin.key"), "admin")
        .write(&kubeconfig)
        .expect("writing kubeconfig");
    let proxy = ProxyProcess::start(&kubeconfig, &[]);
    let (code, body) = proxy.curl("/api/v1/pods", &[]);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("TLS handshake with 127.0.0.1:") && body.contains("invalid peer certificate"), "{body}");
}
