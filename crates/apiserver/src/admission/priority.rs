//! Priority: a new pod's `spec.priority` (and `preemptionPolicy`) come from its
//! PriorityClass, or from the global default class, or are 0.

use super::refusal::forbidden;
use crate::registry::admission::{Admission, Attributes, Operation};
use crate::registry::{ListOptions, Registry};
use crate::status::{ApiError, ApiResult};
use async_trait::async_trait;
use serde_json::{Value, json};

pub struct Priority;

fn is_pod_create(attrs: &Attributes<'_>) -> bool {
    attrs.operation == Operation::Create && attrs.def.group.is_empty() && attrs.def.plural == "pods"
}

/// The class a pod names, or the global default one: (name, value, preemption policy).
async fn class_for(registry: &Registry, name: Option<&str>) -> ApiResult<Option<(String, i64, Value)>> {
    let def = resources::find("scheduling.k8s.io", "v1", "priorityclasses").expect("priorityclasses are served");
    let describe = |pc: &Value| {
        let value = pc.get("value").and_then(Value::as_i64).unwrap_or(0);
        let policy = pc.get("preemptionPolicy").cloned().unwrap_or(json!("PreemptLowerPriority"));
        (crate::registry::object::name(pc).to_owned(), value, policy)
    };
    match name {
        Some(n) => match registry.get(def, "", n).await {
            Ok(pc) => Ok(Some(describe(&pc))),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        },
        None => {
            let all = registry.list(def, "", &ListOptions::default()).await?;
            let default =
                all.items.iter().filter(|pc| pc.get("globalDefault") == Some(&json!(true))).min_by_key(|pc| {
                    // Upstream picks the lowest-valued default class when several claim it.
                    pc.get("value").and_then(Value::as_i64).unwrap_or(0)
                });
            Ok(default.map(describe))
        }
    }
}

#[async_trait]
impl Admission for Priority {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if !is_pod_create(attrs) {
            return Ok(());
        }
        let named =
            obj.pointer("/spec/priorityClassName").and_then(Value::as_str).filter(|n| !n.is_empty()).map(str::to_owned);
        let (class, value, policy) = match class_for(registry, named.as_deref()).await? {
            Some(found) => found,
            None if named.is_some() => {
                let name = named.unwrap_or_default();
                return Err(forbidden(attrs, obj, format!("no PriorityClass with name {name} was found")));
            }
            None => (String::new(), 0, json!("PreemptLowerPriority")),
        };
        if let Some(given) = obj.pointer("/spec/priority").and_then(Value::as_i64)
            && given != value
        {
            return Err(forbidden(
                attrs,
                obj,
                format!(
                    "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
                ),
            ));
        }
        let spec = &mut obj["spec"];
        if !class.is_empty() {
            spec["priorityClassName"] = json!(class);
        }
        spec["priority"] = json!(value);
        spec["preemptionPolicy"] = policy;
        Ok(())
    }
}
