//! NamespaceLifecycle: no new objects in a namespace that is missing or terminating, and
//! the system namespaces cannot be deleted.

use crate::registry::admission::{Admission, Attributes, Operation};
use crate::registry::{Registry, subject};
use crate::status::{ApiError, ApiResult};
use async_trait::async_trait;
use serde_json::Value;

/// Namespaces that may never be deleted.
const IMMORTAL: &[&str] = &["default", "kube-system", "kube-public"];

pub struct NamespaceLifecycle;

#[async_trait]
impl Admission for NamespaceLifecycle {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        let def = attrs.def;
        if attrs.operation == Operation::Delete && def.group.is_empty() && def.plural == "namespaces" {
            if IMMORTAL.contains(&attrs.name) {
                return Err(ApiError::Forbidden {
                    message: format!("namespaces \"{}\" is forbidden: this namespace may not be deleted", attrs.name),
                    subject: subject(def, attrs.name),
                });
            }
            return Ok(());
        }
        if attrs.operation != Operation::Create || !def.namespaced {
            return Ok(());
        }
        let name = crate::registry::object::name(obj).to_owned();
        match registry.namespace_state(attrs.namespace).await? {
            None => {
                let ns_def = resources::find("", "v1", "namespaces").expect("namespaces are served");
                Err(crate::registry::not_found(ns_def, attrs.namespace))
            }
            Some(true) => Err(ApiError::Forbidden {
                message: format!(
                    "{} \"{name}\" is forbidden: unable to create new content in namespace {} because it is being terminated",
                    def.group_resource(),
                    attrs.namespace
                ),
                subject: subject(def, &name),
            }),
            Some(false) => Ok(()),
        }
    }
}
