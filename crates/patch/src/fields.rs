//! Sets of field paths, the FieldsV1 encoding of `managedFields`, and structured-merge-diff's
//! path notation (`.spec.containers[name="nginx"].image`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One step of a field path. The variant order is upstream's sort order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of an object or a key of a map: `f:name`.
    Field(String),
    /// A list element identified by its key fields, as canonical JSON with the fields
    /// sorted by name: `k:{"name":"nginx"}`.
    Key(String),
    /// An element of a set, as JSON: `v:"example.com/finalizer"`.
    Value(String),
    /// A list element by position: `i:0`.
    Index(usize),
}

impl PathElement {
    /// The element of a keyed list whose key fields have these values.
    pub fn key<'a>(fields: impl IntoIterator<Item = (&'a str, &'a Value)>) -> PathElement {
        let mut fields: Vec<(&str, &Value)> = fields.into_iter().collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let object: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
        PathElement::Key(Value::Object(object).to_string())
    }

    /// The element of a set with this value.
    pub fn value(value: &Value) -> PathElement {
        PathElement::Value(value.to_string())
    }

    /// The FieldsV1 key: `f:name`, `k:{...}`, `v:...`, `i:0`.
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(key) => format!("k:{key}"),
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Parse a FieldsV1 key; key and value JSON is re-encoded canonically.
    pub fn decode(encoded: &str) -> Result<PathElement, String> {
        let invalid = || format!("invalid path element {encoded:?}");
        let (kind, rest) = encoded.split_once(':').ok_or_else(invalid)?;
        match kind {
            "f" => Ok(PathElement::Field(rest.to_owned())),
            "k" => match serde_json::from_str::<Value>(rest) {
                Ok(Value::Object(fields)) => Ok(PathElement::key(fields.iter().map(|(k, v)| (k.as_str(), v)))),
                _ => Err(invalid()),
            },
            "v" => serde_json::from_str::<Value>(rest).map(|v| PathElement::value(&v)).map_err(|_| invalid()),
            "i" => rest.parse().map(PathElement::Index).map_err(|_| invalid()),
            _ => Err(invalid()),
        }
    }

    /// Upstream's path notation for this step: `.name`, `[name="nginx"]`, `[="x"]`, `[0]`.
    pub fn display(&self) -> String {
        match self {
            PathElement::Field(name) => format!(".{name}"),
            PathElement::Key(key) => {
                let fields: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("[{}]", parts.join(","))
            }
            PathElement::Value(value) => format!("[={value}]"),
            PathElement::Index(index) => format!("[{index}]"),
        }
    }
}

/// A path from the root of an object.
pub type Path = Vec<PathElement>;

/// Upstream's rendering of a whole path: `.spec.template.spec.containers[name="nginx"].image`.
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(PathElement::display).collect()
}

/// A set of field paths, as a tree. A node is a *member* when the path itself is in the
/// set (FieldsV1's `.` when it also has children); inner nodes exist only to hold members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    children: BTreeMap<PathElement, Node>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Node {
    member: bool,
    children: FieldSet,
}

impl FieldSet {
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    /// Add `path` as a member (the empty path is ignored: the root is never a member).
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((last, parents)) = path.split_last() else { return };
        let mut set = self;
        for element in parents {
            set = &mut set.children.entry(element.clone()).or_default().children;
        }
        set.children.entry(last.clone()).or_default().member = true;
    }

    pub fn contains(&self, path: &[PathElement]) -> bool {
        let Some((last, parents)) = path.split_last() else { return false };
        let mut set = self;
        for element in parents {
            match set.children.get(element) {
                Some(node) => set = &node.children,
                None => return false,
            }
        }
        set.children.get(last).is_some_and(|node| node.member)
    }

    /// No members anywhere.
    pub fn is_empty(&self) -> bool {
        self.children.values().all(|node| !node.member && node.children.is_empty())
    }

    /// Every member path, parents before children, in upstream's sort order.
    pub fn members(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_members(&mut Vec::new(), &mut out);
        out
    }

    fn collect_members(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for (element, node) in &self.children {
            prefix.push(element.clone());
            if node.member {
                out.push(prefix.clone());
            }
            node.children.collect_members(prefix, out);
            prefix.pop();
        }
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        for (element, node) in &other.children {
            let mine = out.children.entry(element.clone()).or_default();
            mine.member |= node.member;
            mine.children = mine.children.union(&node.children);
        }
        out
    }

    /// Members of `self` that are not members of `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        self.combine(other, |mine, theirs| mine && !theirs, FieldSet::difference)
    }

    /// Members of both.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, node) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                let merged = Node {
                    member: node.member && theirs.member,
                    children: node.children.intersection(&theirs.children),
                };
                if merged.member || !merged.children.is_empty() {
                    out.children.insert(element.clone(), merged);
                }
            }
        }
        out
    }

    /// `self` without every member of `other` and everything below it.
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, node) in &self.children {
            let kept = match other.children.get(element) {
                Some(theirs) if theirs.member => continue,
                Some(theirs) => {
                    Node { member: node.member, children: node.children.recursive_difference(&theirs.children) }
                }
                None => node.clone(),
            };
            if kept.member || !kept.children.is_empty() {
                out.children.insert(element.clone(), kept);
            }
        }
        out
    }

    fn combine(
        &self,
        other: &FieldSet,
        member: fn(bool, bool) -> bool,
        recurse: fn(&FieldSet, &FieldSet) -> FieldSet,
    ) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, node) in &self.children {
            let kept = match other.children.get(element) {
                Some(theirs) => Node {
                    member: member(node.member, theirs.member),
                    children: recurse(&node.children, &theirs.children),
                },
                None => node.clone(),
            };
            if kept.member || !kept.children.is_empty() {
                out.children.insert(element.clone(), kept);
            }
        }
        out
    }

    /// The same set where every field with owned fields below it is a member too
    /// (upstream's `EnsureNamedFieldsAreMembers`, which decides what pruning may remove).
    pub fn with_fields_as_members(&self) -> FieldSet {
        let mut out = FieldSet::new();
        for (element, node) in &self.children {
            let children = node.children.with_fields_as_members();
            let member = node.member || (matches!(element, PathElement::Field(_)) && !children.is_empty());
            out.children.insert(element.clone(), Node { member, children });
        }
        out
    }

    /// The subtree under `element`, if any.
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element).map(|node| &node.children)
    }

    /// Make `path` no longer a member, keeping what is below it.
    pub fn unmark(&mut self, path: &[PathElement]) {
        let Some((first, rest)) = path.split_first() else { return };
        let Some(node) = self.children.get_mut(first) else { return };
        if rest.is_empty() {
            node.member = false;
        } else {
            node.children.unmark(rest);
        }
        if !node.member && node.children.is_empty() {
            self.children.remove(first);
        }
    }

    /// The FieldsV1 JSON of this set.
    pub fn to_fields_v1(&self) -> Value {
        let mut out = Map::new();
        for (element, node) in &self.children {
            let mut entry = Map::new();
            if node.member && !node.children.is_empty() {
                entry.insert(".".to_owned(), Value::Object(Map::new()));
            }
            if let Value::Object(children) = node.children.to_fields_v1() {
                entry.extend(children);
            }
            out.insert(element.encode(), Value::Object(entry));
        }
        Value::Object(out)
    }

    /// Parse FieldsV1 JSON.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let Value::Object(entries) = value else {
            return Err("FieldsV1 must be a JSON object".to_owned());
        };
        let mut out = FieldSet::new();
        for (key, child) in entries {
            if key == "." {
                continue;
            }
            let element = PathElement::decode(key)?;
            let children = FieldSet::from_fields_v1(child)?;
            let marked = child.as_object().is_some_and(|c| c.is_empty() || c.contains_key("."));
            out.children.insert(element, Node { member: marked, children });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_owned())
    }

    #[test]
    fn fields_v1_round_trips_with_dot_for_members_with_children() {
        let encoded = json!({"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}}}});
        let set = FieldSet::from_fields_v1(&encoded).unwrap();
        assert!(set.contains(&[f("metadata"), f("labels")]));
        assert!(!set.contains(&[f("metadata")]));
        let nginx = PathElement::key([("name", &json!("nginx"))]);
        assert!(set.contains(&[f("spec"), f("containers"), nginx.clone(), f("image")]));
        assert_eq!(set.to_fields_v1(), encoded);
        assert_eq!(
            path_string(&[f("spec"), f("containers"), nginx, f("image")]),
            ".spec.containers[name=\"nginx\"].image"
        );
    }

    #[test]
    fn keys_are_canonical_and_sorted() {
        let a = PathElement::decode("k:{\"protocol\":\"TCP\",\"containerPort\":80}").unwrap();
        assert_eq!(a.encode(), "k:{\"containerPort\":80,\"protocol\":\"TCP\"}");
        assert_eq!(PathElement::value(&json!("x")).encode(), "v:\"x\"");
    }

    #[test]
    fn set_algebra() {
        let mut a = FieldSet::new();
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        let mut b = FieldSet::new();
        b.insert(&[f("spec"), f("replicas")]);
        assert_eq!(a.difference(&b).members(), vec![vec![f("spec"), f("paused")]]);
        assert_eq!(a.intersection(&b).members(), vec![vec![f("spec"), f("replicas")]]);
        let mut spec = FieldSet::new();
        spec.insert(&[f("spec")]);
        assert!(a.recursive_difference(&spec).is_empty());
        assert_eq!(b.with_fields_as_members().members().len(), 2);
    }
}
