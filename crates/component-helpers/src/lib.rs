//! Pod-placement predicates that the scheduler and the controllers (DaemonSet, taint
//! eviction) must agree on, as upstream keeps them in `component-helpers/scheduling/corev1`:
//! whether a toleration tolerates a taint, and whether a node matches a node selector term;
//! and how resource [`quantity`] strings count (the scheduler's fit and the kubelet's
//! admission and cgroup limits must agree on them).

pub mod quantity;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use std::collections::BTreeMap;

/// Whether `toleration` tolerates `taint` (upstream's `Toleration.ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" | "" => toleration.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        _ => false,
    }
}

/// Whether the node `name` with `labels` satisfies every requirement of `term`; a term
/// with no requirement matches nothing (upstream's `nodeaffinity` semantics).
pub fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions.iter().all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| r.key == "metadata.name" && requirement_matches(r, Some(name)))
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let as_number = |v: &str| v.parse::<i64>().ok();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(actual), Some(bound)) = (value.and_then(as_number), values.first().and_then(|v| as_number(v)))
            else {
                return false;
            };
            if requirement.operator == "Gt" { actual > bound } else { actual < bound }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerations_match_by_key_value_and_effect() {
        let t = Taint { key: "k".into(), value: Some("v".into()), effect: "NoExecute".into(), ..Default::default() };
        let equal = Toleration { key: Some("k".into()), value: Some("v".into()), ..Default::default() };
        let wrong = Toleration { key: Some("k".into()), value: Some("w".into()), ..Default::default() };
        let everything = Toleration { operator: Some("Exists".into()), ..Default::default() };
        let other_effect = Toleration { effect: Some("NoSchedule".into()), ..everything.clone() };
        assert!(tolerates(&equal, &t));
        assert!(!tolerates(&wrong, &t));
        assert!(tolerates(&everything, &t));
        assert!(!tolerates(&other_effect, &t));
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        let values = Some(values.iter().map(|v| (*v).to_owned()).collect());
        NodeSelectorRequirement { key: key.into(), operator: operator.into(), values }
    }

    #[test]
    fn terms_match_labels_and_the_node_name() {
        let labels: BTreeMap<String, String> =
            [("zone".to_owned(), "a".to_owned()), ("cpus".to_owned(), "8".to_owned())].into();
        let term = |expressions: Vec<NodeSelectorRequirement>, fields: Vec<NodeSelectorRequirement>| NodeSelectorTerm {
            match_expressions: Some(expressions),
            match_fields: Some(fields),
        };
        assert!(term_matches(&term(vec![requirement("zone", "In", &["a", "b"])], vec![]), &labels, "n1"));
        assert!(!term_matches(&term(vec![requirement("zone", "NotIn", &["a"])], vec![]), &labels, "n1"));
        assert!(term_matches(&term(vec![requirement("gpu", "DoesNotExist", &[])], vec![]), &labels, "n1"));
        assert!(term_matches(&term(vec![requirement("cpus", "Gt", &["4"])], vec![]), &labels, "n1"));
        assert!(!term_matches(&term(vec![requirement("cpus", "Lt", &["4"])], vec![]), &labels, "n1"));
        assert!(term_matches(&term(vec![], vec![requirement("metadata.name", "In", &["n1"])]), &labels, "n1"));
        assert!(!term_matches(&term(vec![], vec![requirement("metadata.name", "In", &["n1"])]), &labels, "n2"));
        assert!(!term_matches(&term(vec![], vec![]), &labels, "n1"), "an empty term matches nothing");
    }
}
