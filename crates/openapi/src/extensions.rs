//! The strategic-merge extensions upstream publishes on fields
//! (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`), from the same table
//! the server merges by ([`resources::merge::merge_strategy`]).

use resources::merge::merge_strategy;
use serde_json::Value;

/// `schema` (the definition `name`) with its fields' patch extensions.
pub fn annotated(name: &str, schema: &Value) -> Value {
    let mut schema = schema.clone();
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for (field, property) in properties.iter_mut() {
            let (Some(strategy), Value::Object(property)) = (merge_strategy(name, field), property) else { continue };
            property.insert("x-kubernetes-patch-strategy".into(), strategy.patch_strategy.into());
            if let Some(key) = strategy.merge_key {
                property.insert("x-kubernetes-patch-merge-key".into(), key.into());
            }
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_merge_by_name() {
        let pod_spec = resources::schema::definitions().get("io.k8s.api.core.v1.PodSpec").unwrap();
        let annotated = annotated("io.k8s.api.core.v1.PodSpec", pod_spec);
        let containers = &annotated["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        let volumes = &annotated["properties"]["volumes"];
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        assert!(annotated["properties"]["nodeName"].get("x-kubernetes-patch-strategy").is_none());
    }
}
