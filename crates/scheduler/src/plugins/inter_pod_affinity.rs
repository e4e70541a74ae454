//! InterPodAffinity: required pod affinity (the node's topology domain must hold a pod the
//! term selects) and anti-affinity (it must not), including existing pods' anti-affinity
//! against the incoming pod; preferred terms (both ways) score the domains.

use crate::framework::{FilterPlugin, MAX_NODE_SCORE, NodeInfo, PluginState, Rejection, ScorePlugin, Snapshot};
use client_runtime::labels::{selector_is_empty, selects};
use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};
use std::collections::{BTreeMap, HashMap, HashSet};

pub struct InterPodAffinity;

/// The weight an existing pod's required affinity lends the domains it matches.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

/// Whether `term`, written by a pod in `owner_namespace`, selects `other`. Namespace
/// selectors other than `{}` (every namespace) need Namespace labels and select nothing here.
pub fn term_selects(term: &PodAffinityTerm, owner_namespace: &str, other: &Pod) -> bool {
    let namespace = other.metadata.namespace.as_deref().unwrap_or_default();
    let listed = term.namespaces.as_deref().unwrap_or_default();
    let namespace_ok = match &term.namespace_selector {
        Some(selector) if selector_is_empty(selector) => true,
        Some(_) => listed.iter().any(|n| n == namespace),
        None if listed.is_empty() => namespace == owner_namespace,
        None => listed.iter().any(|n| n == namespace),
    };
    let empty = BTreeMap::new();
    let labels = other.metadata.labels.as_ref().unwrap_or(&empty);
    namespace_ok && term.label_selector.as_ref().is_some_and(|selector| selects(selector, labels))
}

fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or_default()
}

fn required(pod: &Pod) -> (&[PodAffinityTerm], &[PodAffinityTerm]) {
    let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
    let affinity_terms = affinity
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default();
    let anti_terms = affinity
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default();
    (affinity_terms, anti_terms)
}

/// Every pod in the snapshot with the labels of its node.
fn placed(snapshot: &Snapshot) -> impl Iterator<Item = (&Pod, &BTreeMap<String, String>)> {
    snapshot.nodes.iter().flat_map(|node| node.pods.iter().map(move |pod| (pod.as_ref(), node.labels())))
}

/// The pods with affinity terms (with `required_anti`: required anti-affinity terms) on
/// every node, with the labels of their node.
fn placed_with_affinity(
    snapshot: &Snapshot,
    required_anti: bool,
) -> impl Iterator<Item = (&Pod, &BTreeMap<String, String>)> {
    snapshot.nodes_with_affinity(required_anti).flat_map(move |node| {
        let pods = if required_anti { &node.pods_with_required_anti_affinity } else { &node.pods_with_affinity };
        pods.iter().map(move |pod| (pod.as_ref(), node.labels()))
    })
}

/// `pod`'s preferred pod affinity and anti-affinity terms.
fn preferred(pod: &Pod) -> (&[WeightedPodAffinityTerm], &[WeightedPodAffinityTerm]) {
    let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
    let wanted = affinity
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default();
    let avoided = affinity
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| a.preferred_during_scheduling_ignored_during_execution.as_deref())
        .unwrap_or_default();
    (wanted, avoided)
}

/// Topology domains (`key=value`) per required term: where pods it selects run.
struct FilterState {
    /// Domains existing pods' anti-affinity keeps the incoming pod out of.
    forbidden_by_existing: HashSet<(String, String)>,
    affinity: Vec<(String, HashSet<String>)>,
    anti_affinity: Vec<(String, HashSet<String>)>,
    /// No pod anywhere matches the affinity terms, but the pod matches them itself (the
    /// first pod of a group that wants to be together).
    first_of_its_group: bool,
}

fn domains_of(term: &PodAffinityTerm, pod: &Pod, snapshot: &Snapshot) -> HashSet<String> {
    placed(snapshot)
        .filter(|(other, _)| term_selects(term, namespace(pod), other))
        .filter_map(|(_, labels)| labels.get(&term.topology_key).cloned())
        .collect()
}

impl FilterPlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        "InterPodAffinity"
    }

    fn pre_filter(&self, pod: &Pod, snapshot: &Snapshot) -> Option<PluginState> {
        let mut forbidden_by_existing = HashSet::new();
        for (other, labels) in placed_with_affinity(snapshot, true) {
            for term in required(other).1 {
                if term_selects(term, namespace(other), pod)
                    && let Some(value) = labels.get(&term.topology_key)
                {
                    forbidden_by_existing.insert((term.topology_key.clone(), value.clone()));
                }
            }
        }
        let (affinity_terms, anti_terms) = required(pod);
        if forbidden_by_existing.is_empty() && affinity_terms.is_empty() && anti_terms.is_empty() {
            return None;
        }
        let affinity: Vec<(String, HashSet<String>)> =
            affinity_terms.iter().map(|t| (t.topology_key.clone(), domains_of(t, pod, snapshot))).collect();
        let anti_affinity = anti_terms.iter().map(|t| (t.topology_key.clone(), domains_of(t, pod, snapshot))).collect();
        let first_of_its_group = affinity.iter().all(|(_, domains)| domains.is_empty())
            && affinity_terms.iter().all(|t| term_selects(t, namespace(pod), pod));
        Some(Box::new(FilterState { forbidden_by_existing, affinity, anti_affinity, first_of_its_group }))
    }

    fn filter(&self, _pod: &Pod, node: &NodeInfo, state: Option<&PluginState>) -> Result<(), Rejection> {
        let Some(state) = state.and_then(|s| s.downcast_ref::<FilterState>()) else { return Ok(()) };
        let labels = node.labels();
        if state.forbidden_by_existing.iter().any(|(key, value)| labels.get(key) == Some(value)) {
            return Err(Rejection::unschedulable("node(s) didn't satisfy existing pods anti-affinity rules"));
        }
        let in_domain =
            |(key, domains): &(String, HashSet<String>)| labels.get(key).is_some_and(|v| domains.contains(v));
        let affinity_ok = if state.first_of_its_group {
            state.affinity.iter().all(|(key, _)| labels.contains_key(key))
        } else {
            state.affinity.iter().all(in_domain)
        };
        if !affinity_ok {
            return Err(Rejection::unresolvable("node(s) didn't match pod affinity rules"));
        }
        if state.anti_affinity.iter().any(in_domain) {
            return Err(Rejection::unschedulable("node(s) didn't match pod anti-affinity rules"));
        }
        Ok(())
    }
}

impl ScorePlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        "InterPodAffinity"
    }

    fn weight(&self) -> i64 {
        2
    }

    /// The weight each topology domain earns from preferred terms, both the incoming pod's
    /// about the pods there and theirs about it.
    fn pre_score(&self, pod: &Pod, snapshot: &Snapshot) -> Option<PluginState> {
        let mut weights: HashMap<(String, String), i64> = HashMap::new();
        let mut add = |term: &PodAffinityTerm, labels: &BTreeMap<String, String>, weight: i64| {
            if let Some(value) = labels.get(&term.topology_key) {
                *weights.entry((term.topology_key.clone(), value.clone())).or_default() += weight;
            }
        };
        let (wanted, avoided) = preferred(pod);
        // Without preferred terms of its own, only pods with affinity terms can weigh in.
        let others: Box<dyn Iterator<Item = (&Pod, &BTreeMap<String, String>)>> =
            if wanted.is_empty() && avoided.is_empty() {
                Box::new(placed_with_affinity(snapshot, false))
            } else {
                Box::new(placed(snapshot))
            };
        for (other, labels) in others {
            for term in wanted {
                if term_selects(&term.pod_affinity_term, namespace(pod), other) {
                    add(&term.pod_affinity_term, labels, i64::from(term.weight));
                }
            }
            for term in avoided {
                if term_selects(&term.pod_affinity_term, namespace(pod), other) {
                    add(&term.pod_affinity_term, labels, -i64::from(term.weight));
                }
            }
            let (their_wanted, their_avoided) = preferred(other);
            for term in their_wanted {
                if term_selects(&term.pod_affinity_term, namespace(other), pod) {
                    add(&term.pod_affinity_term, labels, i64::from(term.weight));
                }
            }
            for term in their_avoided {
                if term_selects(&term.pod_affinity_term, namespace(other), pod) {
                    add(&term.pod_affinity_term, labels, -i64::from(term.weight));
                }
            }
            for term in required(other).0 {
                if term_selects(term, namespace(other), pod) {
                    add(term, labels, HARD_POD_AFFINITY_WEIGHT);
                }
            }
        }
        (!weights.is_empty()).then(|| Box::new(weights) as PluginState)
    }

    fn score(&self, _pod: &Pod, node: &NodeInfo, _snapshot: &Snapshot, state: Option<&PluginState>) -> i64 {
        let Some(weights) = state.and_then(|s| s.downcast_ref::<HashMap<(String, String), i64>>()) else { return 0 };
        let labels = node.labels();
        weights.iter().filter(|((key, value), _)| labels.get(key) == Some(value)).map(|(_, weight)| weight).sum()
    }

    /// Min-max scaling; every node scores 0 when all are equal.
    fn normalize(&self, scores: &mut [i64]) {
        let max = scores.iter().copied().max().unwrap_or(0);
        let min = scores.iter().copied().min().unwrap_or(0);
        for score in scores.iter_mut() {
            *score = if max > min { MAX_NODE_SCORE * (*score - min) / (max - min) } else { 0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    fn app(name: &str, app: &str, affinity: serde_json::Value) -> Pod {
        let mut p = pod(json!({"containers": [], "affinity": affinity}));
        p.metadata.name = Some(name.to_owned());
        p.metadata.labels = Some([("app".to_owned(), app.to_owned())].into());
        p
    }

    fn term(app: &str) -> serde_json::Value {
        json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"})
    }

    fn cluster(placed: Vec<(&str, Pod)>) -> Snapshot {
        let mut nodes = vec![node("n1", json!({})), node("n2", json!({}))];
        for (name, pod) in placed {
            nodes.iter_mut().find(|n| n.name() == name).unwrap().add_pod(Arc::new(pod));
        }
        Snapshot { nodes, ..Default::default() }
    }

    fn feasible(pod: &Pod, snapshot: &Snapshot) -> Vec<String> {
        let state = InterPodAffinity.pre_filter(pod, snapshot);
        snapshot
            .nodes
            .iter()
            .filter(|n| InterPodAffinity.filter(pod, n, state.as_ref()).is_ok())
            .map(|n| n.name().to_owned())
            .collect()
    }

    #[test]
    fn required_affinity_follows_the_selected_pods() {
        let snapshot = cluster(vec![("n2", app("db", "db", json!(null)))]);
        let wants_db =
            app("web", "web", json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db")]}}));
        assert_eq!(feasible(&wants_db, &snapshot), ["n2"]);
        // The first pod of a group that wants itself may go anywhere.
        let wants_own = app(
            "c",
            "cache",
            json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("cache")]}}),
        );
        assert_eq!(feasible(&wants_own, &snapshot), ["n1", "n2"]);
    }

    #[test]
    fn anti_affinity_works_both_ways() {
        let loner = app(
            "l",
            "loner",
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("web")]}}),
        );
        let snapshot = cluster(vec![("n1", loner)]);
        let refusal = InterPodAffinity
            .filter(
                &app("w", "web", json!(null)),
                &snapshot.nodes[0],
                InterPodAffinity.pre_filter(&app("w", "web", json!(null)), &snapshot).as_ref(),
            )
            .unwrap_err();
        assert_eq!(refusal.reasons, ["node(s) didn't satisfy existing pods anti-affinity rules"]);
        let snapshot = cluster(vec![("n1", app("w1", "web", json!(null)))]);
        let spread = app(
            "w2",
            "web",
            json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("web")]}}),
        );
        assert_eq!(feasible(&spread, &snapshot), ["n2"]);
    }

    #[test]
    fn preferred_terms_score_domains() {
        let snapshot = cluster(vec![("n2", app("db", "db", json!(null)))]);
        let likes_db = app(
            "web",
            "web",
            json!({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "podAffinityTerm": term("db")}]}}),
        );
        let state = InterPodAffinity.pre_score(&likes_db, &snapshot);
        let mut scores: Vec<i64> =
            snapshot.nodes.iter().map(|n| InterPodAffinity.score(&likes_db, n, &snapshot, state.as_ref())).collect();
        InterPodAffinity.normalize(&mut scores);
        assert_eq!(scores, [0, 100]);
    }
}
