//! RBAC privilege-escalation prevention (upstream's policy-based RBAC storage): a user
//! may write a Role or ClusterRole only with rules it holds itself (or with the
//! `escalate` verb on it), and a binding only to a role whose rules it holds (or with
//! the `bind` verb on that role).

use crate::auth::User;
use crate::auth::authorize::{decide, is_privileged};
use crate::auth::policy::PolicyStore;
use crate::registry::admission::{Admission, Attributes, Operation};
use crate::registry::{Registry, subject};
use crate::status::{ApiError, ApiResult};
use async_trait::async_trait;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde_json::Value;
use std::sync::Arc;

const GROUP: &str = "rbac.authorization.k8s.io";

pub struct RbacEscalation {
    pub policy: Arc<PolicyStore>,
}

fn rules_of(obj: &Value) -> Vec<PolicyRule> {
    obj.get("rules").and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default()
}

impl RbacEscalation {
    /// Whether `user` holds `verb` on the named RBAC object (`escalate`, `bind`).
    fn may(&self, user: &User, verb: &str, resource: &str, namespace: &str, name: &str) -> bool {
        let attrs = rbac::Attributes {
            user: user.clone(),
            verb: verb.to_owned(),
            is_resource: true,
            api_group: GROUP.to_owned(),
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ..Default::default()
        };
        decide(&self.policy.current(), &attrs).0
    }

    /// The rules a binding grants: those of the role it refers to.
    async fn bound_rules(
        &self,
        registry: &Registry,
        binding: &Value,
        namespace: &str,
    ) -> ApiResult<Option<(String, String, Vec<PolicyRule>)>> {
        let kind = binding.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or_default();
        let name = binding.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let (plural, ns) = match kind {
            "Role" => ("roles", namespace),
            "ClusterRole" => ("clusterroles", ""),
            _ => return Ok(None),
        };
        let def = resources::find(GROUP, "v1", plural).expect("RBAC kinds are served");
        match registry.get(def, ns, &name).await {
            Ok(role) => Ok(Some((plural.to_owned(), name, rules_of(&role)))),
            // Upstream lets a binding to a missing role through: it grants nothing yet.
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Admission for RbacEscalation {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        let def = attrs.def;
        if def.group != GROUP || attrs.operation == Operation::Delete {
            return Ok(());
        }
        let ns = attrs.namespace;
        let (requested, exempt) = match def.plural {
            "roles" | "clusterroles" => (rules_of(obj), self.may(attrs.user, "escalate", def.plural, ns, attrs.name)),
            "rolebindings" | "clusterrolebindings" => match self.bound_rules(registry, obj, ns).await? {
                Some((plural, role, rules)) => (rules, self.may(attrs.user, "bind", &plural, ns, &role)),
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        if exempt || is_privileged(attrs.user) {
            return Ok(());
        }
        self.policy.current().confirm_no_escalation(attrs.user, ns, &requested).map_err(|e| ApiError::Forbidden {
            message: format!("{} \"{}\" is forbidden: {e}", def.group_resource(), attrs.name),
            subject: subject(def, attrs.name),
        })
    }
}
