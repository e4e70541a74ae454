//! Label selectors as components apply them (upstream's `metav1.LabelSelectorAsSelector`
//! and `labels.SelectorFromSet`): the `matchLabels`/`matchExpressions` form of workloads,
//! affinity and spreading, and the plain map of Services, ReplicationControllers and
//! `nodeSelector`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Whether `selector` selects an object with `labels`. An empty selector selects everything;
/// an unknown operator selects nothing (validation refuses it).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector.match_labels.as_ref().is_none_or(|m| map_selects(m, labels));
    let by_expression = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        match (e.operator.as_str(), labels.get(&e.key)) {
            ("In", Some(v)) => values.contains(v),
            ("In", None) => false,
            ("NotIn", Some(v)) => !values.contains(v),
            ("NotIn", None) => true,
            ("Exists", found) => found.is_some(),
            ("DoesNotExist", found) => found.is_none(),
            _ => false,
        }
    });
    by_label && by_expression
}

/// Whether `selector` is empty (no `matchLabels` pairs and no expressions). [`selects`] takes
/// everything with it; pod affinity and spreading treat it as selecting nothing.
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && selector.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// Whether `labels` carry every pair of the map `selector` (a `nodeSelector`). An empty map
/// selects everything; see [`set_selects`] for the selectors where it selects nothing.
pub fn map_selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Whether a set-based selector (a ReplicationController's or a Service's `spec.selector`)
/// selects `labels`; an empty set selects nothing, as upstream's `SelectorFromSet` of an
/// empty map is treated.
pub fn set_selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && map_selects(selector, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn match_labels_and_expressions_all_apply() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["front".into(), "back".into()]),
            }]),
        };
        assert!(selects(&selector, &labels(&[("app", "web"), ("tier", "front")])));
        assert!(!selects(&selector, &labels(&[("app", "web")])));
        assert!(!selects(&selector, &labels(&[("app", "db"), ("tier", "front")])));
        assert!(selects(&LabelSelector::default(), &labels(&[])));
    }

    #[test]
    fn expressions_and_labels_must_all_hold() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]
        }))
        .unwrap();
        assert!(selects(&selector, &labels(&[("app", "web"), ("tier", "a")])));
        assert!(!selects(&selector, &labels(&[("app", "web"), ("tier", "c")])));
        assert!(!selects(&selector, &labels(&[("tier", "a")])));
    }

    #[test]
    fn every_operator_follows_upstream() {
        let requirement = |operator: &str| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: operator.into(),
                values: Some(vec!["front".into()]),
            }]),
            ..Default::default()
        };
        let (front, back, none) = (labels(&[("tier", "front")]), labels(&[("tier", "back")]), labels(&[]));
        assert!(!selects(&requirement("NotIn"), &front));
        assert!(selects(&requirement("NotIn"), &back) && selects(&requirement("NotIn"), &none));
        assert!(selects(&requirement("Exists"), &back) && !selects(&requirement("Exists"), &none));
        assert!(!selects(&requirement("DoesNotExist"), &back) && selects(&requirement("DoesNotExist"), &none));
        assert!(!selects(&requirement("Gt"), &front), "an unknown operator selects nothing");
    }

    #[test]
    fn an_empty_selector_is_empty_whether_absent_or_empty() {
        assert!(selector_is_empty(&LabelSelector::default()));
        assert!(selector_is_empty(&LabelSelector { match_labels: Some(labels(&[])), match_expressions: Some(vec![]) }));
        assert!(!selector_is_empty(&LabelSelector { match_labels: Some(labels(&[("a", "b")])), ..Default::default() }));
    }

    #[test]
    fn a_map_selector_needs_every_pair_and_an_empty_one_selects_everything() {
        assert!(map_selects(&labels(&[("app", "web")]), &labels(&[("app", "web"), ("x", "y")])));
        assert!(!map_selects(&labels(&[("app", "web")]), &labels(&[("app", "db")])));
        assert!(map_selects(&labels(&[]), &labels(&[("app", "web")])));
    }

    #[test]
    fn a_set_selector_needs_every_pair() {
        assert!(set_selects(&labels(&[("app", "web")]), &labels(&[("app", "web"), ("x", "y")])));
        assert!(!set_selects(&labels(&[("app", "web")]), &labels(&[("app", "db")])));
        assert!(!set_selects(&labels(&[]), &labels(&[("app", "web")])));
    }
}
