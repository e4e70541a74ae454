//! DefaultPreemption, the PostFilter run when a pod fits nowhere: find nodes where evicting
//! lower-priority pods would let it fit, choose one, and name the victims. The scheduler
//! then evicts them ([`evict`]) and nominates the pod to the node; it binds once room is made.
//!
//! - [`victims`]: the fewest, least important pods to evict on one node;
//! - [`pick`]: upstream's order of criteria between candidate nodes;
//! - [`evict`]: the API calls that carry a decision out.

pub mod evict;
pub mod pick;
pub mod victims;

use crate::cycle::FitError;
use crate::framework::{Code, FilterPlugin, Rejection, Snapshot, pod_priority};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use std::collections::BTreeMap;
use std::sync::Arc;
use victims::Victims;

/// Upstream's defaults: dry-run at least this share of the nodes where preemption might
/// help (`minCandidateNodesPercentage`) ...
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
/// ... and at least this many (`minCandidateNodesAbsolute`).
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// The status of nodes where only something other than a pod was in the way.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

/// A node where the preemptor would fit once `victims` are gone.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub node: String,
    pub victims: Victims,
}

/// What preemption concluded for a pod that fits nowhere.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Evict the candidate's victims and nominate the pod to its node.
    Preempt(Candidate),
    /// Preemption does not help now. `message` joins the FailedScheduling message;
    /// `clear_nomination` says whether the pod's `nominatedNodeName` is to be cleared.
    NotHelpful { message: String, clear_nomination: bool },
}

/// Whether a pod on the preemptor's node is already going away because of preemption.
fn terminating_by_preemption(pod: &Pod) -> bool {
    if pod.metadata.deletion_timestamp.is_none() {
        return false;
    }
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    conditions
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .is_some_and(|c| c.status == "True" && c.reason.as_deref() == Some("PreemptionByScheduler"))
}

/// Why `pod` may not preempt now, if it may not (upstream's `PodEligibleToPreemptOthers`):
/// its policy forbids it, or an earlier preemption for it is still under way on the node it
/// was nominated to (unless that node turned out to be no option at all).
pub fn ineligibility(pod: &Pod, snapshot: &Snapshot, fit: &FitError) -> Option<&'static str> {
    if pod.spec.as_ref().and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
        return Some("not eligible due to preemptionPolicy=Never.");
    }
    let nominated = pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).filter(|n| !n.is_empty())?;
    if fit.rejections.get(nominated).is_some_and(|r| r.code == Code::UnschedulableAndUnresolvable) {
        return None;
    }
    let node = snapshot.nodes.iter().find(|n| n.name() == nominated)?;
    let priority = pod_priority(pod);
    node.pods
        .iter()
        .any(|p| pod_priority(p) < priority && terminating_by_preemption(p))
        .then_some("not eligible due to a terminating pod on the nominated node.")
}

/// How many candidates the dry run looks for among `nodes` potential nodes.
fn candidates_wanted(nodes: usize) -> usize {
    (nodes * MIN_CANDIDATE_NODES_PERCENTAGE / 100).max(MIN_CANDIDATE_NODES_ABSOLUTE).min(nodes)
}

/// Preempt for `pod`, which `fit` says fits nowhere in `snapshot`. The dry run starts at
/// node `offset` (upstream starts at a random one) and stops once it has enough candidates.
pub fn preempt(
    pod: &Pod,
    snapshot: &Snapshot,
    fit: &FitError,
    filters: &[Box<dyn FilterPlugin>],
    pdbs: &[Arc<PodDisruptionBudget>],
    offset: usize,
    now: Timestamp,
) -> Decision {
    if let Some(reason) = ineligibility(pod, snapshot, fit) {
        return Decision::NotHelpful { message: format!("preemption: {reason}"), clear_nomination: false };
    }
    // Only nodes refused as Unschedulable might take the pod once pods are gone.
    let mut statuses: BTreeMap<String, Rejection> = BTreeMap::new();
    let mut potential = Vec::new();
    for (index, node) in snapshot.nodes.iter().enumerate() {
        match fit.rejections.get(node.name()) {
            Some(rejection) if rejection.code == Code::Unschedulable => potential.push(index),
            _ => {
                statuses.insert(node.name().to_owned(), Rejection::unresolvable(NOT_HELPFUL));
            }
        }
    }
    let wanted = candidates_wanted(potential.len());
    // One copy for every trial eviction, each undone after.
    let mut trial = snapshot.clone();
    let (mut non_violating, mut violating) = (Vec::new(), Vec::new());
    for step in 0..potential.len() {
        let index = potential[(offset + step) % potential.len()];
        let name = snapshot.nodes[index].name().to_owned();
        match victims::select_victims(pod, &mut trial, index, filters, pdbs, now) {
            Ok(victims) if victims.pods.is_empty() => {
                let status = format!("expected at least one victim pod on node {name:?}");
                statuses.insert(name, Rejection::unschedulable(status));
            }
            Ok(victims) => {
                let candidate = Candidate { node: name, victims };
                if candidate.victims.pdb_violations == 0 {
                    non_violating.push(candidate)
                } else {
                    violating.push(candidate)
                }
                if !non_violating.is_empty() && non_violating.len() + violating.len() >= wanted {
                    break;
                }
            }
            Err(rejection) => {
                statuses.insert(name, rejection);
            }
        }
    }
    non_violating.append(&mut violating);
    let candidates = non_violating;
    match pick::pick_one(&candidates, now) {
        Some(chosen) => Decision::Preempt(candidates[chosen].clone()),
        None => {
            let why = FitError::new(snapshot.nodes.len(), statuses);
            Decision::NotHelpful { message: format!("preemption: {}", why.message()), clear_nomination: true }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for the preemption tests.
    use crate::framework::NodeInfo;
    use crate::framework::testing::{node, pod};
    use jiff::Timestamp;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use serde_json::json;
    use std::sync::Arc;

    /// A pod labelled `app=<name without trailing digits>`, requesting `cpu`, started at `started`.
    pub fn running(name: &str, priority: i32, cpu: &str, started: &str) -> Arc<Pod> {
        let mut pod = pod(json!({
            "priority": priority,
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]
        }));
        pod.metadata.name = Some(name.to_owned());
        pod.metadata.labels = Some([("app".to_owned(), name.trim_end_matches(char::is_numeric).to_owned())].into());
        pod.status = Some(serde_json::from_value(json!({"startTime": started})).unwrap());
        Arc::new(pod)
    }

    pub fn now() -> Timestamp {
        "2025-01-01T12:00:00Z".parse().unwrap()
    }

    /// A 4-cpu node holding `pods`.
    pub fn node_with(name: &str, pods: &[Arc<Pod>]) -> NodeInfo {
        let mut info = node(name, json!({}));
        for pod in pods {
            info.add_pod(pod.clone());
        }
        info
    }

    pub fn names(pods: &[Arc<Pod>]) -> Vec<&str> {
        pods.iter().map(|p| p.metadata.name.as_deref().unwrap()).collect()
    }

    /// A budget for `app=<app>` in `default` allowing `allowed` disruptions.
    pub fn pdb(app: &str, allowed: i32) -> Arc<PodDisruptionBudget> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": app, "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": app}}},
                "status": {"disruptionsAllowed": allowed, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
            }))
            .unwrap(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::cycle::schedule;
    use crate::framework::testing::node;
    use crate::plugins::default_filters;
    use serde_json::json;

    fn fit_error(pod: &Pod, snapshot: &Snapshot) -> FitError {
        schedule(pod, snapshot, &default_filters(), &[], &mut crate::cycle::Rotation::default()).unwrap_err()
    }

    fn decide(pod: &Pod, snapshot: &Snapshot, pdbs: &[Arc<PodDisruptionBudget>]) -> Decision {
        preempt(pod, snapshot, &fit_error(pod, snapshot), &default_filters(), pdbs, 0, now())
    }

    const T9: &str = "2025-01-01T09:00:00Z";

    #[test]
    fn picks_the_node_with_the_least_important_victims() {
        let snapshot = Snapshot {
            nodes: vec![
                node_with("a", &[running("mid", 5, "4", T9)]),
                node_with("b", &[running("low", 1, "2", T9), running("low2", 1, "2", T9)]),
            ],
            ..Default::default()
        };
        let Decision::Preempt(candidate) = decide(&running("p", 10, "2", T9), &snapshot, &[]) else { panic!() };
        assert_eq!(candidate.node, "b");
        assert_eq!(names(&candidate.victims.pods), ["low2"]);
        // A budget protecting app=low (both pods on b): evicting there breaks it, so the
        // more important pod on a goes instead.
        let Decision::Preempt(candidate) = decide(&running("p", 10, "2", T9), &snapshot, &[pdb("low", 0)]) else {
            panic!()
        };
        assert_eq!((candidate.node.as_str(), names(&candidate.victims.pods)), ("a", vec!["mid"]));
        // One disruption allowed: b again, without violation.
        let Decision::Preempt(candidate) = decide(&running("p", 10, "2", T9), &snapshot, &[pdb("low", 1)]) else {
            panic!()
        };
        assert_eq!((candidate.node.as_str(), candidate.victims.pdb_violations), ("b", 0));
    }

    #[test]
    fn only_nodes_refused_for_resolvable_reasons_are_candidates() {
        let tainted = node("t", json!({"spec": {"taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]}}));
        let mut tainted_full = tainted.clone();
        tainted_full.add_pod(running("low", 0, "4", T9));
        let snapshot = Snapshot {
            nodes: vec![
                tainted_full,
                node_with("peer", &[running("peer", 10, "4", T9)]),
                node_with("big", &[running("low", 0, "1", T9)]),
            ],
            ..Default::default()
        };
        let Decision::NotHelpful { message, clear_nomination } = decide(&running("p", 10, "5", T9), &snapshot, &[])
        else {
            panic!()
        };
        assert!(clear_nomination);
        assert_eq!(
            message,
            "preemption: 0/3 nodes are available: 1 Insufficient cpu, 1 No preemption victims found for incoming pod, \
             1 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn the_full_failed_scheduling_message() {
        let snapshot = Snapshot {
            nodes: vec![
                node_with("a", &[running("peer", 10, "4", T9)]),
                node_with("b", &[running("peer", 10, "4", T9)]),
            ],
            ..Default::default()
        };
        let pod = running("p", 10, "1", T9);
        let mut fit = fit_error(&pod, &snapshot);
        let Decision::NotHelpful { message, .. } = preempt(&pod, &snapshot, &fit, &default_filters(), &[], 0, now())
        else {
            panic!()
        };
        fit.post_filter_message = message;
        assert_eq!(
            fit.message(),
            "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: \
             2 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn never_preempting_pods_and_pods_already_waiting_for_victims_do_not_preempt() {
        let mut victim = (*running("low", 0, "4", T9)).clone();
        let snapshot = Snapshot { nodes: vec![node_with("a", &[Arc::new(victim.clone())])], ..Default::default() };
        let mut polite = (*running("p", 10, "2", T9)).clone();
        polite.spec.as_mut().unwrap().preemption_policy = Some("Never".to_owned());
        let Decision::NotHelpful { message, clear_nomination } = decide(&polite, &snapshot, &[]) else { panic!() };
        assert_eq!(message, "preemption: not eligible due to preemptionPolicy=Never.");
        assert!(!clear_nomination);

        let mut waiting = (*running("p", 10, "2", T9)).clone();
        waiting.status.as_mut().unwrap().nominated_node_name = Some("a".to_owned());
        assert!(matches!(decide(&waiting, &snapshot, &[]), Decision::Preempt(_)));
        victim.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
        victim.status.as_mut().unwrap().conditions = Some(vec![
            serde_json::from_value(
                json!({"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}),
            )
            .unwrap(),
        ]);
        let terminating = Snapshot { nodes: vec![node_with("a", &[Arc::new(victim)])], ..Default::default() };
        let Decision::NotHelpful { message, .. } = decide(&waiting, &terminating, &[]) else { panic!() };
        assert_eq!(message, "preemption: not eligible due to a terminating pod on the nominated node.");
    }

    #[test]
    fn the_dry_run_stops_once_it_has_enough_candidates() {
        assert_eq!(candidates_wanted(3), 3);
        assert_eq!(candidates_wanted(5000), 500);
        assert_eq!(candidates_wanted(150), 100);
    }
}
