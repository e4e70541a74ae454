//! The RBAC policy the authorizer consults: the bootstrap roles and bindings are
//! created at start, and a snapshot of every Role, ClusterRole and binding is rebuilt
//! whenever one changes (the API server's own informer over its store).

use crate::registry::watch::WatchOptions;
use crate::registry::{ListOptions, Registry};
use crate::status::ApiResult;
use futures::StreamExt;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::de::DeserializeOwned;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

const GROUP: &str = "rbac.authorization.k8s.io";
const KINDS: [&str; 4] = ["clusterroles", "roles", "clusterrolebindings", "rolebindings"];
/// Changes arriving together (a bootstrap, an apply of many objects) cause one rebuild.
const SETTLE: Duration = Duration::from_millis(20);

pub struct PolicyStore {
    current: RwLock<Arc<rbac::Policy>>,
    changed: Notify,
}

impl Default for PolicyStore {
    /// Starts with the bootstrap policy, so requests are decided before the first load.
    fn default() -> Self {
        let p = rbac::bootstrap_policy();
        let policy = rbac::Policy::new(&p.cluster_roles, &p.roles, &p.cluster_role_bindings, &p.role_bindings);
        PolicyStore { current: RwLock::new(Arc::new(policy)), changed: Notify::new() }
    }
}

async fn list<T: DeserializeOwned>(registry: &Registry, plural: &str) -> ApiResult<Vec<T>> {
    let def = resources::find(GROUP, "v1", plural).expect("RBAC kinds are served");
    let listed = registry.list(def, "", &ListOptions::default()).await?;
    Ok(listed.items.into_iter().filter_map(|v| serde_json::from_value(v).ok()).collect())
}

impl PolicyStore {
    pub fn current(&self) -> Arc<rbac::Policy> {
        self.current.read().expect("policy lock").clone()
    }

    /// Create the bootstrap roles and bindings that do not exist yet.
    pub async fn bootstrap(registry: &Registry) -> ApiResult<()> {
        let p = rbac::bootstrap_policy();
        let objects = p
            .cluster_roles
            .iter()
            .map(|o| ("clusterroles", String::new(), serde_json::to_value(o)))
            .chain(
                p.cluster_role_bindings.iter().map(|o| ("clusterrolebindings", String::new(), serde_json::to_value(o))),
            )
            .chain(
                p.roles
                    .iter()
                    .map(|o| ("roles", o.metadata.namespace.clone().unwrap_or_default(), serde_json::to_value(o))),
            )
            .chain(
                p.role_bindings.iter().map(|o| {
                    ("rolebindings", o.metadata.namespace.clone().unwrap_or_default(), serde_json::to_value(o))
                }),
            );
        // Concurrently, so the store commits them in a few group commits.
        let writes = objects.map(|(plural, ns, obj)| async move {
            let obj = obj.map_err(|e| crate::status::ApiError::Internal(e.to_string()))?;
            crate::bootstrap::ensure(registry, GROUP, "v1", plural, &ns, obj).await
        });
        for result in futures::future::join_all(writes).await {
            result?;
        }
        Ok(())
    }

    /// Rebuild the snapshot from the store. ClusterRoles with an aggregation rule are
    /// evaluated with their aggregated rules at once, before the aggregation controller
    /// writes them back.
    pub async fn reload(&self, registry: &Registry) -> ApiResult<()> {
        let mut cluster_roles: Vec<ClusterRole> = list(registry, "clusterroles").await?;
        let roles: Vec<Role> = list(registry, "roles").await?;
        let cluster_bindings: Vec<ClusterRoleBinding> = list(registry, "clusterrolebindings").await?;
        let bindings: Vec<RoleBinding> = list(registry, "rolebindings").await?;
        for (name, rules) in rbac::aggregate(&cluster_roles) {
            if let Some(role) = cluster_roles.iter_mut().find(|r| r.metadata.name.as_deref() == Some(&name)) {
                role.rules = Some(rules);
            }
        }
        let policy = rbac::Policy::new(&cluster_roles, &roles, &cluster_bindings, &bindings);
        *self.current.write().expect("policy lock") = Arc::new(policy);
        Ok(())
    }

    /// Keep the snapshot current: one watch per RBAC collection signals changes; a
    /// rebuild follows each burst of them.
    pub fn spawn_sync(self: &Arc<Self>, registry: Arc<Registry>) {
        for plural in KINDS {
            let (me, registry) = (self.clone(), registry.clone());
            tokio::spawn(async move {
                let def = resources::find(GROUP, "v1", plural).expect("RBAC kinds are served");
                loop {
                    let Ok(rev) = registry.store().current_revision().await else { break };
                    let opts = WatchOptions {
                        resource_version: Some(rev.to_string()),
                        timeout: Duration::from_secs(3600),
                        ..Default::default()
                    };
                    if let Ok(mut events) = registry.watch(def, "", opts).await {
                        while events.next().await.is_some() {
                            me.changed.notify_one();
                        }
                    }
                    // The watch ended (timeout or expiry): catch up on what it may have missed.
                    me.changed.notify_one();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.changed.notified().await;
                tokio::time::sleep(SETTLE).await;
                if let Err(e) = me.reload(&registry).await {
                    tracing::warn!(error = %e, "reloading the RBAC policy");
                }
            }
        });
    }
}
