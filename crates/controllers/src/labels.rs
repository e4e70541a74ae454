//! Label selectors as controllers apply them to the objects they own (upstream's
//! `metav1.LabelSelectorAsSelector` and `labels.SelectorFromSet`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// Whether `selector` selects an object with `labels`. An empty selector selects everything;
/// an unknown operator selects nothing (validation refuses it).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
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

/// Whether a set-based selector (a ReplicationController's `spec.selector`) selects `labels`;
/// an empty set selects nothing, as upstream's `SelectorFromSet` of an empty map is treated.
pub fn set_selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

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
    fn a_set_selector_needs_every_pair() {
        assert!(set_selects(&labels(&[("app", "web")]), &labels(&[("app", "web"), ("x", "y")])));
        assert!(!set_selects(&labels(&[("app", "web")]), &labels(&[("app", "db")])));
        assert!(!set_selects(&labels(&[]), &labels(&[("app", "web")])));
    }
}
