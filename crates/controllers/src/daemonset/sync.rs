//! What a DaemonSet's pods should become (upstream's `manage` and `rollingUpdate`), as
//! pure decisions over the nodes and pods: a pod on each eligible node, none elsewhere,
//! and old-revision pods replaced while at most `maxUnavailable` nodes lack an available pod.

use super::placement::{should_run, target_node};
use crate::deployment::rollout::scaled_value;
use crate::history::REVISION_LABEL;
use crate::replicaset::status::is_available;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The pods to create (node names) and delete.
#[derive(Debug, Default, PartialEq)]
pub struct Changes<'a> {
    pub create_on: Vec<String>,
    pub delete: Vec<&'a Pod>,
}

fn is_failed(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
}

/// The set's pods by the node they are for.
pub fn pods_by_node<'a>(pods: &[&'a Pod]) -> BTreeMap<String, Vec<&'a Pod>> {
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for pod in pods {
        if let Some(node) = target_node(pod) {
            by_node.entry(node.to_owned()).or_default().push(pod);
        }
    }
    by_node
}

/// One daemon pod on every node `spec` admits (failed pods are replaced, duplicates beyond
/// the oldest removed), none on the others.
pub fn placement<'a>(spec: &PodSpec, nodes: &[&Node], by_node: &BTreeMap<String, Vec<&'a Pod>>) -> Changes<'a> {
    let mut changes = Changes::default();
    for node in nodes {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut pods: Vec<&Pod> = by_node.get(&name).cloned().unwrap_or_default();
        pods.retain(|p| p.metadata.deletion_timestamp.is_none());
        if !should_run(spec, node) {
            changes.delete.extend(pods);
            continue;
        }
        let (failed, mut running): (Vec<&Pod>, Vec<&Pod>) = pods.into_iter().partition(|p| is_failed(p));
        changes.delete.extend(failed);
        let terminating =
            by_node.get(&name).is_some_and(|ps| ps.iter().any(|p| p.metadata.deletion_timestamp.is_some()));
        if running.is_empty() && !terminating {
            changes.create_on.push(name);
        }
        running.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        changes.delete.extend(running.into_iter().skip(1));
    }
    changes
}

/// `spec.updateStrategy.rollingUpdate.maxUnavailable` of `desired` nodes: rounded up, at
/// least 1 (upstream's `updatedDesiredNodeCounts` without surge).
pub fn max_unavailable(ds: &DaemonSet, desired: i32) -> i32 {
    let configured = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.clone())
        .unwrap_or(IntOrString::Int(1));
    scaled_value(&configured, desired, true).max(1)
}

/// The old-revision pods to delete now on eligible nodes: unavailable ones at once, then
/// available ones while fewer than `max_unavailable` nodes lack an available pod.
pub fn rolling_deletions<'a>(
    eligible: &[String],
    by_node: &BTreeMap<String, Vec<&'a Pod>>,
    hash: &str,
    max_unavailable: i32,
    min_ready_seconds: i32,
    now: jiff::Timestamp,
) -> Vec<&'a Pod> {
    let available = |p: &Pod| p.metadata.deletion_timestamp.is_none() && is_available(p, min_ready_seconds, now);
    let mut unavailable = 0;
    let mut candidates = Vec::new();
    let mut delete = Vec::new();
    for node in eligible {
        let pods = by_node.get(node).map(Vec::as_slice).unwrap_or_default();
        let old = pods.iter().find(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.metadata.labels.as_ref().and_then(|l| l.get(REVISION_LABEL)).map(String::as_str) != Some(hash)
        });
        if !pods.iter().any(|p| available(p)) {
            unavailable += 1;
            delete.extend(old.copied());
        } else if let Some(old) = old {
            candidates.push(*old);
        }
    }
    for pod in candidates {
        if unavailable >= max_unavailable {
            break;
        }
        delete.push(pod);
        unavailable += 1;
    }
    delete
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemonset::placement::{pinned_to, with_daemon_tolerations};
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str) -> Node {
        Node { metadata: ObjectMeta { name: Some(name.into()), ..Default::default() }, ..Default::default() }
    }

    fn pod(node: &str, hash: &str, ready: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(format!("ds-{node}")),
                labels: Some([(REVISION_LABEL.into(), hash.into())].into()),
                ..Default::default()
            },
            spec: Some(pinned_to(PodSpec::default(), node)),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn every_eligible_node_gets_one_pod() {
        let spec = with_daemon_tolerations(PodSpec::default());
        let nodes = [node("a"), node("b")];
        let node_refs: Vec<&Node> = nodes.iter().collect();
        let pods = [pod("a", "h", true), pod("a", "h", true)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let changes = placement(&spec, &node_refs, &pods_by_node(&refs));
        assert_eq!(changes.create_on, ["b"]);
        assert_eq!(changes.delete.len(), 1, "the duplicate on a goes");
    }

    #[test]
    fn rolling_update_respects_max_unavailable() {
        let pods = [pod("a", "old", true), pod("b", "old", true), pod("c", "old", false)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let eligible: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let now = jiff::Timestamp::now();
        let delete = rolling_deletions(&eligible, &pods_by_node(&refs), "new", 1, 0, now);
        assert_eq!(delete.len(), 1, "only the unavailable pod: the budget of 1 is spent");
        assert_eq!(target_node(delete[0]), Some("c"));
        let delete = rolling_deletions(&eligible, &pods_by_node(&refs), "new", 2, 0, now);
        assert_eq!(delete.len(), 2);
    }
}
