//! core/v1 ConfigMap: `kubectl create configmap`, volumes of configuration files.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::core::v1::ConfigMap;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    singular: "configmap",
    short_names: &["cm"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.core.v1.ConfigMap",
    strategy: &Typed(ConfigMapStrategy),
};

pub struct ConfigMapStrategy;

/// Keys of `data` and `binaryData` must look like file names.
fn validate_key(path: &FieldPath, key: &str) -> Vec<FieldError> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && !key.starts_with("..")
        && key.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if ok {
        Vec::new()
    } else {
        vec![FieldError::invalid(
            &path.key(key),
            key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
        )]
    }
}

impl TypedStrategy for ConfigMapStrategy {
    type Object = ConfigMap;

    fn validate(&self, cm: &ConfigMap) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&cm.metadata, true, names::dns1123_subdomain);
        let data = FieldPath::new("data");
        for key in cm.data.iter().flatten().map(|(k, _)| k) {
            errs.extend(validate_key(&data, key));
        }
        let binary = FieldPath::new("binaryData");
        for key in cm.binary_data.iter().flatten().map(|(k, _)| k) {
            errs.extend(validate_key(&binary, key));
            if cm.data.as_ref().is_some_and(|d| d.contains_key(key)) {
                errs.push(FieldError::invalid(&binary.key(key), key.as_str(), "duplicate of key present in data"));
            }
        }
        errs
    }

    fn validate_update(&self, new: &ConfigMap, old: &ConfigMap) -> Vec<FieldError> {
        let mut errs = self.validate(new);
        errs.extend(meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain));
        if old.immutable == Some(true) && (new.data != old.data || new.binary_data != old.binary_data) {
            errs.push(FieldError::forbidden(&FieldPath::new("data"), "field is immutable when `immutable` is set"));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![Column::NAME, Column::new("Data", "integer", "Data contains the configuration data."), Column::AGE]
    }

    fn cells(&self, cm: &ConfigMap) -> Vec<Cell> {
        let count = cm.data.as_ref().map_or(0, |d| d.len()) + cm.binary_data.as_ref().map_or(0, |d| d.len());
        vec![table::name(&cm.metadata), count.into(), table::age(&cm.metadata)]
    }
}
