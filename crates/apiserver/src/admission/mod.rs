//! Admission plugins, in upstream's order. [`Chain`] runs them all; each plugin is a file.

mod amount;
mod canonical;
mod default_storage_class;
mod default_toleration_seconds;
mod limit_ranger;
mod namespace_lifecycle;
mod node_restriction;
mod pod_resources;
mod priority;
mod rbac_escalation;
mod refusal;
mod resource_quota;
mod service_account;

use crate::auth::policy::PolicyStore;
use crate::registry::Registry;
use crate::registry::admission::{Admission, Attributes};
use crate::status::ApiResult;
use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;

pub use default_storage_class::DefaultStorageClass;
pub use default_toleration_seconds::DefaultTolerationSeconds;
pub use limit_ranger::LimitRanger;
pub use namespace_lifecycle::NamespaceLifecycle;
pub use node_restriction::NodeRestriction;
pub use priority::Priority;
pub use rbac_escalation::RbacEscalation;
pub use resource_quota::ResourceQuota;
pub use service_account::ServiceAccount;

/// Every plugin, run in order; the first refusal wins.
pub struct Chain(Vec<Box<dyn Admission>>);

impl Chain {
    /// Upstream's default order of the plugins Krust implements. RBAC escalation
    /// checks need the live policy.
    pub fn default_plugins(policy: Arc<PolicyStore>) -> Chain {
        Chain(vec![
            Box::new(NamespaceLifecycle),
            Box::new(LimitRanger),
            Box::new(ServiceAccount),
            Box::new(NodeRestriction),
            Box::new(Priority),
            Box::new(DefaultTolerationSeconds),
            Box::new(DefaultStorageClass),
            Box::new(RbacEscalation { policy }),
            Box::new(ResourceQuota),
        ])
    }
}

#[async_trait]
impl Admission for Chain {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        for plugin in &self.0 {
            plugin.admit(registry, attrs, obj, old).await?;
        }
        Ok(())
    }
}
