//! API semantics kubectl relies on, checked at the HTTP level with curl: pagination,
//! dry run, field validation warnings, body limits and content types, watch
//! resumption, bookmarks and expiry, HTTP/2.

mod support;

use serde_json::Value;
use support::Cluster;

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

const CM: &str = "/api/v1/namespaces/default/configmaps";

fn create_cm(c: &Cluster, name: &str) {
    let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"a":"1"}}}}"#);
    let (code, out) = c.curl_admin(CM, &["-X", "POST", "-H", "Content-Type: application/json", "--data", &body]);
    assert_eq!(code, 201, "{out}");
}

#[test]
fn pagination_returns_every_item_once() {
    let c = Cluster::start();
    for i in 0..7 {
        create_cm(&c, &format!("page-{i}"));
    }
    let mut seen = Vec::new();
    let mut cont = String::new();
    loop {
        let path = format!("{CM}?limit=3{}", if cont.is_empty() { String::new() } else { format!("&continue={cont}") });
        let (code, body) = c.curl_admin(&path, &[]);
        assert_eq!(code, 200, "{body}");
        let list = json(&body);
        seen.extend(
            list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_owned()),
        );
        match list["metadata"]["continue"].as_str() {
            Some(c) if !c.is_empty() => cont = c.to_owned(),
            _ => break,
        }
    }
    // Every namespace also holds the kube-root-ca.crt ConfigMap, as upstream.
    seen.retain(|n| n.starts_with("page-"));
    assert_eq!(seen, (0..7).map(|i| format!("page-{i}")).collect::<Vec<_>>());
    // kubectl pages with --chunk-size and prints one table.
    let out = c.ok(&["get", "cm", "--chunk-size=2", "-o", "name"]);
    assert_eq!(out.lines().filter(|l| l.starts_with("configmap/page-")).count(), 7, "{out}");
}

#[test]
fn dry_run_and_field_validation_warnings() {
    let c = Cluster::start();
    let out = c.ok(&["create", "configmap", "dry", "--from-literal=a=1", "--dry-run=server"]);
    assert_eq!(out.trim(), "configmap/dry created (server dry run)");
    assert!(c.kubectl(&["get", "cm", "dry"]).stderr.contains("NotFound"));
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned"},"data":{"a":"1"},"bogus":true}"#;
    let (code, out) = c.curl_admin(
        &format!("{CM}?fieldValidation=Warn"),
        &["-X", "POST", "-H", "Content-Type: application/json", "--data", body, "-D", "-"],
    );
    assert_eq!(code, 201, "{out}");
    assert!(out.to_lowercase().contains(r#"warning: 299 - "unknown field \"bogus\"""#), "{out}");
    let (code, out) = c.curl_admin(
        &format!("{CM}?fieldValidation=Strict"),
        &["-X", "POST", "-H", "Content-Type: application/json", "--data", body],
    );
    assert_eq!(code, 400);
    assert_eq!(
        json(&out)["message"],
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus""#
    );
}

#[test]
fn bad_bodies_get_clear_errors() {
    let c = Cluster::start();
    let big = c.dir.path().join("big.json");
    let filler = "x".repeat(3 * 1024 * 1024 + 10);
    std::fs::write(
        &big,
        format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"big"}},"data":{{"a":"{filler}"}}}}"#),
    )
    .unwrap();
    let at = format!("@{}", big.display());
    let (code, out) = c.curl_admin(CM, &["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", &at]);
    assert_eq!(code, 413, "{out}");
    let (code, out) = c.curl_admin(CM, &["-X", "POST", "-H", "Content-Type: text/plain", "--data", "hello"]);
    assert_eq!(code, 415, "{out}");
    assert_eq!(json(&out)["reason"], "UnsupportedMediaType");
    let (code, out) = c.curl_admin(CM, &["-X", "POST", "-H", "Content-Type: application/json", "--data", "{not json"]);
    assert_eq!(code, 400, "{out}");
    let (code, _) = c.curl_admin(CM, &["-H", "Accept: application/vnd.kubernetes.protobuf"]);
    assert_eq!(code, 406);
    // Nothing of the failed writes was stored.
    let (_, list) = c.curl_admin(CM, &[]);
    let list = json(&list);
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .filter(|n| *n != "kube-root-ca.crt")
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn watch_resumes_from_a_revision_and_sends_bookmarks() {
    let c = Cluster::start();
    create_cm(&c, "before");
    let (_, list) = c.curl_admin(CM, &[]);
    let rv = json(&list)["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    create_cm(&c, "after");
    // Resuming from the list's revision sees only what came after, then the stream
    // closes at timeoutSeconds.
    let (code, events) = c.curl_admin(&format!("{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=1"), &[]);
    assert_eq!(code, 200);
    // The root-CA publisher writes kube-root-ca.crt into every namespace at its own pace.
    let events: Vec<Value> = events
        .lines()
        .filter(|l| !l.is_empty())
        .map(json)
        .filter(|e| e["object"]["metadata"]["name"] != "kube-root-ca.crt")
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "after");
    // sendInitialEvents: the current state, then a bookmark marking its end.
    let (_, events) = c.curl_admin(
        &format!("{CM}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"),
        &[],
    );
    let events: Vec<Value> = events.lines().filter(|l| !l.is_empty()).map(json).collect();
    let ours = |e: &&Value| e["type"] == "ADDED" && e["object"]["metadata"]["name"] != "kube-root-ca.crt";
    assert_eq!(events.iter().filter(ours).count(), 2, "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "BOOKMARK");
    assert_eq!(last["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
}

#[test]
fn http2_is_negotiated() {
    let c = Cluster::start();
    let out = std::process::Command::new("curl")
        .args(["-s", "--http2", "-o", "/dev/null", "-w", "%{http_version}", "--cacert"])
        .arg(c.pki("ca.crt"))
        .arg("--cert")
        .arg(c.pki("admin.crt"))
        .arg("--key")
        .arg(c.pki("admin.key"))
        .arg(c.url("/api/v1/namespaces"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2");
}

#[test]
fn audit_log_records_requests_without_secret_values() {
    let c = Cluster::start_with(&["--audit-log-path", "{dir}/audit/audit.log"]);
    c.ok(&["create", "secret", "generic", "audited", "--from-literal=password=hunter2-secret"]);
    c.ok(&["get", "secret", "audited", "-o", "yaml"]);
    let log = c.dir.path().join("audit/audit.log");
    let text = support::eventually(10, || {
        let t = std::fs::read_to_string(&log).ok()?;
        t.lines().any(|l| l.contains(r#""verb":"get""#) && l.contains("audited")).then_some(t)
    });
    let events: Vec<Value> = text.lines().map(json).collect();
    let create = events
        .iter()
        .find(|e| e["verb"] == "create" && e["objectRef"]["resource"] == "secrets")
        .expect("the create is audited");
    assert_eq!(create["apiVersion"], "audit.k8s.io/v1");
    assert_eq!(create["kind"], "Event");
    assert_eq!(create["user"]["username"], "admin");
    assert_eq!(create["objectRef"]["namespace"], "default");
    assert_eq!(create["responseStatus"]["code"], 201);
    assert!(
        !text.contains("hunter2-secret") && !text.contains("aHVudGVyMi1zZWNyZXQ"),
        "a secret value reached the audit log"
    );
}

#[test]
fn delete_dry_run_keeps_the_object_and_resource_versions_are_checked() {
    let c = Cluster::start();
    create_cm(&c, "kept");
    let out = c.ok(&["delete", "configmap", "kept", "--dry-run=server"]);
    assert!(out.contains("deleted (server dry run)"), "{out}");
    c.ok(&["delete", "configmap", "--all", "--dry-run=server"]);
    assert_eq!(c.ok(&["get", "cm", "kept", "-o", "name"]).trim(), "configmap/kept");

    let (code, body) = c.curl_admin(&format!("{CM}?resourceVersion=abc"), &[]);
    assert_eq!(code, 400, "{body}");
    let (code, body) = c.curl_admin(&format!("{CM}?resourceVersion=999999999"), &[]);
    assert_eq!(code, 504, "{body}");
    assert!(json(&body)["message"].as_str().unwrap().starts_with("Too large resource version: 999999999"), "{body}");
}

#[test]
fn invalid_objects_name_their_kind() {
    let c = Cluster::start();
    let body = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"c"}},"spec":{"containers":[{"name":"x","image":"nginx"}]}}}}"#;
    let (code, out) = c.curl_admin(
        "/apis/apps/v1/namespaces/default/deployments",
        &["-X", "POST", "-H", "Content-Type: application/json", "--data", body],
    );
    assert_eq!(code, 422, "{out}");
    let status = json(&out);
    assert_eq!(status["details"]["kind"], "Deployment");
    assert!(status["message"].as_str().unwrap().starts_with(r#"Deployment.apps "web" is invalid"#), "{out}");
}

#[test]
fn core_and_events_k8s_io_events_are_one_object() {
    let c = Cluster::start();
    let core = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1"},"involvedObject":{"kind":"Pod","name":"p","namespace":"default"},"reason":"Pulled","message":"pulled the image","type":"Normal","source":{"component":"kubelet"},"count":1}"#;
    let (code, out) = c.curl_admin(
        "/api/v1/namespaces/default/events",
        &["-X", "POST", "-H", "Content-Type: application/json", "--data", core],
    );
    assert_eq!(code, 201, "{out}");
    let (code, out) = c.curl_admin("/apis/events.k8s.io/v1/namespaces/default/events/e1", &[]);
    assert_eq!(code, 200, "{out}");
    let e = json(&out);
    assert_eq!(e["apiVersion"], "events.k8s.io/v1");
    assert_eq!(e["regarding"]["name"], "p");
    assert_eq!(e["note"], "pulled the image");
    assert_eq!(e["deprecatedSource"]["component"], "kubelet");
    // And the other way: written through events.k8s.io, read as a core Event by describe's query.
    let v1 = r#"{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e2"},"eventTime":"2026-01-01T00:00:00.000000Z","reportingController":"krust.io/test","reportingInstance":"t1","action":"Testing","regarding":{"kind":"Pod","name":"p","namespace":"default"},"reason":"Tested","note":"from events.k8s.io","type":"Normal"}"#;
    let (code, out) = c.curl_admin(
        "/apis/events.k8s.io/v1/namespaces/default/events",
        &["-X", "POST", "-H", "Content-Type: application/json", "--data", v1],
    );
    assert_eq!(code, 201, "{out}");
    let msgs =
        c.ok(&["get", "events", "--field-selector", "involvedObject.name=p", "-o", "jsonpath={.items[*].message}"]);
    assert!(msgs.contains("pulled the image") && msgs.contains("from events.k8s.io"), "{msgs}");
}
