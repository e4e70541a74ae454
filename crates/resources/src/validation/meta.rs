//! Object metadata validation (upstream's `ValidateObjectMeta` and its update twin).

use super::names;
use crate::{FieldError, FieldPath};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Which syntax a kind's names follow.
pub type NameRule = fn(&str) -> Vec<String>;

/// Total size of all annotations (keys and values), as upstream limits it.
const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Validate metadata of a new object: name (or generateName) by `rule`, namespace
/// presence by `namespaced`, label and annotation syntax.
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = Vec::new();
    match meta.name.as_deref() {
        Some(name) if !name.is_empty() => {
            for msg in rule(name) {
                errs.push(FieldError::invalid(&path.child("name"), name, msg));
            }
        }
        _ => {
            if meta.generate_name.as_deref().unwrap_or_default().is_empty() {
                errs.push(FieldError::required(&path.child("name"), "name or generateName is required"));
            }
        }
    }
    let ns = meta.namespace.as_deref().unwrap_or_default();
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            for msg in names::dns1123_label(ns) {
                errs.push(FieldError::invalid(&path.child("namespace"), ns, msg));
            }
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(&path.child("namespace"), "not allowed on this type"));
    }
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(meta.annotations.as_ref(), &path.child("annotations")));
    errs
}

/// Validate metadata of an updated object: as for create, and name, namespace, uid and
/// creationTimestamp may not change.
pub fn validate_object_meta_update(
    new: &ObjectMeta,
    old: &ObjectMeta,
    namespaced: bool,
    rule: NameRule,
) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = validate_object_meta(new, namespaced, rule);
    let immutable = |field: &str, n: &Option<String>, o: &Option<String>, errs: &mut Vec<FieldError>| {
        if n != o {
            errs.push(FieldError::invalid(&path.child(field), n.clone().unwrap_or_default(), "field is immutable"));
        }
    };
    immutable("name", &new.name, &old.name, &mut errs);
    immutable("namespace", &new.namespace, &old.namespace, &mut errs);
    immutable("uid", &new.uid, &old.uid, &mut errs);
    errs
}

/// Label keys must be qualified names, values label values.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        for msg in names::qualified_name(k) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        for msg in names::label_value(v) {
            errs.push(FieldError::invalid(&path.key(k), v.as_str(), msg));
        }
    }
    errs
}

/// Annotation keys must be qualified names (lower-cased), and all of them together at
/// most 256 KiB.
pub fn validate_annotations(annotations: Option<&BTreeMap<String, String>>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut total = 0;
    for (k, v) in annotations.into_iter().flatten() {
        for msg in names::qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}
