//! Pending pods nominated to a node by an earlier preemption (upstream's nominator): those
//! whose `status.nominatedNodeName` the watch shows, and the nominations this scheduler
//! wrote that the watch may not show yet, which take precedence until it does. Kept event
//! by event, so a cycle need not scan every pod for them.

use crate::cache::PodKey;
use k8s_openapi::api::core::v1::Pod;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The `status.nominatedNodeName` of `pod` (`""` when none).
pub fn nominated_node(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.nominated_node_name.as_deref()).unwrap_or_default()
}

#[derive(Default)]
pub struct Nominator {
    /// Pending pods the watch shows nominated.
    visible: HashMap<PodKey, Arc<Pod>>,
    /// Nominations written (`""`: cleared) and the pod they were written for.
    written: HashMap<PodKey, (String, Arc<Pod>)>,
}

impl Nominator {
    pub fn new() -> Nominator {
        Nominator::default()
    }

    /// The watch shows `pod` pending.
    pub fn observe_pending(&mut self, key: PodKey, pod: Arc<Pod>) {
        if let Some((node, written_for)) = self.written.get_mut(&key) {
            // The watch caught up with what was written.
            if node == nominated_node(&pod) {
                self.written.remove(&key);
            } else {
                *written_for = pod.clone();
            }
        }
        if nominated_node(&pod).is_empty() {
            self.visible.remove(&key);
        } else {
            self.visible.insert(key, pod);
        }
    }

    /// The pod is gone, bound, or no longer this scheduler's.
    pub fn forget(&mut self, key: &PodKey) {
        self.visible.remove(key);
        self.written.remove(key);
    }

    /// This scheduler wrote `node` (`""`: cleared) as `pod`'s nomination.
    pub fn write(&mut self, key: PodKey, node: String, pod: Arc<Pod>) {
        self.written.insert(key, (node, pod));
    }

    /// The nomination written for `key` and not yet seen, if any.
    pub fn written(&self, key: &PodKey) -> Option<&str> {
        self.written.get(key).map(|(node, _)| node.as_str())
    }

    /// The nominated pods by node, leaving out those `skip` says (assumed pods) and nodes
    /// `exists` does not know.
    pub fn by_node(
        &self,
        skip: impl Fn(&PodKey) -> bool,
        exists: impl Fn(&str) -> bool,
    ) -> BTreeMap<String, Vec<Arc<Pod>>> {
        let mut nominated: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
        let visible = self.visible.iter().filter(|(key, _)| !self.written.contains_key(*key));
        let visible = visible.map(|(key, pod)| (key, nominated_node(pod), pod));
        let written = self.written.iter().map(|(key, (node, pod))| (key, node.as_str(), pod));
        for (key, node, pod) in visible.chain(written) {
            if !node.is_empty() && !skip(key) && exists(node) {
                nominated.entry(node.to_owned()).or_default().push(pod.clone());
            }
        }
        nominated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::testing::pod;
    use serde_json::json;

    fn nominated_to(name: &str, node: &str) -> Arc<Pod> {
        let mut p = pod(json!({"containers": []}));
        p.metadata.name = Some(name.to_owned());
        p.status = Some(serde_json::from_value(json!({"nominatedNodeName": node})).unwrap());
        Arc::new(p)
    }

    fn key(name: &str) -> PodKey {
        ("default".to_owned(), name.to_owned())
    }

    fn names(nominator: &Nominator) -> Vec<(String, Vec<String>)> {
        let by_node = nominator.by_node(|_| false, |_| true);
        by_node
            .into_iter()
            .map(|(n, pods)| (n, pods.iter().map(|p| p.metadata.name.clone().unwrap()).collect()))
            .collect()
    }

    #[test]
    fn written_nominations_win_until_the_watch_shows_them() {
        let mut nominator = Nominator::new();
        nominator.observe_pending(key("p"), nominated_to("p", "a"));
        nominator.observe_pending(key("q"), nominated_to("q", ""));
        assert_eq!(names(&nominator), [("a".to_owned(), vec!["p".to_owned()])]);
        nominator.write(key("p"), String::new(), nominated_to("p", "a"));
        nominator.write(key("q"), "b".to_owned(), nominated_to("q", ""));
        assert_eq!(names(&nominator), [("b".to_owned(), vec!["q".to_owned()])]);
        // The watch shows the cleared nomination: the written one is no longer needed.
        nominator.observe_pending(key("p"), nominated_to("p", ""));
        assert_eq!(nominator.written(&key("p")), None);
        assert_eq!(nominator.written(&key("q")), Some("b"));
        nominator.forget(&key("q"));
        assert!(names(&nominator).is_empty());
    }
}
