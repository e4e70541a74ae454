//! DefaultTolerationSeconds: new pods tolerate a not-ready or unreachable node for 300
//! seconds before the node lifecycle controller evicts them, unless they say otherwise.

use crate::registry::Registry;
use crate::registry::admission::{Admission, Attributes, Operation};
use crate::status::ApiResult;
use async_trait::async_trait;
use serde_json::{Value, json};

/// Upstream's `--default-not-ready-toleration-seconds` and unreachable twin.
const SECONDS: i64 = 300;
const TAINTS: [&str; 2] = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

pub struct DefaultTolerationSeconds;

/// Whether a toleration already covers NoExecute taints with `key`.
fn tolerates(toleration: &Value, key: &str) -> bool {
    let effect = toleration.get("effect").and_then(Value::as_str).unwrap_or_default();
    let k = toleration.get("key").and_then(Value::as_str).unwrap_or_default();
    let exists = toleration.get("operator").and_then(Value::as_str) == Some("Exists");
    (effect.is_empty() || effect == "NoExecute") && (k == key || (k.is_empty() && exists))
}

#[async_trait]
impl Admission for DefaultTolerationSeconds {
    async fn admit(
        &self,
        _registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        _old: Option<&Value>,
    ) -> ApiResult<()> {
        if attrs.operation != Operation::Create || !attrs.def.group.is_empty() || attrs.def.plural != "pods" {
            return Ok(());
        }
        let spec = &mut obj["spec"];
        if !spec["tolerations"].is_array() {
            spec["tolerations"] = json!([]);
        }
        let tolerations = spec["tolerations"].as_array_mut().expect("made an array above");
        for key in TAINTS {
            if !tolerations.iter().any(|t| tolerates(t, key)) {
                tolerations.push(
                    json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": SECONDS}),
                );
            }
        }
        Ok(())
    }
}
