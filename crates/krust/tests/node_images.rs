//! End-to-end tests of image pulls on a real node (see `support/node.rs`): a private
//! registry (Debian's `docker-registry` with htpasswd auth) on the node's loopback, an
//! image pushed to it with `skopeo` from an archive the test builds; pulls without
//! credentials fail, `imagePullSecrets` make them work, and `imagePullPolicy` decides
//! whether the registry is asked at all.

mod support;

use std::process::{Child, Stdio};
use support::node::BUSYBOX;
use support::{Cluster, eventually};

const REGISTRY: &str = "127.0.0.1:5000";
const USER: &str = "puller";
const PASSWORD: &str = "s3cret-pass";

/// The registry, in the node's namespace; killed by PID when dropped.
struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_registry(c: &Cluster) -> Registry {
    let dir = c.dir.path().join("registry");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    std::fs::write(dir.join("htpasswd"), format!("{USER}:{hash}\n")).unwrap();
    let config = format!(
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {REGISTRY}\nauth:\n  htpasswd:\n    realm: krust-test\n    path: {}\n",
        dir.join("data").display(),
        dir.join("htpasswd").display()
    );
    std::fs::write(dir.join("config.yml"), config).unwrap();
    let child = c
        .in_node("docker-registry")
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting docker-registry");
    let registry = Registry(child);
    eventually(20, || {
        let out = c
            .in_node("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{REGISTRY}/v2/")])
            .output()
            .ok()?;
        (String::from_utf8_lossy(&out.stdout) == "401").then_some(())
    });
    registry
}

/// Push the busybox image, as `reference` in the registry, from an archive.
fn push(c: &Cluster, reference: &str) {
    let archive = c.dir.path().join("push.tar");
    let image =
        kubelet::images::busybox::image(reference, std::path::Path::new(kubelet::images::busybox::BUSYBOX)).unwrap();
    std::fs::write(&archive, image.archive().unwrap()).unwrap();
    let out = c
        .in_node("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--dest-creds", &format!("{USER}:{PASSWORD}")])
        .arg(format!("oci-archive:{}", archive.display()))
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
}

fn waiting_reason(c: &Cluster, pod: &str) -> String {
    c.ok(&["get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}"])
}

#[test]
fn private_images_pull_with_image_pull_secrets_only() {
    if !support::node::available() || !std::path::Path::new("/usr/bin/docker-registry").exists() {
        assert!(std::env::var_os("CI").is_none(), "the pull tests need docker-registry and skopeo (CI installs them)");
        return;
    }
    let Some(c) = Cluster::start_node(&[]) else { return };
    let _registry = start_registry(&c);
    let image = format!("{REGISTRY}/private/busybox:1.0");
    push(&c, &image);

    // Without credentials the registry refuses: ErrImagePull, then ImagePullBackOff.
    c.ok(&["run", "anonymous", "--image", &image, "--", "sleep", "3600"]);
    eventually(60, || {
        matches!(waiting_reason(&c, "anonymous").as_str(), "ErrImagePull" | "ImagePullBackOff").then_some(())
    });
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=anonymous,reason=Failed",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(events.contains(&format!("Failed to pull image \"{image}\"")), "{events}");

    // With the pod's imagePullSecrets it pulls and runs.
    c.ok(&[
        "create",
        "secret",
        "docker-registry",
        "regcred",
        "--docker-server",
        REGISTRY,
        "--docker-username",
        USER,
        "--docker-password",
        PASSWORD,
    ]);
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: private}}\nspec:\n  imagePullSecrets: [{{name: regcred}}]\n  containers: [{{name: c, image: '{image}', imagePullPolicy: Always, command: [sleep, '3600']}}]\n"
    );
    c.ok_stdin(&["apply", "-f", "-"], &pod);
    eventually(60, || (c.ok(&["get", "pod", "private", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(()));
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=private,reason=Pulled",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(events.contains(&format!("Successfully pulled image \"{image}\"")), "{events}");
    let image_id = c.ok(&["get", "pod", "private", "-o", "jsonpath={.status.containerStatuses[0].imageID}"]);
    assert!(image_id.contains("@sha256:"), "{image_id}");

    // Never: only what is on the node. The pulled image is there now; another is not.
    let never = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: never}}\nspec:\n  containers: [{{name: c, image: '{REGISTRY}/private/other:1.0', imagePullPolicy: Never, command: [sleep, '3600']}}]\n"
    );
    c.ok_stdin(&["apply", "-f", "-"], &never);
    eventually(60, || (waiting_reason(&c, "never") == "ErrImageNeverPull").then_some(()));
    let local = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: local}}\nspec:\n  containers: [{{name: c, image: '{BUSYBOX}', imagePullPolicy: Never, command: [sleep, '3600']}}]\n"
    );
    c.ok_stdin(&["apply", "-f", "-"], &local);
    eventually(60, || (c.ok(&["get", "pod", "local", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(()));
}
