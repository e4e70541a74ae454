//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints keep out pods that do not
//! tolerate them; `PreferNoSchedule` taints lower the node's score.

use crate::framework::{FilterPlugin, NodeInfo, PluginState, Rejection, ScorePlugin, Snapshot, normalize_scores};
use component_helpers::tolerates;
use k8s_openapi::api::core::v1::{Pod, Taint, Toleration};

pub struct TaintToleration;

fn tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default()
}

fn taints(node: &NodeInfo) -> &[Taint] {
    node.node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default()
}

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _state: Option<&PluginState>) -> Result<(), Rejection> {
        let tolerations = tolerations(pod);
        let untolerated = taints(node)
            .iter()
            .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
            .find(|taint| !tolerations.iter().any(|t| tolerates(t, taint)));
        match untolerated {
            Some(taint) => Err(Rejection::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or_default()
            ))),
            None => Ok(()),
        }
    }
}

impl ScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }

    fn weight(&self) -> i64 {
        3
    }

    /// The number of `PreferNoSchedule` taints the pod does not tolerate.
    fn score(&self, pod: &Pod, node: &NodeInfo, _snapshot: &Snapshot, _state: Option<&PluginState>) -> i64 {
        let tolerations: Vec<&Toleration> = tolerations(pod)
            .iter()
            .filter(|t| t.effect.as_deref().is_none_or(|e| e.is_empty() || e == "PreferNoSchedule"))
            .collect();
        let untolerated = taints(node)
            .iter()
            .filter(|t| t.effect == "PreferNoSchedule")
            .filter(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
            .count();
        untolerated as i64
    }

    fn normalize(&self, scores: &mut [i64]) {
        normalize_scores(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn untolerated_hard_taints_refuse_the_pod() {
        let tainted =
            node("n1", json!({"spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}));
        let plain = pod(json!({"containers": []}));
        let refusal = TaintToleration.filter(&plain, &tainted, None).unwrap_err();
        assert_eq!(refusal.reasons, ["node(s) had untolerated taint {dedicated: db}"]);
        let tolerant = pod(json!({"containers": [], "tolerations": [{"key": "dedicated", "value": "db"}]}));
        assert!(TaintToleration.filter(&tolerant, &tainted, None).is_ok());
        let wrong_value = pod(json!({"containers": [], "tolerations": [{"key": "dedicated", "value": "web"}]}));
        assert!(TaintToleration.filter(&wrong_value, &tainted, None).is_err());
        let everything = pod(json!({"containers": [], "tolerations": [{"operator": "Exists"}]}));
        assert!(TaintToleration.filter(&everything, &tainted, None).is_ok());
    }

    #[test]
    fn prefer_no_schedule_taints_lower_the_score() {
        let soft = node("n1", json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}));
        let clean = node("n2", json!({}));
        let plain = pod(json!({"containers": []}));
        let snapshot = Snapshot::default();
        let mut scores = [
            TaintToleration.score(&plain, &soft, &snapshot, None),
            TaintToleration.score(&plain, &clean, &snapshot, None),
        ];
        TaintToleration.normalize(&mut scores);
        assert_eq!(scores, [0, 100]);
        assert!(TaintToleration.filter(&plain, &soft, None).is_ok());
    }
}
