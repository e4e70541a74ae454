//! Taint-based eviction (upstream's `taint-eviction-controller`): a pod on a node with a
//! `NoExecute` taint it does not tolerate is deleted at once; one whose tolerations of all
//! such taints are bounded by `tolerationSeconds` is deleted when the shortest runs out,
//! counted from the taint's `timeAdded`. [`crate::node_lifecycle`] calls it for each node.

use component_helpers::tolerates;
use k8s_openapi::api::core::v1::{Pod, Taint, Toleration};
use std::time::Duration;

pub const NO_EXECUTE: &str = "NoExecute";

/// When a pod on a node with `taints` must go: `None` for never, a zero duration for now.
/// `since_added` says how long ago a taint was added (unknown times count as just now).
pub fn eviction_delay(pod: &Pod, taints: &[Taint], since_added: impl Fn(&Taint) -> Duration) -> Option<Duration> {
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default();
    let mut delay: Option<Duration> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let matching: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return Some(Duration::ZERO);
        }
        // Several tolerations of one taint: upstream takes the shortest bounded one.
        let Some(seconds) = matching.iter().filter_map(|t| t.toleration_seconds).min() else { continue };
        let remaining = Duration::from_secs(seconds.max(0) as u64).saturating_sub(since_added(taint));
        delay = Some(delay.map_or(remaining, |d| d.min(remaining)));
    }
    delay
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint { key: key.into(), effect: effect.into(), ..Default::default() }
    }

    fn pod(tolerations: Vec<Toleration>) -> Pod {
        Pod { spec: Some(PodSpec { tolerations: Some(tolerations), ..Default::default() }), ..Default::default() }
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some(NO_EXECUTE.into()),
            toleration_seconds: seconds,
            ..Default::default()
        }
    }

    const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

    #[test]
    fn an_untolerated_no_execute_taint_evicts_now() {
        let taints = [taint(UNREACHABLE, NO_EXECUTE)];
        assert_eq!(eviction_delay(&pod(vec![]), &taints, |_| Duration::ZERO), Some(Duration::ZERO));
    }

    #[test]
    fn toleration_seconds_count_from_the_taint() {
        let taints = [taint(UNREACHABLE, NO_EXECUTE), taint("node.kubernetes.io/unschedulable", "NoSchedule")];
        let p = pod(vec![toleration(UNREACHABLE, Some(300))]);
        assert_eq!(eviction_delay(&p, &taints, |_| Duration::from_secs(100)), Some(Duration::from_secs(200)));
        assert_eq!(eviction_delay(&p, &taints, |_| Duration::from_secs(400)), Some(Duration::ZERO));
    }

    #[test]
    fn unbounded_tolerations_and_no_taints_never_evict() {
        let taints = [taint(UNREACHABLE, NO_EXECUTE)];
        assert_eq!(eviction_delay(&pod(vec![toleration(UNREACHABLE, None)]), &taints, |_| Duration::ZERO), None);
        assert_eq!(eviction_delay(&pod(vec![]), &[], |_| Duration::ZERO), None);
    }
}
