//! The Node authorizer end to end (issue 3): a kubelet's client certificate reads the
//! secrets of pods bound to its node, and nothing else.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Cluster, Run, eventually};

const POD: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: default
spec:
  nodeName: n1
  containers:
  - name: c
    image: nginx
    volumeMounts:
    - name: creds
      mountPath: /creds
  volumes:
  - name: creds
    secret:
      secretName: s1
"#;

/// A kubeconfig for the kubelet of `node`: a client certificate from the cluster CA
/// with CN `system:node:<node>` and O `system:nodes`.
fn kubelet_kubeconfig(c: &Cluster, node: &str) -> PathBuf {
    let ca = pki::Pki::load_or_create(&c.dir.path().join("pki"), &pki::ServingOptions::default()).expect("cluster CA");
    let (cert, key) = ca.issue_client_cert(&format!("system:node:{node}"), &["system:nodes"]).expect("kubelet cert");
    let path = c.dir.path().join(format!("kubelet-{node}.kubeconfig"));
    pki::Kubeconfig::new(&c.url(""), ca.ca_pem(), &cert, &key, &format!("system:node:{node}"))
        .write(&path)
        .expect("writing the kubelet kubeconfig");
    path
}

fn kubectl_as(c: &Cluster, kubeconfig: &Path, args: &[&str]) -> Run {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(c.dir.path().join("kubelet-cache"))
        .args(args)
        .output()
        .expect("running kubectl");
    Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_kubelet_reads_only_the_secrets_of_pods_on_its_node() {
    let c = Cluster::start();
    c.ok(&["create", "secret", "generic", "s1", "--from-literal=k=v1"]);
    c.ok(&["create", "secret", "generic", "s2", "--from-literal=k=v2"]);
    // The pod's service account is created by a controller; admission waits for it.
    eventually(20, || c.kubectl_stdin(&["apply", "-f", "-"], Some(POD)).success.then_some(()));
    let n1 = kubelet_kubeconfig(&c, "n1");

    // The graph follows the store through a watch: the pod shows up shortly.
    let got = eventually(10, || {
        let run = kubectl_as(&c, &n1, &["get", "secret", "s1", "-o", "jsonpath={.data.k}"]);
        run.success.then_some(run.stdout)
    });
    assert_eq!(got, "djE=");

    let refused = kubectl_as(&c, &n1, &["get", "secret", "s2"]);
    assert!(!refused.success, "{}", refused.stdout);
    assert_eq!(
        refused.stderr.trim(),
        "Error from server (Forbidden): secrets \"s2\" is forbidden: User \"system:node:n1\" cannot get resource \
         \"secrets\" in API group \"\" in the namespace \"default\": no relationship found between node 'n1' and this \
         object"
    );

    // Another kubelet is refused the pod's secret; its own Node it may read.
    let n2 = kubelet_kubeconfig(&c, "n2");
    let other = kubectl_as(&c, &n2, &["get", "secret", "s1"]);
    assert!(other.stderr.contains("no relationship found between node 'n2' and this object"), "{}", other.stderr);
    let node = kubectl_as(&c, &n2, &["get", "node", "n1"]);
    assert!(node.stderr.contains("node 'n2' cannot read 'n1', only its own Node object"), "{}", node.stderr);

    // The relationship ends with the pod.
    c.ok(&["delete", "pod", "web", "--grace-period=0", "--force"]);
    eventually(10, || (!kubectl_as(&c, &n1, &["get", "secret", "s1"]).success).then_some(()));
}
