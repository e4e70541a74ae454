//! `metadata.managedFields` entries: reading, identifying and writing them back in
//! upstream's order.

use serde_json::{Map, Value};

use crate::fields::FieldSet;

pub(super) const APPLY: &str = "Apply";
pub(super) const UPDATE: &str = "Update";

/// One `managedFields` entry with its decoded field set.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: String,
    pub fields: FieldSet,
}

impl Entry {
    /// Whether this entry records the writes of `manager` with `operation` on
    /// `subresource`. Like upstream, Update entries are per API version and Apply entries
    /// are not.
    pub fn is(&self, manager: &str, operation: &str, subresource: &str, api_version: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == APPLY || self.api_version == api_version)
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("manager".into(), Value::String(self.manager.clone()));
        out.insert("operation".into(), Value::String(self.operation.clone()));
        out.insert("apiVersion".into(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            out.insert("time".into(), Value::String(time.clone()));
        }
        out.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        out.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            out.insert("subresource".into(), Value::String(self.subresource.clone()));
        }
        Value::Object(out)
    }

    fn from_json(value: &Value) -> Option<Entry> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        if text("fieldsType").as_deref() != Some("FieldsV1") {
            return None;
        }
        Some(Entry {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation")?,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").unwrap_or_default(),
            fields: FieldSet::from_fields_v1(value.get("fieldsV1")?).ok()?,
        })
    }
}

/// The entries of `managedFields` (a JSON list); entries that are not FieldsV1 or do not
/// decode are dropped, as upstream resets what it cannot read.
pub(super) fn read(managed_fields: Option<&Value>) -> Vec<Entry> {
    match managed_fields {
        Some(Value::Array(items)) => items.iter().filter_map(Entry::from_json).collect(),
        _ => Vec::new(),
    }
}

/// Write `entries` into `object.metadata.managedFields`, dropping entries that own
/// nothing and sorting like upstream: by operation, time, manager, API version and
/// subresource. No entries removes the field.
pub(super) fn write(object: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|entry| !entry.fields.is_empty());
    entries.sort_by(|a, b| {
        (&a.operation, &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
            &b.operation,
            &b.time,
            &b.manager,
            &b.api_version,
            &b.subresource,
        ))
    });
    let Some(object) = object.as_object_mut() else { return };
    let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else { return };
    if entries.is_empty() {
        metadata.shift_remove("managedFields");
    } else {
        metadata.insert("managedFields".into(), Value::Array(entries.iter().map(Entry::to_json).collect()));
    }
}
