//! The descriptor table: for every Kubernetes protobuf message its numbered, typed, JSON-named
//! fields, and which message each `apiVersion`/`kind` uses.
//!
//! The table is `descriptors.json`, generated from the `k8s-pb` and `k8s-openapi` sources by
//! `cargo run -p protobuf-codec --example generate`, and parsed once on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

pub(crate) struct Table {
    /// Keyed by lowercase `apiVersion/kind`, as kinds are unique ignoring case within a version.
    kinds: HashMap<String, String>,
    messages: HashMap<String, Message>,
}

pub(crate) struct Message {
    /// In declaration order, which is the Go struct's order and so the JSON order.
    pub(crate) fields: Vec<Field>,
    /// Indexes into `fields` by ascending field number, the order fields are written in.
    pub(crate) write_order: Vec<usize>,
}

pub(crate) struct Field {
    pub(crate) number: u32,
    pub(crate) json_name: String,
    pub(crate) ty: FieldType,
    pub(crate) label: Label,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    /// A single value. Zero scalars are dropped unless `keep_zero`: Go writes every non-pointer
    /// scalar to protobuf, but its JSON omits them (`omitempty`), except on required fields and
    /// pointers documented as distinguishing an explicit zero.
    Singular {
        keep_zero: bool,
    },
    /// A message Go embeds with `json:",inline"`: its fields appear in this object's JSON.
    Inline,
    Repeated,
    /// `map<string, ty>`, encoded as repeated entries {1: key, 2: value}.
    Map,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum FieldType {
    String,
    Int32,
    Int64,
    Bool,
    Double,
    Bytes,
    Message(String),
}

pub(crate) fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::parse(include_str!("descriptors.json")))
}

impl Table {
    /// Panics on a malformed table: it is generated and checked in, and a test loads it.
    fn parse(text: &str) -> Table {
        let root: Value = serde_json::from_str(text).expect("descriptors.json is valid JSON");
        let kinds = root["kinds"]
            .as_object()
            .expect("descriptors.json has kinds")
            .iter()
            .map(|(kind, message)| (kind.to_lowercase(), message.as_str().expect("message name").to_string()))
            .collect();
        let messages = root["messages"]
            .as_object()
            .expect("descriptors.json has messages")
            .iter()
            .map(|(name, fields)| {
                let fields: Vec<Field> = fields.as_array().expect("field list").iter().map(Field::parse).collect();
                let mut write_order: Vec<usize> = (0..fields.len()).collect();
                write_order.sort_by_key(|&i| fields[i].number);
                (name.clone(), Message { fields, write_order })
            })
            .collect();
        Table { kinds, messages }
    }

    pub(crate) fn message(&self, name: &str) -> Option<&Message> {
        self.messages.get(name)
    }

    /// The message for an object's `apiVersion` and `kind`. meta.k8s.io/v1 kinds such as
    /// `Status` and `DeleteOptions` are served under every group version.
    pub(crate) fn message_for_kind(&self, api_version: &str, kind: &str) -> Option<&str> {
        let lookup = |api_version: &str| self.kinds.get(&format!("{api_version}/{kind}").to_lowercase());
        lookup(api_version).or_else(|| lookup("meta.k8s.io/v1")).map(String::as_str)
    }
}

impl Message {
    pub(crate) fn json_name(&self, number: u32) -> &str {
        self.fields.iter().find(|f| f.number == number).map_or("", |f| f.json_name.as_str())
    }
}

impl Field {
    /// Rows are `[number, jsonName, type, flags]`; see the generator for the flags.
    fn parse(row: &Value) -> Field {
        let number = row[0].as_u64().and_then(|n| u32::try_from(n).ok()).expect("field number");
        let json_name = row[1].as_str().expect("field JSON name").to_string();
        let ty = match row[2].as_str().expect("field type") {
            "string" => FieldType::String,
            "int32" => FieldType::Int32,
            "int64" => FieldType::Int64,
            "bool" => FieldType::Bool,
            "double" => FieldType::Double,
            "bytes" => FieldType::Bytes,
            message => FieldType::Message(message.to_string()),
        };
        let label = match row[3].as_str().expect("field flags") {
            "*" => Label::Repeated,
            "m" => Label::Map,
            "k" => Label::Singular { keep_zero: true },
            "i" => Label::Inline,
            _ => Label::Singular { keep_zero: false },
        };
        Field { number, json_name, ty, label }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_type_referenced_is_in_the_table() {
        let table = table();
        assert!(table.messages.len() > 1000);
        for message in table.messages.values() {
            for field in &message.fields {
                if let FieldType::Message(name) = &field.ty {
                    assert!(table.message(name).is_some(), "{name}");
                }
            }
        }
    }

    #[test]
    fn kinds_map_to_messages() {
        let table = table();
        assert_eq!(table.message_for_kind("apps/v1", "Deployment"), Some("k8s.io.api.apps.v1.Deployment"));
        assert_eq!(table.message_for_kind("v1", "ConfigMap"), Some("k8s.io.api.core.v1.ConfigMap"));
        assert_eq!(table.message_for_kind("storage.k8s.io/v1", "CSIDriver"), Some("k8s.io.api.storage.v1.CSIDriver"));
        assert_eq!(
            table.message_for_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            Some("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition")
        );
        assert_eq!(table.message_for_kind("v1", "Status"), Some("k8s.io.apimachinery.pkg.apis.meta.v1.Status"));
        assert_eq!(
            table.message_for_kind("apps/v1", "DeleteOptions"),
            Some("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        );
        assert_eq!(table.message_for_kind("apps/v1", "PodTemplateSpec"), None);
        assert_eq!(table.message_for_kind("example.com/v1", "Widget"), None);
    }

    #[test]
    fn json_names_are_kubernetes_camel_case() {
        let table = table();
        let names = |message: &str| -> Vec<String> {
            table.message(message).unwrap().fields.iter().map(|f| f.json_name.clone()).collect()
        };
        let pod_status = names("k8s.io.api.core.v1.PodStatus");
        assert!(pod_status.contains(&"podIPs".to_string()) && pod_status.contains(&"hostIP".to_string()));
        assert!(names("k8s.io.api.core.v1.PodSpec").contains(&"hostIPC".to_string()));
        assert!(names("k8s.io.api.core.v1.ServiceSpec").contains(&"clusterIPs".to_string()));
        assert!(names("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta").contains(&"generateName".to_string()));
        let schema = names("k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps");
        assert!(schema.contains(&"$ref".to_string()) && schema.contains(&"x-kubernetes-int-or-string".to_string()));
    }
}
