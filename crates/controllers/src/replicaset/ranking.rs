//! Which pods a controller deletes first when it has too many (upstream's
//! `ActivePodsWithRanks` with `LogarithmicScaleDown`): unscheduled before scheduled,
//! Pending before Unknown before Running, not ready before ready, lower
//! `controller.kubernetes.io/pod-deletion-cost` first, pods doubled up on a node first,
//! ready for less time first, more restarts first, and newer before older (times compared
//! on a log2 scale, ties broken by uid).

use k8s_openapi::api::core::v1::Pod;
use std::cmp::Ordering;
use std::collections::HashMap;

pub const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Whether `pod` still counts: not finished and not being deleted (upstream's `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed")) && pod.metadata.deletion_timestamp.is_none()
}

/// The Ready condition's status is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

pub fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")
}

/// The `count` pods of `pods` to delete first; `related` are all the active pods of the same
/// owner, whose count per node ranks pods doubled up on a node first.
pub fn pods_to_delete<'a>(pods: &[&'a Pod], related: &[&Pod], count: usize, now: jiff::Timestamp) -> Vec<&'a Pod> {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in related {
        *on_node.entry(node(pod)).or_default() += 1;
    }
    let mut ranked: Vec<(&Pod, usize)> =
        pods.iter().map(|p| (*p, on_node.get(node(p)).copied().unwrap_or(0))).collect();
    ranked.sort_by(|a, b| delete_first(a, b, now));
    ranked.into_iter().take(count).map(|(p, _)| p).collect()
}

fn node(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default()
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> i32 {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses.into_iter().flatten().map(|c| c.restart_count).max().unwrap_or(0)
}

fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    ready_condition(pod).and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0)
}

/// `Less` of upstream's ranking as an ordering: `Less` means `a` is deleted before `b`.
fn delete_first(a: &(&Pod, usize), b: &(&Pod, usize), now: jiff::Timestamp) -> Ordering {
    let ((pa, rank_a), (pb, rank_b)) = (a, b);
    let (node_a, node_b) = (node(pa), node(pb));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return if node_a.is_empty() { Ordering::Less } else { Ordering::Greater };
    }
    let by_phase = phase_ordinal(pa).cmp(&phase_ordinal(pb));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    let (ready_a, ready_b) = (is_ready(pa), is_ready(pb));
    if ready_a != ready_b {
        return if ready_a { Ordering::Greater } else { Ordering::Less };
    }
    let by_cost = deletion_cost(pa).cmp(&deletion_cost(pb));
    if by_cost != Ordering::Equal {
        return by_cost;
    }
    if rank_a != rank_b {
        return rank_b.cmp(rank_a);
    }
    if ready_a && ready_b {
        let (since_a, since_b) = (ready_since(pa), ready_since(pb));
        if since_a != since_b {
            return newer_first(since_a, since_b, pa, pb, now);
        }
    }
    let by_restarts = max_restarts(pb).cmp(&max_restarts(pa));
    if by_restarts != Ordering::Equal {
        return by_restarts;
    }
    let (created_a, created_b) = (pa.metadata.creation_timestamp.as_ref(), pb.metadata.creation_timestamp.as_ref());
    if created_a != created_b {
        return newer_first(created_a.map(|t| t.0), created_b.map(|t| t.0), pa, pb, now);
    }
    Ordering::Equal
}

/// Empty times first, then the more recent on a log2 scale of their age; equal ranks go by uid.
fn newer_first(
    a: Option<jiff::Timestamp>,
    b: Option<jiff::Timestamp>,
    pa: &Pod,
    pb: &Pod,
    now: jiff::Timestamp,
) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => match log2_age(a, now).cmp(&log2_age(b, now)) {
            Ordering::Equal => pa.metadata.uid.cmp(&pb.metadata.uid),
            other => other,
        },
    }
}

/// upstream's rank of a time: log2 of its age in nanoseconds, -1 for a time not in the past.
fn log2_age(t: jiff::Timestamp, now: jiff::Timestamp) -> i64 {
    let age = now.as_nanosecond() - t.as_nanosecond();
    if age > 0 { age.ilog2() as i64 } else { -1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(name: &str, node: &str, phase: &str, ready: bool, age_secs: i64) -> Pod {
        let now = jiff::Timestamp::now();
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(name.into()),
                creation_timestamp: Some(Time(now - jiff::SignedDuration::from_secs(age_secs))),
                ..Default::default()
            },
            spec: Some(PodSpec { node_name: (!node.is_empty()).then(|| node.into()), ..Default::default() }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    fn order(pods: &[Pod]) -> Vec<String> {
        let refs: Vec<&Pod> = pods.iter().collect();
        pods_to_delete(&refs, &refs, pods.len(), jiff::Timestamp::now())
            .into_iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn unscheduled_pending_and_unready_pods_go_first() {
        let pods = [
            pod("running-ready", "n1", "Running", true, 100),
            pod("unscheduled", "", "Pending", false, 100),
            pod("running-unready", "n2", "Running", false, 100),
            pod("pending", "n3", "Pending", false, 100),
        ];
        assert_eq!(order(&pods), ["unscheduled", "pending", "running-unready", "running-ready"]);
    }

    #[test]
    fn doubled_up_then_newer_pods_go_first() {
        let pods = [
            pod("alone", "n1", "Running", false, 10),
            pod("shared-a", "n2", "Running", false, 10_000),
            pod("shared-b", "n2", "Running", false, 10_000),
        ];
        assert_eq!(order(&pods)[2], "alone");
        let pods = [pod("old", "n1", "Running", false, 100_000), pod("new", "n2", "Running", false, 10)];
        assert_eq!(order(&pods), ["new", "old"]);
    }

    #[test]
    fn a_lower_deletion_cost_goes_first() {
        let mut cheap = pod("cheap", "n1", "Running", true, 10);
        cheap.metadata.annotations = Some([(DELETION_COST_ANNOTATION.to_owned(), "-5".to_owned())].into());
        let pods = [pod("normal", "n2", "Running", true, 100_000), cheap];
        assert_eq!(order(&pods), ["cheap", "normal"]);
    }

    #[test]
    fn ages_in_the_same_log2_bucket_tie_break_by_uid() {
        let pods = [pod("b", "n1", "Running", false, 1000), pod("a", "n2", "Running", false, 1001)];
        assert_eq!(order(&pods), ["a", "b"]);
    }

    #[test]
    fn finished_and_deleting_pods_are_inactive() {
        assert!(is_active(&pod("p", "", "Pending", false, 1)));
        assert!(!is_active(&pod("p", "", "Succeeded", false, 1)));
        let mut deleting = pod("p", "", "Running", false, 1);
        deleting.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
        assert!(!is_active(&deleting));
    }
}
