//! Which pods on one node must go for the preemptor to fit (upstream's
//! `SelectVictimsOnNode`): remove every lower-priority pod; if the preemptor fits then, put
//! back ("reprieve") as many as possible, most important first, those whose eviction would
//! break a PodDisruptionBudget before the others. What could not be put back are the victims.

use crate::cycle::{filter_node, pre_filter};
use crate::framework::{FilterPlugin, NodeInfo, Rejection, Snapshot, pod_priority};
use client_runtime::labels::{selector_is_empty, selects};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use std::cmp::Ordering;
use std::sync::Arc;

/// The refusal of a node where nothing has lower priority than the preemptor.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// The pods to evict from one node, most important first, and how many of them a
/// PodDisruptionBudget protects.
#[derive(Clone, Debug)]
pub struct Victims {
    pub pods: Vec<Arc<Pod>>,
    pub pdb_violations: usize,
}

/// When `pod` started; one not started yet counts as starting `now` (upstream's `GetPodStartTime`).
pub fn start_time(pod: &Pod, now: Timestamp) -> Timestamp {
    pod.status.as_ref().and_then(|s| s.start_time.as_ref()).map_or(now, |t| t.0)
}

/// Upstream's `MoreImportantPod` as an ordering: higher priority first, then the pod that
/// has run longer.
pub fn importance(a: &Pod, b: &Pod, now: Timestamp) -> Ordering {
    pod_priority(b).cmp(&pod_priority(a)).then_with(|| start_time(a, now).cmp(&start_time(b, now)))
}

/// Split `pods` (kept in order) into those whose eviction would exceed a matching budget's
/// `disruptionsAllowed` and the rest (upstream's `filterPodsWithPDBViolation`). Each
/// eviction counted uses up one allowed disruption of every budget that selects the pod,
/// unless the budget already lists the pod as disrupted.
pub fn split_by_pdb_violation(
    pods: Vec<Arc<Pod>>,
    pdbs: &[Arc<PodDisruptionBudget>],
) -> (Vec<Arc<Pod>>, Vec<Arc<Pod>>) {
    let mut allowed: Vec<i32> =
        pdbs.iter().map(|pdb| pdb.status.as_ref().map_or(0, |s| s.disruptions_allowed)).collect();
    let (mut violating, mut non_violating) = (Vec::new(), Vec::new());
    for pod in pods {
        let mut violated = false;
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        // A pod without labels matches no budget.
        if !labels.is_empty() {
            for (pdb, allowed) in pdbs.iter().zip(allowed.iter_mut()) {
                if pdb.metadata.namespace != pod.metadata.namespace {
                    continue;
                }
                // A budget without a selector, or with an empty one, selects nothing.
                let selector = pdb.spec.as_ref().and_then(|s| s.selector.as_ref());
                let Some(selector) = selector.filter(|s| !selector_is_empty(s)) else { continue };
                if !selects(selector, &labels) {
                    continue;
                }
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                let disrupted = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref());
                if disrupted.is_some_and(|d| d.contains_key(name)) {
                    continue;
                }
                *allowed -= 1;
                if *allowed < 0 {
                    violated = true;
                }
            }
        }
        if violated { violating.push(pod) } else { non_violating.push(pod) }
    }
    (violating, non_violating)
}

/// One node of a snapshot under trial evictions; the node is put back as it was on drop.
struct Trial<'a> {
    pod: &'a Pod,
    snapshot: &'a mut Snapshot,
    index: usize,
    filters: &'a [Box<dyn FilterPlugin>],
    original: Option<NodeInfo>,
}

impl Drop for Trial<'_> {
    fn drop(&mut self) {
        if let Some(original) = self.original.take() {
            self.snapshot.nodes[self.index] = original;
        }
    }
}

impl Trial<'_> {
    /// Whether the preemptor fits with exactly `pods` on the node. The cycle-wide filter
    /// state (affinity, spreading) is recomputed, as upstream's PreFilter extensions update it.
    fn fits(&mut self, pods: &[Arc<Pod>]) -> Result<(), Rejection> {
        let node = self.snapshot.nodes[self.index].node.clone();
        let trial = NodeInfo::with_pods(node, pods.iter().cloned());
        let replaced = std::mem::replace(&mut self.snapshot.nodes[self.index], trial);
        self.original.get_or_insert(replaced);
        let states = pre_filter(self.pod, self.snapshot, self.filters);
        filter_node(self.pod, &self.snapshot.nodes[self.index], self.snapshot, self.filters, &states)
    }
}

/// The fewest, least important pods to evict from `snapshot.nodes[index]` for `pod` to
/// fit; or why evicting cannot make it fit there. The snapshot is changed during the trial
/// (so a large one need not be copied per node) and left as it was.
pub fn select_victims(
    pod: &Pod,
    snapshot: &mut Snapshot,
    index: usize,
    filters: &[Box<dyn FilterPlugin>],
    pdbs: &[Arc<PodDisruptionBudget>],
    now: Timestamp,
) -> Result<Victims, Rejection> {
    let priority = pod_priority(pod);
    let (mut potential, mut kept): (Vec<Arc<Pod>>, Vec<Arc<Pod>>) =
        snapshot.nodes[index].pods.iter().cloned().partition(|other| pod_priority(other) < priority);
    if potential.is_empty() {
        return Err(Rejection::unresolvable(NO_VICTIMS));
    }
    let mut trial = Trial { pod, snapshot, index, filters, original: None };
    // Not even an empty node (of lower-priority pods) takes it: nothing to gain here.
    trial.fits(&kept)?;
    potential.sort_by(|a, b| importance(a, b, now));
    let (violating, non_violating) = split_by_pdb_violation(potential, pdbs);
    let mixed = !violating.is_empty() && !non_violating.is_empty();
    let mut victims = Victims { pods: Vec::new(), pdb_violations: 0 };
    let flagged = violating.into_iter().map(|p| (p, true)).chain(non_violating.into_iter().map(|p| (p, false)));
    for (candidate, violates) in flagged {
        kept.push(candidate);
        if trial.fits(&kept).is_err() {
            let victim = kept.pop().expect("just pushed");
            victims.pods.push(victim);
            victims.pdb_violations += usize::from(violates);
        }
    }
    if mixed {
        victims.pods.sort_by(|a, b| importance(a, b, now));
    }
    Ok(victims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::default_filters;
    use crate::preemption::testing::{names, now, pdb, running};

    fn snapshot_with(pods: &[Arc<Pod>]) -> Snapshot {
        Snapshot { nodes: vec![crate::preemption::testing::node_with("n1", pods)], ..Default::default() }
    }

    #[test]
    fn reprieves_the_most_important_pods_that_still_leave_room() {
        // 4 cpus: 1 (prio 5) + 1 (prio 1) + 2 (prio 3); the preemptor wants 2.
        let pods = [
            running("a", 5, "1", "2025-01-01T10:00:00Z"),
            running("b", 1, "1", "2025-01-01T10:00:00Z"),
            running("c", 3, "2", "2025-01-01T10:00:00Z"),
        ];
        let preemptor = running("p", 10, "2", "2025-01-01T11:00:00Z");
        let victims = select_victims(&preemptor, &mut snapshot_with(&pods), 0, &default_filters(), &[], now()).unwrap();
        // a (5) is put back, then c (3) no longer leaves 2 cpus, then b (1) fits again.
        assert_eq!(names(&victims.pods), ["c"]);
        assert_eq!(victims.pdb_violations, 0);
    }

    #[test]
    fn only_lower_priority_pods_are_victims() {
        let pods = [running("peer", 10, "3", "2025-01-01T10:00:00Z"), running("low", 0, "1", "2025-01-01T10:00:00Z")];
        let preemptor = running("p", 10, "2", "2025-01-01T11:00:00Z");
        let refused =
            select_victims(&preemptor, &mut snapshot_with(&pods), 0, &default_filters(), &[], now()).unwrap_err();
        assert_eq!(refused.reasons, ["Insufficient cpu"]);
        let only_peers = [running("peer", 10, "4", "2025-01-01T10:00:00Z")];
        let refused =
            select_victims(&preemptor, &mut snapshot_with(&only_peers), 0, &default_filters(), &[], now()).unwrap_err();
        assert_eq!(refused, Rejection::unresolvable(NO_VICTIMS));
    }

    #[test]
    fn pods_a_budget_protects_are_reprieved_first() {
        // Two equal pods of 2 cpus; one is protected by a budget allowing no disruption.
        let pods =
            [running("guarded", 1, "2", "2025-01-01T10:30:00Z"), running("free", 1, "2", "2025-01-01T09:00:00Z")];
        let preemptor = running("p", 10, "2", "2025-01-01T11:00:00Z");
        let mut snapshot = snapshot_with(&pods);
        let victims =
            select_victims(&preemptor, &mut snapshot, 0, &default_filters(), &[pdb("guarded", 0)], now()).unwrap();
        // The trial evictions are undone.
        assert_eq!(names(&snapshot.nodes[0].pods), ["guarded", "free"]);
        assert_eq!(snapshot.nodes[0].requested.milli_cpu, 4000);
        assert_eq!(names(&victims.pods), ["free"]);
        assert_eq!(victims.pdb_violations, 0);
        // Without the budget the longer-running pod is the more important one and stays.
        let victims = select_victims(&preemptor, &mut snapshot, 0, &default_filters(), &[], now()).unwrap();
        assert_eq!(names(&victims.pods), ["guarded"]);
        // Both protected and the preemptor needs all 4 cpus: both go, both violations.
        let greedy = running("p", 10, "4", "2025-01-01T11:00:00Z");
        let victims =
            select_victims(&greedy, &mut snapshot, 0, &default_filters(), &[pdb("guarded", 0), pdb("free", 0)], now())
                .unwrap();
        assert_eq!(names(&victims.pods), ["free", "guarded"]);
        assert_eq!(victims.pdb_violations, 2);
    }

    #[test]
    fn budgets_count_allowed_disruptions_and_skip_disrupted_pods() {
        let pods: Vec<Arc<Pod>> =
            ["web1", "web2", "web3"].iter().map(|n| running(n, 0, "1", "2025-01-01T10:00:00Z")).collect();
        let (violating, fine) = split_by_pdb_violation(pods.clone(), &[pdb("web", 2)]);
        assert_eq!((names(&violating), names(&fine)), (vec!["web3"], vec!["web1", "web2"]));
        let mut disrupted = (*pdb("web", 0)).clone();
        disrupted.status.as_mut().unwrap().disrupted_pods =
            Some([("web1".to_owned(), k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()))].into());
        let (violating, fine) = split_by_pdb_violation(pods.clone(), &[Arc::new(disrupted)]);
        assert_eq!((names(&violating), names(&fine)), (vec!["web2", "web3"], vec!["web1"]));
        let mut empty = (*pdb("web", 0)).clone();
        empty.spec.as_mut().unwrap().selector = Some(Default::default());
        let (violating, _) = split_by_pdb_violation(pods, &[Arc::new(empty)]);
        assert!(violating.is_empty());
    }

    #[test]
    fn importance_is_priority_then_age() {
        let old = running("old", 1, "1", "2025-01-01T09:00:00Z");
        let young = running("young", 1, "1", "2025-01-01T10:00:00Z");
        let high = running("high", 2, "1", "2025-01-01T11:00:00Z");
        let mut pods = vec![young, high, old];
        pods.sort_by(|a, b| importance(a, b, now()));
        assert_eq!(names(&pods), ["high", "old", "young"]);
    }
}
