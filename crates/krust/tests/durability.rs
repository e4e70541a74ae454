//! A crash never loses an acknowledged write: SIGKILL the server while a client writes,
//! restart it, and find every object whose create was acknowledged.

mod support;

use std::sync::{Arc, Mutex};
use support::Cluster;

#[test]
fn sigkill_while_writing_loses_no_acknowledged_object() {
    let mut c = Cluster::start();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop) = (acked.clone(), stop.clone());
            let (cert, key, ca, url) =
                (c.pki("admin.crt"), c.pki("admin.key"), c.pki("ca.crt"), c.url("/api/v1/namespaces/default/configmaps"));
            std::thread::spawn(move || {
                for i in 0..2000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("w{w}-{i}");
                    let body = format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"i":"{i}"}}}}"#);
                    let out = std::process::Command::new("curl")
                        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "-X", "POST"])
                        .args(["-H", "Content-Type: application/json", "--data", &body])
                        .arg("--cacert").arg(&ca).arg("--cert").arg(&cert).arg("--key").arg(&key)
                        .arg(&url)
                        .output()
                        .expect("curl");
                    if String::from_utf8_lossy(&out.stdout) == "201" {
                        acked.lock().unwrap().push(name);
                    }
                }
            })
        })
        .collect();
    support::eventually(60, || (acked.lock().unwrap().len() >= 40).then_some(()));
    c.kill_and_restart();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let names = c.ok(&["get", "configmaps", "-o", "jsonpath={.items[*].metadata.name}"]);
    let stored: std::collections::HashSet<&str> = names.split_whitespace().collect();
    let acked = acked.lock().unwrap();
    assert!(acked.len() >= 40);
    for name in acked.iter() {
        assert!(stored.contains(name.as_str()), "acknowledged {name} was lost after SIGKILL");
    }
    // Every stored object is whole and readable.
    for name in stored.iter().filter(|n| n.starts_with('w')) {
        let i = c.ok(&["get", "configmap", name, "-o", "jsonpath={.data.i}"]);
        assert_eq!(Some(i.as_str()), name.rsplit('-').next());
    }
}

#[test]
fn secrets_are_not_stored_in_clear() {
    // This reads the embedded store's files; the etcd backend's copy is etcd's business.
    if std::env::var_os("KRUST_E2E_ETCD").is_some() {
        return;
    }
    let c = Cluster::start();
    c.ok(&["create", "secret", "generic", "plain", "--from-literal=password=clear-text-canary-42"]);
    c.ok(&["create", "configmap", "visible", "--from-literal=k=configmap-canary-42"]);
    assert_eq!(c.ok(&["get", "secret", "plain", "-o", "jsonpath={.data.password}"]), "Y2xlYXItdGV4dC1jYW5hcnktNDI=");
    let db = c.dir.path().join("db");
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&db).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    // The ConfigMap is found, so the search works; the Secret is not, in any encoding.
    assert!(contains(b"configmap-canary-42"));
    assert!(!contains(b"clear-text-canary-42"));
    assert!(!contains(b"Y2xlYXItdGV4dC1jYW5hcnktNDI="));
}
