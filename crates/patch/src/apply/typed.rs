//! Walking objects by their schema the way structured-merge-diff does: the set of fields
//! a value sets, merging an applied configuration into a live object, comparing two
//! versions, and removing fields.

use serde_json::{Map, Value};

use crate::fields::{FieldSet, Path, PathElement};
use crate::{ListType, Schema, Shape};

/// How a value is walked.
enum Kind<'s> {
    /// Owned and compared as a whole: scalars, atomic lists and structs, unkeyable lists.
    Leaf,
    /// An object (struct or map) whose keys are separate fields.
    Object,
    /// A list of separately owned elements of shape `element`, by key or by value.
    List { element: &'s Shape, keys: Option<&'s [String]> },
}

/// What changed between two versions of an object.
#[derive(Default)]
pub(super) struct Changes {
    /// Fields added or modified.
    pub changed: FieldSet,
    /// Fields (and whole subtrees) removed.
    pub removed: FieldSet,
}

pub(super) struct Walker<'a> {
    pub schema: &'a dyn Schema,
}

impl Walker<'_> {
    fn kind<'s>(&self, shape: &'s Shape, value: &Value) -> Kind<'s> {
        match (shape, value) {
            (Shape::Struct(type_name), Value::Object(_)) if !self.schema.is_atomic_struct(type_name) => Kind::Object,
            (Shape::Map(_) | Shape::Untyped, Value::Object(_)) => Kind::Object,
            (Shape::List(element, ListType::Map(keys)), Value::Array(items))
                if element_ids(items, Some(keys)).is_some() =>
            {
                Kind::List { element, keys: Some(keys) }
            }
            (Shape::List(element, ListType::Set), Value::Array(items)) if element_ids(items, None).is_some() => {
                Kind::List { element, keys: None }
            }
            _ => Kind::Leaf,
        }
    }

    /// Whether the member `key` of an object of `shape` is a free map key rather than a
    /// declared struct field (free keys are members of field sets themselves).
    fn is_free_key(&self, shape: &Shape, key: &str) -> bool {
        match shape {
            Shape::Struct(type_name) => self.schema.field(type_name, key).is_none(),
            _ => true,
        }
    }

    /// The fields `value` sets (upstream's `ToFieldSet`).
    pub fn field_set(&self, value: &Value, shape: &Shape) -> FieldSet {
        let mut set = FieldSet::new();
        self.collect_fields(value, shape, &mut Vec::new(), &mut set);
        set
    }

    fn collect_fields(&self, value: &Value, shape: &Shape, path: &mut Path, out: &mut FieldSet) {
        match (self.kind(shape, value), value) {
            (Kind::Object, Value::Object(map)) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(PathElement::Field(key.clone()));
                    self.collect_fields(child, &shape.child(self.schema, key).shape, path, out);
                    if self.is_free_key(shape, key) {
                        out.insert(path);
                    }
                    path.pop();
                }
            }
            (Kind::List { element, keys }, Value::Array(items)) => {
                for (item, id) in items.iter().zip(element_ids(items, keys).unwrap_or_default()) {
                    path.push(id);
                    self.collect_fields(item, element, path, out);
                    out.insert(path);
                    path.pop();
                }
            }
            _ => out.insert(path),
        }
    }

    /// The live object with the applied configuration merged in: objects merge field by
    /// field, keyed lists and sets element by element, everything else is replaced.
    /// `null` in the configuration unsets the field.
    pub fn merge(&self, live: Option<&Value>, applied: &Value, shape: &Shape) -> Value {
        let Some(live) = live else { return without_nulls(applied) };
        match (self.kind(shape, applied), live, applied) {
            (Kind::Object, Value::Object(live_map), Value::Object(applied_map)) => {
                let mut out = live_map.clone();
                for (key, value) in applied_map {
                    if value.is_null() {
                        out.shift_remove(key);
                    } else {
                        let merged = self.merge(live_map.get(key), value, &shape.child(self.schema, key).shape);
                        out.insert(key.clone(), merged);
                    }
                }
                Value::Object(out)
            }
            (Kind::List { element, keys }, Value::Array(live_items), Value::Array(applied_items)) => {
                match element_ids(live_items, keys) {
                    Some(live_ids) => {
                        let applied_ids = element_ids(applied_items, keys).unwrap_or_default();
                        Value::Array(self.merge_list(live_items, &live_ids, applied_items, &applied_ids, element))
                    }
                    None => without_nulls(applied),
                }
            }
            _ => without_nulls(applied),
        }
    }

    /// Live-only elements keep their places; applied elements keep their order and come
    /// just before the next live element they share.
    fn merge_list(
        &self,
        live: &[Value],
        live_ids: &[PathElement],
        applied: &[Value],
        applied_ids: &[PathElement],
        element: &Shape,
    ) -> Vec<Value> {
        let live_item = |id: &PathElement| live_ids.iter().position(|l| l == id).map(|at| &live[at]);
        let mut out = Vec::with_capacity(live.len() + applied.len());
        let mut next_applied = 0;
        let emit_through = |end: usize, out: &mut Vec<Value>, next: &mut usize| {
            while *next < end {
                out.push(self.merge(live_item(&applied_ids[*next]), &applied[*next], element));
                *next += 1;
            }
        };
        for (item, id) in live.iter().zip(live_ids) {
            match applied_ids.iter().position(|a| a == id) {
                None => out.push(item.clone()),
                Some(at) if at >= next_applied => emit_through(at + 1, &mut out, &mut next_applied),
                Some(_) => {}
            }
        }
        emit_through(applied.len(), &mut out, &mut next_applied);
        out
    }

    /// The fields that differ between `old` and `new` (upstream's `Compare`). Objects,
    /// maps entries and list elements that appear are members themselves except struct
    /// fields, which own only what they contain.
    pub fn compare(&self, old: Option<&Value>, new: Option<&Value>, shape: &Shape) -> Changes {
        let mut changes = Changes::default();
        self.compare_at(old, new, shape, false, &mut Vec::new(), &mut changes);
        changes
    }

    fn compare_at(
        &self,
        old: Option<&Value>,
        new: Option<&Value>,
        shape: &Shape,
        node_owned: bool,
        path: &mut Path,
        out: &mut Changes,
    ) {
        let (old, new) = match (old, new) {
            (None, None) => return,
            (Some(_), None) => return out.removed.insert(path),
            (old, Some(new)) => (old, new),
        };
        let empty_object = Value::Object(Map::new());
        let old_or_empty = old.unwrap_or(&empty_object);
        match (self.kind(shape, new), old_or_empty, new) {
            (Kind::Object, Value::Object(old_map), Value::Object(new_map))
                if !(old_map.is_empty() && new_map.is_empty()) && (old.is_some() || !new_map.is_empty()) =>
            {
                if old.is_none() && node_owned {
                    out.changed.insert(path);
                }
                let keys = old_map.keys().chain(new_map.keys().filter(|k| !old_map.contains_key(*k)));
                for key in keys {
                    let field = shape.child(self.schema, key);
                    let owned = self.is_free_key(shape, key) || matches!(field.shape, Shape::Map(_));
                    path.push(PathElement::Field(key.clone()));
                    self.compare_at(old_map.get(key), new_map.get(key), &field.shape, owned, path, out);
                    path.pop();
                }
            }
            (Kind::List { element, keys }, _, Value::Array(new_items)) => {
                let old_items: &[Value] = match old {
                    Some(Value::Array(items)) => items,
                    None => &[],
                    Some(_) => return out.changed.insert(path),
                };
                let (Some(old_ids), Some(new_ids)) = (element_ids(old_items, keys), element_ids(new_items, keys))
                else {
                    return out.changed.insert(path);
                };
                for id in old_ids.iter().chain(new_ids.iter().filter(|id| !old_ids.contains(id))) {
                    path.push(id.clone());
                    let (before, after) = (find_item(&old_ids, old_items, id), find_item(&new_ids, new_items, id));
                    self.compare_at(before, after, element, true, path, out);
                    path.pop();
                }
            }
            _ if old != Some(new) => out.changed.insert(path),
            _ => {}
        }
    }

    /// Remove the field at `path` (and all below it) from `value`, if present.
    pub fn remove(&self, value: &mut Value, shape: &Shape, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else { return };
        match (first, value) {
            (PathElement::Field(key), Value::Object(map)) => {
                if rest.is_empty() {
                    map.shift_remove(key);
                } else if let Some(child) = map.get_mut(key) {
                    self.remove(child, &shape.child(self.schema, key).shape, rest);
                }
            }
            (PathElement::Key(_) | PathElement::Value(_), Value::Array(items)) => {
                let (element, keys) = match shape {
                    Shape::List(element, ListType::Map(keys)) => (element.as_ref(), Some(keys.as_slice())),
                    Shape::List(element, _) => (element.as_ref(), None),
                    _ => return,
                };
                let Some(at) = items.iter().position(|item| element_id(item, keys).as_ref() == Some(first)) else {
                    return;
                };
                if rest.is_empty() {
                    items.remove(at);
                } else {
                    self.remove(&mut items[at], element, rest);
                }
            }
            _ => {}
        }
    }
}

fn find_item<'v>(ids: &[PathElement], items: &'v [Value], id: &PathElement) -> Option<&'v Value> {
    ids.iter().position(|i| i == id).map(|at| &items[at])
}

/// The identity of a list element: its key fields, or its value for sets.
fn element_id(item: &Value, keys: Option<&[String]>) -> Option<PathElement> {
    match keys {
        Some(keys) => {
            let fields: Vec<(&str, &Value)> =
                keys.iter().filter_map(|k| item.get(k).map(|v| (k.as_str(), v))).collect();
            (item.is_object() && !fields.is_empty()).then(|| PathElement::key(fields))
        }
        None => (!item.is_object() && !item.is_array()).then(|| PathElement::value(item)),
    }
}

/// The identities of all elements, or `None` when some element has none or two share
/// one (such lists are treated as atomic).
fn element_ids(items: &[Value], keys: Option<&[String]>) -> Option<Vec<PathElement>> {
    let ids: Vec<PathElement> = items.iter().map(|item| element_id(item, keys)).collect::<Option<_>>()?;
    let unique = ids.iter().enumerate().all(|(i, id)| !ids[..i].contains(id));
    unique.then_some(ids)
}

/// A copy of `value` without `null` object fields (what decoding into a typed object
/// would drop).
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}
