//! Strategic merge patch (`application/strategic-merge-patch+json`), as upstream's
//! `strategicpatch.StrategicMergeMapPatch` applies it.
//!
//! Maps merge key by key and `null` deletes a key. Lists follow their field's
//! [`ListType`]: lists with a merge key merge element by element (the first key of
//! [`ListType::Map`] is the patch merge key), primitive merge lists ([`ListType::Set`])
//! are unions, everything else is replaced. Directives: `$patch: replace|delete|merge` in
//! a map, `$patch: delete|replace` elements in a merge list, `$retainKeys`,
//! `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>`. Unlike upstream,
//! directives inside newly added values are interpreted too, so none reach the result.
//!
//! Element order follows upstream: items named by the patch (or its `$setElementOrder`)
//! take the patch's order and are interleaved with the server-only items by their
//! positions in the live list; items new to the list come before the server-only items
//! that follow them.

mod order;

use serde_json::{Map, Value};

use crate::{Field, ListType, PatchError, Schema, Shape};
use order::{go_fmt, go_type, normalize, partition, validate_order};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Apply the strategic merge patch `patch` to `original`, an object whose shape is
/// `root` (normally `Shape::Struct` of the kind's definition).
pub fn apply(original: &Value, patch: &Value, schema: &dyn Schema, root: &Shape) -> Result<Value, PatchError> {
    let (Value::Object(original), Value::Object(patch)) = (original, patch) else {
        return Err(PatchError::BadRequest("invalid JSON document".to_owned()));
    };
    let merger = Merger { schema };
    Ok(Value::Object(merger.merge_map(original.clone(), patch.clone(), root)?))
}

struct Merger<'a> {
    schema: &'a dyn Schema,
}

impl Merger<'_> {
    fn merge_map(&self, mut original: Map<String, Value>, mut patch: Map<String, Value>, shape: &Shape) -> MapResult {
        if let Some(directive) = patch.shift_remove(DIRECTIVE) {
            match directive.as_str() {
                Some("replace") => return self.merge_map(Map::new(), patch, shape),
                Some("delete") => return Ok(Map::new()),
                Some("merge") => {}
                _ => {
                    patch.insert(DIRECTIVE.to_owned(), directive.clone());
                    return Err(bad_patch_type(&directive, &Value::Object(patch)));
                }
            }
        }
        apply_retain_keys(&mut original, &mut patch)?;
        self.apply_element_orders(&mut original, &mut patch, shape)?;

        for (key, patch_value) in patch {
            if let Some(list_field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                let Value::Array(to_delete) = patch_value else {
                    return Err(PatchError::BadRequest("invalid patch format of primitive list".to_owned()));
                };
                if let Some(Value::Array(list)) = original.get_mut(list_field) {
                    list.retain(|item| !to_delete.contains(item));
                }
                continue;
            }
            if patch_value.is_null() {
                original.shift_remove(&key);
                continue;
            }
            let field = shape.child(self.schema, &key);
            let merged = match (original.get_mut(&key).map(std::mem::take), patch_value) {
                (Some(Value::Object(live)), Value::Object(patch)) => {
                    Value::Object(self.merge_map(live, patch, &field.shape)?)
                }
                (Some(Value::Array(live)), Value::Array(patch)) => Value::Array(self.merge_list(live, patch, &field)?),
                (_, patch_value) => self.fresh(patch_value, &field)?,
            };
            original.insert(key, merged);
        }
        Ok(original)
    }

    /// A patch value for a field the original lacks (or has with another JSON type):
    /// taken as is, with its directives interpreted against nothing.
    fn fresh(&self, value: Value, field: &Field) -> Result<Value, PatchError> {
        Ok(match value {
            Value::Object(patch) => Value::Object(self.merge_map(Map::new(), patch, &field.shape)?),
            Value::Array(patch) => Value::Array(self.merge_list(Vec::new(), patch, field)?),
            scalar => scalar,
        })
    }

    fn merge_list(&self, original: Vec<Value>, patch: Vec<Value>, field: &Field) -> ListResult {
        let Shape::List(element, list_type) = &field.shape else {
            return Ok(patch);
        };
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        match list_type {
            ListType::Atomic => Ok(patch),
            ListType::Map(keys) if patch.iter().all(Value::is_object) => {
                let element = Field { shape: (**element).clone(), retain_keys: false };
                self.merge_keyed_list(original, patch, &keys[0], &element)
            }
            ListType::Map(_) | ListType::Set => Ok(merge_primitive_list(original, patch)),
        }
    }

    fn merge_keyed_list(&self, mut original: Vec<Value>, patch: Vec<Value>, key: &str, element: &Field) -> ListResult {
        let mut plain = Vec::with_capacity(patch.len());
        let mut replace = false;
        for item in patch {
            let Some(directive) = item.get(DIRECTIVE) else {
                plain.push(item);
                continue;
            };
            match directive.as_str() {
                Some("delete") => {
                    let merge_value = item.get(key).ok_or_else(|| no_merge_key(&item, key))?;
                    original.retain(|live| live.get(key) != Some(merge_value));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::Internal("merging lists cannot yet be specified in the patch".to_owned()));
                }
                _ => return Err(bad_patch_type(directive, &item)),
            }
        }
        if replace {
            return plain.into_iter().map(|item| self.fresh(item, element)).collect();
        }

        let server_order = original.clone();
        let mut merged = original;
        for item in &plain {
            let merge_value = item.get(key).ok_or_else(|| no_merge_key(item, key))?;
            match merged.iter().position(|live| live.get(key) == Some(merge_value)) {
                Some(at) => {
                    merged[at] = match (std::mem::take(&mut merged[at]), item.clone()) {
                        (Value::Object(live), Value::Object(patch)) => {
                            Value::Object(self.merge_map(live, patch, &element.shape)?)
                        }
                        (_, patch) => self.fresh(patch, element)?,
                    }
                }
                None => merged.push(self.fresh(item.clone(), element)?),
            }
        }
        let by_key = |v: &Value| v.get(key).cloned();
        let (patch_items, server_only) = partition(merged, &plain, by_key);
        Ok(normalize(patch_items, server_only, &plain, &server_order, by_key))
    }

    /// Merge each list named by a `$setElementOrder/<field>` directive together with its
    /// patch list, then order it as the directive says.
    fn apply_element_orders(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        shape: &Shape,
    ) -> Result<(), PatchError> {
        let directives: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
        for directive in directives {
            let order = patch.shift_remove(&directive).unwrap_or_default();
            let Some(list_field) = directive.strip_prefix(SET_ELEMENT_ORDER).and_then(|rest| rest.strip_prefix('/'))
            else {
                return Err(PatchError::BadRequest("invalid patch format of setElementOrder list".to_owned()));
            };
            let Value::Array(order) = order else {
                return Err(bad_arg_type("[]interface {}", &order));
            };
            let field = shape.child(self.schema, list_field);
            let key = match &field.shape {
                Shape::List(_, ListType::Map(keys)) => Some(keys[0].clone()),
                Shape::List(_, ListType::Set) => None,
                // Atomic lists have no order to set: the patch list replaces the original.
                _ => continue,
            };
            let by_key = |v: &Value| match &key {
                Some(key) => v.get(key).cloned(),
                None => Some(v.clone()),
            };
            let original_list = match original.get(list_field) {
                Some(Value::Array(list)) => Some(list.clone()),
                Some(other) => return Err(bad_arg_type("[]interface {}", other)),
                None => None,
            };
            let patch_list = match patch.shift_remove(list_field) {
                Some(Value::Array(list)) => Some(list),
                Some(other) => return Err(bad_arg_type("[]interface {}", &other)),
                None => None,
            };
            if let Some(patch_list) = &patch_list {
                validate_order(patch_list, &order, key.as_deref(), DIRECTIVE)?;
            }
            let merged = match (original_list.clone(), patch_list) {
                (Some(live), None) => live,
                (live, Some(patch)) => self.merge_list(live.unwrap_or_default(), patch, &field)?,
                (None, None) => continue,
            };
            if let Some(key) = &key
                && let Some(item) = merged.iter().find(|item| item.get(key).is_none())
            {
                return Err(no_merge_key(item, key));
            }
            let (patch_items, server_only) = partition(merged, &order, by_key);
            let server_order = original_list.unwrap_or_default();
            original.insert(
                list_field.to_owned(),
                Value::Array(normalize(patch_items, server_only, &order, &server_order, by_key)),
            );
        }
        Ok(())
    }
}

type MapResult = Result<Map<String, Value>, PatchError>;
type ListResult = Result<Vec<Value>, PatchError>;

/// Union of two primitive lists (duplicates dropped), ordered like upstream.
fn merge_primitive_list(original: Vec<Value>, patch: Vec<Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
    for item in original.iter().chain(&patch) {
        if !merged.contains(item) {
            merged.push(item.clone());
        }
    }
    let identity = |v: &Value| Some(v.clone());
    let (patch_items, server_only) = partition(merged, &patch, identity);
    normalize(patch_items, server_only, &patch, &original, identity)
}

/// `$retainKeys`: drop the original's keys the list does not name; every key the patch
/// sets must be named.
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<(), PatchError> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad = || PatchError::BadRequest("invalid patch format of retainKeys".to_owned());
    let Value::Array(retain) = retain else {
        return Err(bad());
    };
    let named = |key: &str| retain.iter().any(|k| k.as_str() == Some(key));
    for (key, value) in patch.iter() {
        let directive = key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER);
        if !value.is_null() && !directive && !named(key) {
            return Err(bad());
        }
    }
    original.retain(|key, _| named(key));
    Ok(())
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    PatchError::Internal(format!("map: {} does not contain declared merge key: {key}", go_fmt(item)))
}

fn bad_patch_type(directive: &Value, map: &Value) -> PatchError {
    PatchError::Internal(format!("unknown patch type: {} in map: {}", go_fmt(directive), go_fmt(map)))
}

fn bad_arg_type(expected: &str, actual: &Value) -> PatchError {
    PatchError::Internal(format!("expected a {expected}, but received a {}", go_type(actual)))
}

#[cfg(test)]
mod tests;
