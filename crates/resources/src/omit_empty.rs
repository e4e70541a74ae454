//! Go's `omitempty`: an optional list or map that is empty is not serialised.
//!
//! Upstream decodes every body into a Go struct and encodes it again, so an emptied
//! collection (`kubectl annotate x foo-` removing the last annotation, a strategic
//! `$patch: delete` removing the last env var) disappears from the stored object.
//! k8s-openapi keeps `Some(empty)` and writes `{}` or `[]`; this pass removes them again,
//! guided by the published schema. Empty structs (`emptyDir: {}`, `resources: {}`) stay,
//! as they do upstream, and so do required fields.

use crate::schema::{definitions, referenced_definition};
use serde_json::{Map, Value};

/// Optional fields whose Go tag has no `omitempty`: upstream writes them even when empty.
const KEPT_WHEN_EMPTY: &[(&str, &str)] = &[
    ("io.k8s.api.rbac.v1.Role", "rules"),
    ("io.k8s.api.rbac.v1.ClusterRole", "rules"),
    ("io.k8s.api.discovery.v1.EndpointSlice", "ports"),
];

/// `managedFields` entries are kept verbatim: an empty list there asks to reset them.
const MANAGED_FIELDS: (&str, &str) = ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "managedFields");

/// Remove empty optional lists and maps from `obj`, an object of `definition`.
pub fn drop_empty_collections(obj: &mut Value, definition: &str) {
    let defs = definitions();
    if let Some(schema) = defs.get(definition) {
        walk(obj, schema, Some(definition), defs);
    }
}

fn walk(value: &mut Value, schema: &Value, definition: Option<&str>, defs: &Map<String, Value>) {
    let (schema, definition) = match referenced_definition(schema) {
        Some(name) => match defs.get(name) {
            Some(s) => (s, Some(name)),
            None => return,
        },
        None => (schema, definition),
    };
    match value {
        Value::Object(fields) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                walk_struct(fields, schema, properties, definition, defs);
            } else if let Some(values) = schema.get("additionalProperties").filter(|s| s.is_object()) {
                fields.values_mut().for_each(|v| walk(v, values, None, defs));
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                items.iter_mut().for_each(|v| walk(v, item, None, defs));
            }
        }
        _ => {}
    }
}

fn walk_struct(
    fields: &mut Map<String, Value>,
    schema: &Value,
    properties: &Map<String, Value>,
    definition: Option<&str>,
    defs: &Map<String, Value>,
) {
    let required =
        |name: &str| schema.get("required").and_then(Value::as_array).is_some_and(|r| r.iter().any(|f| f == name));
    let kept =
        |name: &str| definition.is_some_and(|d| KEPT_WHEN_EMPTY.contains(&(d, name)) || MANAGED_FIELDS == (d, name));
    fields.retain(|name, v| {
        let Some(property) = properties.get(name) else { return true };
        !(is_empty_collection(v, property, defs) && !required(name) && !kept(name))
    });
    for (name, v) in fields.iter_mut() {
        if let Some(property) = properties.get(name)
            && definition.is_none_or(|d| MANAGED_FIELDS != (d, name.as_str()))
        {
            walk(v, property, None, defs);
        }
    }
}

/// An empty JSON array, or an empty JSON object whose schema is a map (not a struct).
fn is_empty_collection(value: &Value, schema: &Value, defs: &Map<String, Value>) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) if fields.is_empty() => {
            let schema = referenced_definition(schema).and_then(|n| defs.get(n)).unwrap_or(schema);
            schema.get("additionalProperties").is_some_and(Value::is_object) && schema.get("properties").is_none()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_optional_maps_and_lists_go_structs_stay() {
        let mut obj = json!({
            "metadata": {"name": "x", "annotations": {}, "labels": {"a": "b"}, "finalizers": []},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"annotations": {}},
                "spec": {"containers": [{"name": "c", "env": [], "resources": {"limits": {}}, "args": []}],
                         "volumes": [{"name": "v", "emptyDir": {}}], "securityContext": {}, "nodeSelector": {}}}}
        });
        drop_empty_collections(&mut obj, "io.k8s.api.apps.v1.Deployment");
        assert_eq!(
            obj,
            json!({
                "metadata": {"name": "x", "labels": {"a": "b"}},
                "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
                    "metadata": {},
                    "spec": {"containers": [{"name": "c", "resources": {}}],
                             "volumes": [{"name": "v", "emptyDir": {}}], "securityContext": {}}}}
            })
        );
    }

    #[test]
    fn required_and_non_omitempty_fields_stay() {
        let mut pod = json!({"spec": {"containers": []}});
        drop_empty_collections(&mut pod, "io.k8s.api.core.v1.Pod");
        assert_eq!(pod, json!({"spec": {"containers": []}}));
        let mut role = json!({"metadata": {"name": "r"}, "rules": []});
        drop_empty_collections(&mut role, "io.k8s.api.rbac.v1.Role");
        assert_eq!(role["rules"], json!([]));
    }

    #[test]
    fn managed_fields_are_left_alone() {
        let mut cm = json!({"metadata": {"managedFields": [], "labels": {}}, "data": {}});
        drop_empty_collections(&mut cm, "io.k8s.api.core.v1.ConfigMap");
        assert_eq!(cm, json!({"metadata": {"managedFields": []}}));
    }
}
