//! Two `krust server` processes on one etcd, as two kube-apiservers with their controller
//! managers and schedulers: both serve the same state, only the Lease holders act, and a
//! standby takes over when the leader dies.

mod support;

use support::etcd::Etcd;
use support::{Cluster, eventually};

/// Short leader-election timings so a takeover happens within seconds.
const ELECTION: [&str; 3] =
    ["--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=500ms"];

fn names(c: &Cluster, what: &str, selector: &str) -> Vec<String> {
    let out = c.ok(&["get", what, "-l", selector, "-o", "jsonpath={.items[*].metadata.name}"]);
    out.split_whitespace().map(str::to_owned).collect()
}

fn leader_events(c: &Cluster, lease: &str) -> Vec<String> {
    let out = c.ok(&[
        "get",
        "events",
        "-n",
        "kube-system",
        "--field-selector",
        &format!("reason=LeaderElection,involvedObject.name={lease}"),
        "-o",
        "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}",
    ]);
    out.lines().map(str::to_owned).collect()
}

#[test]
fn two_servers_share_one_etcd_and_only_the_leader_acts() {
    let etcd = Etcd::start();
    let mut args = vec!["--etcd-servers", &etcd.endpoint];
    args.extend(ELECTION);
    let mut first = Cluster::start_with(&args);
    let leader = eventually(20, || Some(first.lease_holder("kube-controller-manager")).filter(|h| !h.is_empty()));
    let second = Cluster::start_beside(&first, &args);

    // One state: what is written through one server is read through the other.
    first.ok(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]);
    eventually(20, || (names(&second, "pods", "app=web").len() == 2).then_some(()));
    // Only the leader's controllers act: one ReplicaSet, two pods, however long we look.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(names(&second, "replicasets", "app=web").len(), 1);
    assert_eq!(names(&second, "pods", "app=web").len(), 2);
    assert_eq!(second.lease_holder("kube-controller-manager"), leader, "the standby must not take a held lease");
    assert_eq!(second.lease_holder("kube-scheduler"), leader);
    assert_eq!(leader_events(&second, "kube-controller-manager"), [format!("{leader} became leader")]);

    // The leader dies without releasing its Lease: once it expires, the standby leads.
    first.kill();
    let successor = eventually(30, || Some(second.lease_holder("kube-controller-manager")).filter(|h| *h != leader));
    assert!(!successor.is_empty());
    eventually(30, || (second.lease_holder("kube-scheduler") == successor).then_some(()));
    let transitions = second.lease("kube-controller-manager", "{.spec.leaseTransitions}");
    assert_eq!(transitions, "1");
    // ...and its controllers act: scaling up is carried out.
    second.ok(&["scale", "deployment", "web", "--replicas=3"]);
    eventually(30, || (names(&second, "pods", "app=web").len() == 3).then_some(()));
    assert_eq!(names(&second, "replicasets", "app=web").len(), 1);
    let events = leader_events(&second, "kube-controller-manager");
    assert!(events.contains(&format!("{successor} became leader")), "{events:?}");
}
