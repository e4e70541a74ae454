//! RFC 6902 JSON patch and RFC 7386 JSON merge patch, with upstream's error messages.
//!
//! The API server reports a patch document it cannot decode as 400 Bad Request and a
//! patch that does not apply to the object (a failed `test`, a missing path) as 422;
//! [`PatchError::status_code`] says which. Messages follow the Go json-patch library
//! the upstream server uses.

use json_patch::{PatchErrorKind, PatchOperation};
use serde_json::Value;

use crate::PatchError;

/// Apply an RFC 6902 JSON patch (`application/json-patch+json`) to `doc` in place.
/// On error `doc` is left unchanged.
pub fn apply_json_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let operations = decode_operations(patch)?;
    json_patch::patch(doc, &operations).map_err(|err| {
        let op = &operations[err.operation];
        PatchError::Unprocessable(describe_failure(op, &err.kind))
    })
}

/// Apply an RFC 7386 JSON merge patch (`application/merge-patch+json`) to `doc` in place:
/// objects merge key by key, `null` deletes a key, anything else replaces.
pub fn apply_merge_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_object() {
        // The upstream server decodes the patched document into the object's type, which
        // fails for anything but a JSON object.
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_kind(patch)
        )));
    }
    json_patch::merge(doc, patch);
    Ok(())
}

fn decode_operations(patch: &Value) -> Result<Vec<PatchOperation>, PatchError> {
    let Value::Array(items) = patch else {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            json_kind(patch)
        )));
    };
    items
        .iter()
        .map(|item| {
            let op = item.get("op").and_then(Value::as_str).unwrap_or_default();
            if !matches!(op, "add" | "remove" | "replace" | "move" | "copy" | "test") {
                return Err(PatchError::BadRequest(format!("Unexpected kind: {op}")));
            }
            serde_json::from_value(item.clone()).map_err(|err| PatchError::BadRequest(err.to_string()))
        })
        .collect()
}

fn describe_failure(op: &PatchOperation, kind: &PatchErrorKind) -> String {
    let path = op.path().as_str();
    match (op, kind) {
        (PatchOperation::Test(_), _) => format!("testing value {path} failed: test failed"),
        (PatchOperation::Add(_), _) => {
            format!("add operation does not apply: doc is missing path: \"{path}\": missing value")
        }
        (PatchOperation::Remove(_), _) => {
            let key = path.rsplit('/').next().unwrap_or_default();
            format!("error in remove for path: \"{path}\": Unable to remove nonexistent key: {key}: missing value")
        }
        (PatchOperation::Replace(_), _) => {
            format!("replace operation does not apply: doc is missing key: {path}: missing value")
        }
        (PatchOperation::Move(m), PatchErrorKind::InvalidFromPointer) => {
            format!("move operation does not apply: doc is missing from path: {}: missing value", m.from.as_str())
        }
        (PatchOperation::Move(_), PatchErrorKind::CannotMoveInsideItself) => {
            format!("move operation does not apply: cannot move a value into itself: {path}")
        }
        (PatchOperation::Move(_), _) => {
            format!("move operation does not apply: doc is missing destination path: {path}: missing value")
        }
        (PatchOperation::Copy(c), PatchErrorKind::InvalidFromPointer) => {
            format!("copy operation does not apply: doc is missing from path: \"{}\": missing value", c.from.as_str())
        }
        (PatchOperation::Copy(_), _) => {
            format!("copy operation does not apply: doc is missing destination path: {path}: missing value")
        }
    }
}

/// How Go's JSON decoder names a JSON value's kind in type errors.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_applies_operations_in_order() {
        let mut doc = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}});
        let patch = json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/a"}
        ]);
        apply_json_patch(&mut doc, &patch).unwrap();
        assert_eq!(doc, json!({"metadata": {"labels": {"b": "2"}}, "spec": {"replicas": 3}}));
    }

    #[test]
    fn failed_test_is_unprocessable_and_leaves_the_document() {
        let mut doc = json!({"spec": {"replicas": 1}});
        let patch = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "test", "path": "/spec/replicas", "value": 2}
        ]);
        let err = apply_json_patch(&mut doc, &patch).unwrap_err();
        assert_eq!(err.to_string(), "testing value /spec/replicas failed: test failed");
        assert_eq!(err.status_code(), 422);
        assert_eq!(doc, json!({"spec": {"replicas": 1}}));
    }

    #[test]
    fn missing_paths_report_like_upstream() {
        let mut doc = json!({"metadata": {"labels": {}}});
        let err = apply_json_patch(&mut doc, &json!([{"op": "remove", "path": "/metadata/labels/x"}])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error in remove for path: \"/metadata/labels/x\": Unable to remove nonexistent key: x: missing value"
        );
        let err = apply_json_patch(&mut doc, &json!([{"op": "add", "path": "/spec/a/b", "value": 1}])).unwrap_err();
        assert_eq!(err.to_string(), "add operation does not apply: doc is missing path: \"/spec/a/b\": missing value");
    }

    #[test]
    fn malformed_json_patch_is_a_bad_request() {
        let mut doc = json!({});
        let err = apply_json_patch(&mut doc, &json!({"op": "add"})).unwrap_err();
        assert_eq!(err.status_code(), 400);
        let err = apply_json_patch(&mut doc, &json!([{"op": "frob", "path": "/a"}])).unwrap_err();
        assert_eq!(err.to_string(), "Unexpected kind: frob");
    }

    #[test]
    fn merge_patch_merges_objects_and_deletes_nulls() {
        let mut doc = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"ports": [1, 2]}});
        let patch = json!({"metadata": {"labels": {"a": null, "c": "3"}}, "spec": {"ports": [3]}});
        apply_merge_patch(&mut doc, &patch).unwrap();
        assert_eq!(doc, json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"ports": [3]}}));
        assert_eq!(apply_merge_patch(&mut doc, &json!([1])).unwrap_err().status_code(), 400);
    }
}
