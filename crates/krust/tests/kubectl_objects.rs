//! Creating, reading, changing and deleting objects with the real kubectl (issue 2's
//! list), on core kinds.

mod support;

use std::io::Write;
use support::{Cluster, eventually};

#[test]
fn create_commands_send_protobuf_and_objects_come_back() {
    let c = Cluster::start();
    assert_eq!(c.ok(&["create", "namespace", "demo"]).trim(), "namespace/demo created");
    let conf = c.dir.path().join("default.conf");
    std::fs::write(&conf, "server { listen 80; }\n").unwrap();
    c.ok(&["create", "configmap", "nginxconfigmap", "-n", "demo", "--from-file", conf.to_str().unwrap()]);
    assert_eq!(
        c.ok(&["get", "configmap", "nginxconfigmap", "-n", "demo", "-o", "jsonpath={.data.default\\.conf}"]),
        "server { listen 80; }\n"
    );
    c.ok(&["create", "secret", "generic", "s1", "-n", "demo", "--from-literal=user=admin"]);
    assert_eq!(c.ok(&["get", "secret", "s1", "-n", "demo", "-o", "jsonpath={.data.user}"]), "YWRtaW4=");
    let (cert, key) = (c.pki("admin.crt"), c.pki("admin.key"));
    c.ok(&[
        "create",
        "secret",
        "tls",
        "nginxsecret",
        "-n",
        "demo",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let table = c.ok(&["get", "secrets", "-n", "demo"]);
    assert!(
        table.lines().any(|l| l.starts_with("nginxsecret") && l.contains("kubernetes.io/tls") && l.contains(" 2 ")),
        "{table}"
    );
    c.ok(&["create", "service", "clusterip", "web", "-n", "demo", "--tcp=80:8080"]);
    let svc = c.ok(&["get", "svc", "web", "-n", "demo"]);
    let row: Vec<&str> = svc.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((row[0], row[1], row[3], row[4]), ("web", "ClusterIP", "<none>", "80/TCP"), "{svc}");
    assert!(row[2].starts_with("10.0."), "{svc}");
    // Workload generators send protobuf too.
    c.ok(&["create", "deployment", "web", "-n", "demo", "--image=nginx", "--replicas=2", "--port=80"]);
    let d = c.ok(&[
        "get",
        "deploy",
        "web",
        "-n",
        "demo",
        "-o",
        "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort}",
    ]);
    assert_eq!(d, "2 80");
    c.ok(&["create", "job", "once", "-n", "demo", "--image=busybox", "--", "echo", "hi"]);
    let job = c.ok(&["get", "job", "once", "-n", "demo", "-o", "jsonpath={.spec.template.spec.containers[0].command}"]);
    assert_eq!(job, r#"["echo","hi"]"#);
    c.ok(&["create", "cronjob", "tick", "-n", "demo", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"]);
    assert_eq!(c.ok(&["get", "cronjob", "tick", "-n", "demo", "-o", "jsonpath={.spec.schedule}"]), "*/5 * * * *");
}

#[test]
fn get_output_forms_and_selectors() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "a", "--from-literal=k=v"]);
    c.ok(&["create", "configmap", "b", "--from-literal=k=v", "--from-literal=k2=v"]);
    c.ok(&["label", "configmap", "a", "tier=web"]);
    c.ok(&["annotate", "configmap", "a", "note=first"]);

    let table = c.ok(&["get", "configmaps"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.lines().any(|l| l.split_whitespace().take(2).eq(["b", "2"])), "{table}");
    assert!(c.ok(&["get", "cm", "-o", "wide"]).contains("DATA"));
    let yaml = c.ok(&["get", "cm", "a", "-o", "yaml"]);
    assert!(yaml.contains("kind: ConfigMap") && yaml.contains("tier: web") && yaml.contains("note: first"), "{yaml}");
    let json: serde_json::Value = serde_json::from_str(&c.ok(&["get", "cm", "a", "-o", "json"])).unwrap();
    assert_eq!(json["metadata"]["labels"]["tier"], "web");
    assert_eq!(c.ok(&["get", "cm", "-l", "tier=web", "-o", "name"]).trim(), "configmap/a");
    assert_eq!(c.ok(&["get", "cm", "--field-selector", "metadata.name=b", "-o", "name"]).trim(), "configmap/b");
    let cols = c.ok(&["get", "cm", "a", "-o", "custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier"]);
    assert_eq!(cols.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>(), ["a", "web"]);
    let all = c.ok(&["get", "cm", "-A"]);
    assert!(all.starts_with("NAMESPACE") && all.contains("default "), "{all}");
    assert!(c.ok(&["get", "cm", "a", "--show-labels"]).contains("tier=web"));
    let err = c.fails(&["get", "cm", "--field-selector", "spec.bogus=1"]);
    assert!(err.contains("field label not supported: spec.bogus"), "{err}");
}

#[test]
fn patch_types_label_annotate_and_edit() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "p", "--from-literal=a=1"]);
    c.ok(&["patch", "configmap", "p", "-p", r#"{"data":{"b":"2"}}"#]);
    c.ok(&["patch", "configmap", "p", "--type=merge", "-p", r#"{"data":{"c":"3"}}"#]);
    c.ok(&["patch", "configmap", "p", "--type=json", "-p", r#"[{"op":"remove","path":"/data/a"}]"#]);
    assert_eq!(c.ok(&["get", "cm", "p", "-o", "jsonpath={.data}"]), r#"{"b":"2","c":"3"}"#);

    let editor = c.dir.path().join("editor.sh");
    let mut f = std::fs::File::create(&editor).unwrap();
    writeln!(f, "#!/bin/sh\nsed -i 's/^  b: \"2\"$/  b: \"edited\"/' \"$1\"").unwrap();
    drop(f);
    std::process::Command::new("chmod").arg("+x").arg(&editor).status().unwrap();
    let mut cmd = c.kubectl_cmd();
    let out = cmd.args(["edit", "configmap", "p"]).env("KUBE_EDITOR", &editor).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(c.ok(&["get", "cm", "p", "-o", "jsonpath={.data.b}"]), "edited");
}

#[test]
fn watch_sees_a_later_change() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "w", "--from-literal=a=1"]);
    let mut cmd = c.kubectl_cmd();
    let child = cmd
        .args(["get", "configmaps", "-w", "--request-timeout=8s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    c.ok(&["patch", "configmap", "w", "-p", r#"{"data":{"b":"2"}}"#]);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.iter().any(|r| r.first() == Some(&"w") && r.get(1) == Some(&"1")), "{text}");
    assert!(rows.iter().any(|r| r.first() == Some(&"w") && r.get(1) == Some(&"2")), "watch missed the change:\n{text}");
}

#[test]
fn delete_waits_for_finalizers() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "f", "--from-literal=a=1"]);
    c.ok(&["patch", "configmap", "f", "-p", r#"{"metadata":{"finalizers":["example.com/hold"]}}"#]);
    let out = c.ok(&["delete", "configmap", "f", "--wait=false"]);
    assert_eq!(out.trim(), "configmap \"f\" deleted");
    assert!(!c.ok(&["get", "cm", "f", "-o", "jsonpath={.metadata.deletionTimestamp}"]).is_empty());
    // `delete --wait` blocks until the finalizer goes.
    let mut cmd = c.kubectl_cmd();
    let waiter =
        cmd.args(["delete", "configmap", "f", "--timeout=20s"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    c.ok(&["patch", "configmap", "f", "--type=json", "-p", r#"[{"op":"remove","path":"/metadata/finalizers"}]"#]);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    eventually(5, || c.kubectl(&["get", "cm", "f"]).stderr.contains("NotFound").then_some(()));
}

#[test]
fn errors_are_upstreams() {
    let c = Cluster::start();
    let err = c.fails(&["create", "configmap", "Bad_Name", "--from-literal=a=b"]);
    assert!(err.contains(r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#), "{err}");
    let err = c.fails(&["create", "configmap", "x", "-n", "nope", "--from-literal=a=b"]);
    assert!(err.contains(r#"namespaces "nope" not found"#), "{err}");
    let strict = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\ndata:\n  a: b\nbogus: 1\n";
    let run = c.kubectl_stdin(&["apply", "-f", "-"], Some(strict));
    assert!(!run.success);
    assert!(run.stderr.contains(r#"strict decoding error: unknown field "bogus""#), "{}", run.stderr);
    // A stale update: replace with an old resourceVersion.
    c.ok(&["create", "configmap", "stale", "--from-literal=a=1"]);
    let old = c.ok(&["get", "cm", "stale", "-o", "json"]);
    c.ok(&["patch", "configmap", "stale", "-p", r#"{"data":{"a":"2"}}"#]);
    let run = c.kubectl_stdin(&["replace", "-f", "-"], Some(&old));
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("the object has been modified; please apply your changes to the latest version and try again"),
        "{}",
        run.stderr
    );
    assert!(c.fails(&["get", "cm", "missing"]).contains(r#"configmaps "missing" not found"#));
}
