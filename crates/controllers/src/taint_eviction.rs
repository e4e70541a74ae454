//! Taint-based eviction (upstream's `taint-eviction-controller`): a pod on a node with a
//! `NoExecute` taint it does not tolerate is deleted at once; one whose tolerations of all
//! such taints are bounded by `tolerationSeconds` is deleted when the shortest runs out,
//! counted from the taint's `timeAdded`. [`crate::node_lifecycle`] calls it for each node.

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

/// Whether `toleration` tolerates `taint` (upstream's `Toleration.ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    let operator = toleration.operator.as_deref().unwrap_or("Equal");
    if key.is_empty() {
        return operator == "Exists";
    }
    if key != taint.key {
        return false;
    }
    match operator {
        "Exists" => true,
        "Equal" => toleration.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        _ => false,
    }
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

    #[test]
    fn tolerations_match_by_key_value_and_effect() {
        let t = Taint { key: "k".into(), value: Some("v".into()), effect: NO_EXECUTE.into(), ..Default::default() };
        let equal = Toleration { key: Some("k".into()), value: Some("v".into()), ..Default::default() };
        let wrong = Toleration { key: Some("k".into()), value: Some("w".into()), ..Default::default() };
        let everything = Toleration { operator: Some("Exists".into()), ..Default::default() };
        let other_effect = Toleration { effect: Some("NoSchedule".into()), ..everything.clone() };
        assert!(tolerates(&equal, &t));
        assert!(!tolerates(&wrong, &t));
        assert!(tolerates(&everything, &t));
        assert!(!tolerates(&other_effect, &t));
    }
}
