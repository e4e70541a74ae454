//! Leader election of the in-process controller manager and scheduler, and turning single
//! controllers off with `--disable`.

mod support;

use support::{Cluster, eventually};

#[test]
fn the_controller_manager_and_the_scheduler_hold_their_leases() {
    let c = Cluster::start();
    let controller_manager =
        eventually(20, || Some(c.lease_holder("kube-controller-manager")).filter(|h| !h.is_empty()));
    let scheduler = eventually(20, || Some(c.lease_holder("kube-scheduler")).filter(|h| !h.is_empty()));
    // One identity per process, `<host>_<uuid>` as upstream's.
    assert_eq!(controller_manager, scheduler);
    assert!(controller_manager.contains('_'), "{controller_manager}");
    let duration = c.lease("kube-scheduler", "{.spec.leaseDurationSeconds}");
    assert_eq!(duration, "15");
    // The leader renews: renewTime moves on while acquireTime stays.
    let times = || c.lease("kube-controller-manager", "{.spec.acquireTime} {.spec.renewTime}");
    let first = times();
    let later = eventually(10, || Some(times()).filter(|t| *t != first));
    assert_eq!(first.split(' ').next(), later.split(' ').next());
    // `kubectl get events -n kube-system` says who leads.
    let events = c.ok(&["get", "events", "-n", "kube-system", "--field-selector", "reason=LeaderElection"]);
    assert!(events.contains(&format!("{controller_manager} became leader")), "{events}");
    assert!(events.contains("lease/kube-scheduler"), "{events}");
}

#[test]
fn single_controllers_can_be_disabled() {
    let c = Cluster::start_with(&["--disable=deployment"]);
    c.ok(&["create", "deployment", "web", "--image=nginx"]);
    // The ReplicaSet controller still runs: a bare ReplicaSet gets its pod.
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"bare"},
            "spec":{"replicas":1,"selector":{"matchLabels":{"app":"bare"}},
            "template":{"metadata":{"labels":{"app":"bare"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#,
    );
    eventually(20, || {
        let pods = c.ok(&["get", "pods", "-l", "app=bare", "-o", "name"]);
        (!pods.is_empty()).then_some(())
    });
    // ...while the Deployment never gets one.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let sets = c.ok(&["get", "replicasets", "-l", "app=web", "-o", "name"]);
    assert_eq!(sets, "", "a disabled deployment controller made {sets}");
}

#[test]
fn an_unknown_component_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_krust"))
        .args(["server", "--disable=deploymnet"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown component \"deploymnet\""), "{stderr}");
    assert!(stderr.contains("deployment-controller"), "{stderr}");
}
