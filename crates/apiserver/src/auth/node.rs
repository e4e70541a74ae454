//! Upstream's Node authorizer: a kubelet (`system:node:<name>` in `system:nodes`) may
//! read a Secret, ConfigMap, PersistentVolumeClaim, PersistentVolume or VolumeAttachment,
//! or mint a token for a ServiceAccount, only when a pod bound to its node leads to that
//! object; it may read only its own Node and touch only its own Lease and CSINode;
//! everything else is decided by the static `system:node` rules. The relationships live
//! in a [`Graph`] that watches on pods, persistent volumes and volume attachments keep
//! current, one event at a time.

use crate::registry::watch::WatchOptions;
use crate::registry::{ListOptions, Registry};
use crate::status::ApiResult;
use futures::StreamExt;
use k8s_openapi::api::rbac::v1::PolicyRule;
use resources::ResourceDef;
use std::sync::{Arc, RwLock};
use std::time::Duration;

mod graph;

use graph::Source;
pub use graph::{Graph, Kind};

const NODE_USER_PREFIX: &str = "system:node:";
const NODES_GROUP: &str = "system:nodes";
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a kubelet's identity names: `Some("")` for a node user without a name.
pub fn node_identity(user: &rbac::UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    user.groups.iter().any(|g| g == NODES_GROUP).then_some(name)
}

/// The authorizer: the graph and the static rules for what it does not subdivide.
pub struct NodeAuthorizer {
    graph: RwLock<Graph>,
    rules: Vec<PolicyRule>,
}

impl Default for NodeAuthorizer {
    fn default() -> Self {
        NodeAuthorizer { graph: RwLock::default(), rules: rbac::node_rules() }
    }
}

fn allow() -> rbac::Decision {
    rbac::Decision::Allow(String::new())
}

fn no_opinion(reason: impl Into<String>) -> rbac::Decision {
    rbac::Decision::NoOpinion(reason.into())
}

impl NodeAuthorizer {
    /// Change the graph (tests, and the watches of [`NodeAuthorizer::start_sync`]).
    pub fn with_graph<T>(&self, f: impl FnOnce(&mut Graph) -> T) -> T {
        f(&mut self.graph.write().expect("node graph lock"))
    }

    /// Decide a request: no opinion for anyone but kubelets, as upstream.
    pub fn authorize(&self, attrs: &rbac::Attributes) -> rbac::Decision {
        let Some(node) = node_identity(&attrs.user) else { return no_opinion("") };
        if node.is_empty() {
            return no_opinion(format!("unknown node for user {:?}", attrs.user.name));
        }
        if attrs.is_resource {
            let (verb, sub) = (attrs.verb.as_str(), attrs.subresource.as_str());
            match (attrs.api_group.as_str(), attrs.resource.as_str()) {
                ("", "secrets") => return self.read_namespaced(node, Kind::Secret, attrs),
                ("", "configmaps") => return self.read_namespaced(node, Kind::ConfigMap, attrs),
                ("", "persistentvolumeclaims") if sub == "status" => {
                    return match verb {
                        "update" | "patch" => self.related(node, Kind::PersistentVolumeClaim, attrs),
                        _ => no_opinion("can only get/update/patch this type"),
                    };
                }
                ("", "persistentvolumeclaims") => return self.get(node, Kind::PersistentVolumeClaim, attrs),
                ("", "persistentvolumes") => return self.get(node, Kind::PersistentVolume, attrs),
                ("storage.k8s.io", "volumeattachments") => return self.get(node, Kind::VolumeAttachment, attrs),
                ("", "serviceaccounts") => {
                    if verb != "create" || attrs.name.is_empty() {
                        return no_opinion("can only create tokens for individual service accounts");
                    }
                    if sub != "token" {
                        return no_opinion("can only create token subresource of serviceaccount");
                    }
                    return self.related(node, Kind::ServiceAccount, attrs);
                }
                ("coordination.k8s.io", "leases") => return lease(node, attrs),
                ("storage.k8s.io", "csinodes") => return csi_node(node, attrs),
                ("", "nodes") => return own_node(node, attrs),
                // A single pod is readable only when bound to the node. Lists and watches
                // fall to the static rules: upstream admits them with a
                // `spec.nodeName=<node>` field selector, which attributes do not carry here.
                ("", "pods") if verb == "get" && sub.is_empty() => return self.get(node, Kind::Pod, attrs),
                _ => {}
            }
        }
        if self.rules.iter().any(|rule| rbac::rule_allows(attrs, rule)) { allow() } else { no_opinion("") }
    }

    /// get, list and watch of one named object in a namespace.
    fn read_namespaced(&self, node: &str, kind: Kind, attrs: &rbac::Attributes) -> rbac::Decision {
        if !matches!(attrs.verb.as_str(), "get" | "list" | "watch") {
            return no_opinion("can only read resources of this type");
        }
        if !attrs.subresource.is_empty() {
            return no_opinion("cannot read subresource");
        }
        if attrs.namespace.is_empty() {
            return no_opinion("can only read namespaced object of this type");
        }
        self.related(node, kind, attrs)
    }

    fn get(&self, node: &str, kind: Kind, attrs: &rbac::Attributes) -> rbac::Decision {
        if attrs.verb != "get" {
            return no_opinion("can only get individual resources of this type");
        }
        if !attrs.subresource.is_empty() {
            return no_opinion("cannot get subresource");
        }
        self.related(node, kind, attrs)
    }

    fn related(&self, node: &str, kind: Kind, attrs: &rbac::Attributes) -> rbac::Decision {
        if attrs.name.is_empty() {
            return no_opinion("No Object name found");
        }
        if self.graph.read().expect("node graph lock").has_path(node, kind, &attrs.namespace, &attrs.name) {
            allow()
        } else {
            no_opinion(format!("no relationship found between node '{node}' and this object"))
        }
    }

    /// Fill the graph from the store and keep it current: one watch per followed
    /// collection applies each event; a watch that ends is replaced after a fresh list.
    pub async fn start_sync(self: &Arc<Self>, registry: Arc<Registry>) -> ApiResult<()> {
        for source in Source::ALL {
            let Some(def) = source.def() else { continue };
            let revision = self.relist(&registry, source, def).await?;
            let (me, registry) = (self.clone(), registry.clone());
            tokio::spawn(async move { me.follow(&registry, source, def, revision).await });
        }
        Ok(())
    }

    async fn relist(&self, registry: &Registry, source: Source, def: &'static ResourceDef) -> ApiResult<i64> {
        let listed = registry.list(def, "", &ListOptions::default()).await?;
        self.with_graph(|graph| {
            graph.clear(source);
            for item in &listed.items {
                graph.apply(source, false, item);
            }
        });
        Ok(listed.revision)
    }

    async fn follow(&self, registry: &Registry, source: Source, def: &'static ResourceDef, mut revision: i64) {
        loop {
            let opts = WatchOptions {
                resource_version: Some(revision.to_string()),
                timeout: Duration::from_secs(3600),
                ..Default::default()
            };
            if let Ok(mut events) = registry.watch(def, "", opts).await {
                while let Some(event) = events.next().await {
                    match event.kind {
                        "ADDED" | "MODIFIED" => self.with_graph(|g| g.apply(source, false, &event.object)),
                        "DELETED" => self.with_graph(|g| g.apply(source, true, &event.object)),
                        "BOOKMARK" => {}
                        _ => break,
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            match self.relist(registry, source, def).await {
                Ok(listed_at) => revision = listed_at,
                Err(e) => tracing::warn!(error = %e, ?source, "relisting for the node authorizer"),
            }
        }
    }
}

/// Leases: only in `kube-node-lease`, only the node's own (any name on create, which
/// NodeRestriction checks).
fn lease(node: &str, attrs: &rbac::Attributes) -> rbac::Decision {
    let verb = attrs.verb.as_str();
    if !matches!(verb, "get" | "create" | "update" | "patch" | "delete") {
        return no_opinion("can only get, create, update, patch, or delete a node lease");
    }
    if attrs.namespace != NODE_LEASE_NAMESPACE {
        return no_opinion(format!("can only access leases in the {NODE_LEASE_NAMESPACE:?} system namespace"));
    }
    if verb != "create" && attrs.name != node {
        return no_opinion("can only access node lease with the same name as the requesting node");
    }
    allow()
}

fn csi_node(node: &str, attrs: &rbac::Attributes) -> rbac::Decision {
    let verb = attrs.verb.as_str();
    if !matches!(verb, "get" | "create" | "update" | "patch" | "delete") {
        return no_opinion("can only get, create, update, patch, or delete a CSINode");
    }
    if !attrs.subresource.is_empty() {
        return no_opinion("cannot authorize CSINode subresources");
    }
    if verb != "create" && attrs.name != node {
        return no_opinion("can only access CSINode with the same name as the requesting node");
    }
    allow()
}

/// Nodes: create, update and patch (NodeRestriction limits them to the node's own), status
/// updates, and reads of the node's own object only.
fn own_node(node: &str, attrs: &rbac::Attributes) -> rbac::Decision {
    match (attrs.subresource.as_str(), attrs.verb.as_str()) {
        ("", "create" | "update" | "patch") | ("status", "update" | "patch") => allow(),
        ("", "get" | "list" | "watch") if attrs.name == node => allow(),
        ("", "get" | "list" | "watch") if attrs.name.is_empty() => {
            no_opinion(format!("node '{node}' cannot read all nodes, only its own Node object"))
        }
        ("", "get" | "list" | "watch") => {
            no_opinion(format!("node '{node}' cannot read '{}', only its own Node object", attrs.name))
        }
        _ => no_opinion(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn kubelet(node: &str) -> rbac::UserInfo {
        rbac::UserInfo::new(format!("system:node:{node}"), &["system:nodes", "system:authenticated"])
    }

    fn request(node: &str, verb: &str, resource: &str, namespace: &str, name: &str) -> rbac::Attributes {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        let api_group = match resource {
            "leases" => "coordination.k8s.io",
            "volumeattachments" | "csinodes" => "storage.k8s.io",
            _ => "",
        };
        rbac::Attributes {
            user: kubelet(node),
            verb: verb.into(),
            is_resource: true,
            api_group: api_group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    fn pod_on(node: &str, name: &str, spec: Value) -> Value {
        let mut pod =
            json!({"metadata": {"namespace": "default", "name": name, "uid": format!("uid-{name}")}, "spec": spec});
        pod["spec"]["nodeName"] = json!(node);
        pod
    }

    fn decide(authorizer: &NodeAuthorizer, attrs: rbac::Attributes) -> rbac::Decision {
        authorizer.authorize(&attrs)
    }

    #[test]
    fn secrets_of_a_bound_pod_are_readable_from_its_node_only() {
        let authorizer = NodeAuthorizer::default();
        let spec = json!({"volumes": [{"name": "v", "secret": {"secretName": "s"}}], "containers": [{"name": "c"}]});
        authorizer.with_graph(|g| g.add_pod(&pod_on("n1", "p", spec)));
        assert!(decide(&authorizer, request("n1", "get", "secrets", "default", "s")).is_allowed());
        let refused = decide(&authorizer, request("n2", "get", "secrets", "default", "s"));
        assert_eq!(refused, no_opinion("no relationship found between node 'n2' and this object"));
        assert!(!decide(&authorizer, request("n1", "get", "secrets", "default", "other")).is_allowed());
        assert!(!decide(&authorizer, request("n1", "get", "secrets", "kube-system", "s")).is_allowed());
        assert_eq!(
            decide(&authorizer, request("n1", "delete", "secrets", "default", "s")),
            no_opinion("can only read resources of this type")
        );
        assert_eq!(
            decide(&authorizer, request("n1", "list", "secrets", "default", "")),
            no_opinion("No Object name found")
        );
        authorizer.with_graph(|g| g.remove_pod("default", "p"));
        assert!(!decide(&authorizer, request("n1", "get", "secrets", "default", "s")).is_allowed());
    }

    #[test]
    fn references_through_env_projections_pulls_and_service_accounts() {
        let authorizer = NodeAuthorizer::default();
        let spec = json!({
            "serviceAccountName": "sa",
            "imagePullSecrets": [{"name": "pull"}],
            "initContainers": [{"name": "i", "envFrom": [{"configMapRef": {"name": "cm-from"}}]}],
            "containers": [{"name": "c", "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "env", "key": "k"}}}]}],
            "volumes": [
                {"name": "proj", "projected": {"sources": [{"configMap": {"name": "cm-proj"}}, {"secret": {"name": "s-proj"}}]}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "claim"}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}
            ]
        });
        authorizer.with_graph(|g| g.add_pod(&pod_on("n1", "p", spec)));
        for (resource, name) in [
            ("secrets", "pull"),
            ("secrets", "env"),
            ("secrets", "s-proj"),
            ("configmaps", "cm-from"),
            ("configmaps", "cm-proj"),
            ("persistentvolumeclaims", "claim"),
            ("persistentvolumeclaims", "p-scratch"),
            ("pods", "p"),
        ] {
            assert!(
                decide(&authorizer, request("n1", "get", resource, "default", name)).is_allowed(),
                "{resource} {name}"
            );
            assert!(
                !decide(&authorizer, request("n2", "get", resource, "default", name)).is_allowed(),
                "{resource} {name}"
            );
        }
        assert!(decide(&authorizer, request("n1", "create", "serviceaccounts/token", "default", "sa")).is_allowed());
        assert!(
            !decide(&authorizer, request("n1", "create", "serviceaccounts/token", "default", "other")).is_allowed()
        );
        assert!(!decide(&authorizer, request("n2", "create", "serviceaccounts/token", "default", "sa")).is_allowed());
        assert_eq!(
            decide(&authorizer, request("n1", "get", "serviceaccounts", "default", "sa")),
            no_opinion("can only create tokens for individual service accounts")
        );
    }

    #[test]
    fn volumes_and_their_secrets_follow_the_claim() {
        let authorizer = NodeAuthorizer::default();
        let pv = json!({"metadata": {"name": "pv1"}, "spec": {
            "claimRef": {"namespace": "default", "name": "claim"},
            "csi": {"driver": "d", "volumeHandle": "h", "nodePublishSecretRef": {"namespace": "ops", "name": "csi"}},
        }});
        authorizer.with_graph(|g| g.add_volume(&pv));
        assert!(!decide(&authorizer, request("n1", "get", "persistentvolumes", "", "pv1")).is_allowed());
        let spec = json!({"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "claim"}}]});
        authorizer.with_graph(|g| g.add_pod(&pod_on("n1", "p", spec)));
        assert!(decide(&authorizer, request("n1", "get", "persistentvolumes", "", "pv1")).is_allowed());
        assert!(decide(&authorizer, request("n1", "get", "secrets", "ops", "csi")).is_allowed());
        assert!(!decide(&authorizer, request("n2", "get", "secrets", "ops", "csi")).is_allowed());
        assert!(
            decide(&authorizer, request("n1", "patch", "persistentvolumeclaims/status", "default", "claim"))
                .is_allowed()
        );
        authorizer.with_graph(|g| g.remove_volume("pv1"));
        assert!(!decide(&authorizer, request("n1", "get", "secrets", "ops", "csi")).is_allowed());
    }

    #[test]
    fn mirror_pods_and_unbound_pods_grant_nothing() {
        let authorizer = NodeAuthorizer::default();
        let spec = json!({"volumes": [{"name": "v", "secret": {"secretName": "s"}}]});
        let mut mirror = pod_on("n1", "m", spec.clone());
        mirror["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "x"});
        let mut unbound = pod_on("n1", "u", spec);
        unbound["spec"].as_object_mut().unwrap().remove("nodeName");
        authorizer.with_graph(|g| {
            g.add_pod(&mirror);
            g.add_pod(&unbound);
        });
        assert!(decide(&authorizer, request("n1", "get", "pods", "default", "m")).is_allowed());
        assert!(!decide(&authorizer, request("n1", "get", "secrets", "default", "s")).is_allowed());
    }

    #[test]
    fn a_node_reads_only_its_own_node_and_updates_status() {
        let authorizer = NodeAuthorizer::default();
        assert!(decide(&authorizer, request("n1", "get", "nodes", "", "n1")).is_allowed());
        assert!(decide(&authorizer, request("n1", "patch", "nodes/status", "", "n1")).is_allowed());
        assert!(decide(&authorizer, request("n1", "update", "nodes/status", "", "n1")).is_allowed());
        assert_eq!(
            decide(&authorizer, request("n1", "get", "nodes", "", "n2")),
            no_opinion("node 'n1' cannot read 'n2', only its own Node object")
        );
        assert_eq!(
            decide(&authorizer, request("n1", "list", "nodes", "", "")),
            no_opinion("node 'n1' cannot read all nodes, only its own Node object")
        );
        assert!(!decide(&authorizer, request("n1", "delete", "nodes", "", "n1")).is_allowed());
    }

    #[test]
    fn leases_only_the_nodes_own_in_kube_node_lease() {
        let authorizer = NodeAuthorizer::default();
        assert!(decide(&authorizer, request("n1", "update", "leases", "kube-node-lease", "n1")).is_allowed());
        assert!(decide(&authorizer, request("n1", "create", "leases", "kube-node-lease", "")).is_allowed());
        assert_eq!(
            decide(&authorizer, request("n1", "update", "leases", "kube-node-lease", "n2")),
            no_opinion("can only access node lease with the same name as the requesting node")
        );
        assert_eq!(
            decide(&authorizer, request("n1", "get", "leases", "default", "n1")),
            no_opinion("can only access leases in the \"kube-node-lease\" system namespace")
        );
        assert!(!decide(&authorizer, request("n1", "list", "leases", "kube-node-lease", "")).is_allowed());
    }

    #[test]
    fn static_rules_for_the_rest_and_no_opinion_for_others() {
        let authorizer = NodeAuthorizer::default();
        assert!(decide(&authorizer, request("n1", "create", "events", "default", "")).is_allowed());
        assert!(decide(&authorizer, request("n1", "list", "services", "", "")).is_allowed());
        assert!(!decide(&authorizer, request("n1", "create", "deployments", "default", "")).is_allowed());
        let mut other = request("n1", "get", "nodes", "", "n1");
        other.user = rbac::UserInfo::new("system:node:n1", &["system:authenticated"]);
        assert_eq!(authorizer.authorize(&other), no_opinion(""));
        other.user = rbac::UserInfo::new("system:node:", &["system:nodes"]);
        assert_eq!(authorizer.authorize(&other), no_opinion("unknown node for user \"system:node:\""));
    }
}
