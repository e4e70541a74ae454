//! core/v1 Namespace: the scope of namespaced objects; deleted through its finalizers.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    singular: "namespace",
    short_names: &["ns"],
    categories: &[],
    namespaced: false,
    verbs: &["create", "delete", "get", "list", "patch", "update", "watch"],
    subresources: &[Subresource::Finalize, Subresource::Status],
    definition: "io.k8s.api.core.v1.Namespace",
    strategy: &Typed(NamespaceStrategy),
};

pub struct NamespaceStrategy;

/// The label every namespace carries with its own name.
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The finalizer the namespace controller removes once the namespace is empty.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// Upstream's `ValidateFinalizerName`.
fn validate_finalizer(name: &str, path: &FieldPath) -> Vec<FieldError> {
    let mut errs: Vec<FieldError> =
        names::qualified_name(name).into_iter().map(|m| FieldError::invalid(path, name, m)).collect();
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    errs
}

fn validate_spec(ns: &Namespace) -> Vec<FieldError> {
    let path = FieldPath::new("spec").child("finalizers");
    ns.spec.iter().flat_map(|s| s.finalizers.iter().flatten()).flat_map(|f| validate_finalizer(f, &path)).collect()
}

impl TypedStrategy for NamespaceStrategy {
    type Object = Namespace;
    const FIELD_SELECTORS: &'static [&'static str] = &["status.phase"];

    fn default(&self, ns: &mut Namespace) {
        if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
            ns.metadata.labels.get_or_insert_with(Default::default).insert(METADATA_NAME_LABEL.to_owned(), name);
        }
        let status = ns.status.get_or_insert_with(Default::default);
        if status.phase.as_deref().unwrap_or_default().is_empty() {
            status.phase = Some("Active".to_owned());
        }
    }

    /// A new namespace is Active and carries the `kubernetes` finalizer.
    fn prepare_for_create(&self, ns: &mut Namespace) {
        ns.status = Some(NamespaceStatus { phase: Some("Active".to_owned()), conditions: None });
        let finalizers = ns.spec.get_or_insert_with(NamespaceSpec::default).finalizers.get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
            finalizers.push(KUBERNETES_FINALIZER.to_owned());
        }
    }

    /// A deleted namespace stays until the namespace controller has emptied it and
    /// removed its `spec.finalizers` through `/finalize`.
    fn blocks_deletion(&self, ns: &Namespace) -> bool {
        ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).is_some_and(|f| !f.is_empty())
    }

    fn begin_deletion(&self, ns: &mut Namespace) {
        ns.status.get_or_insert_with(Default::default).phase = Some("Terminating".to_owned());
    }

    /// Finalizers change only through `/finalize`, status only through `/status`.
    fn prepare_for_update(&self, new: &mut Namespace, old: &Namespace) {
        let old_finalizers = old.spec.as_ref().and_then(|s| s.finalizers.clone());
        new.spec.get_or_insert_with(NamespaceSpec::default).finalizers = old_finalizers;
        new.status = old.status.clone();
    }

    fn validate(&self, ns: &Namespace) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&ns.metadata, false, names::dns1123_label);
        errs.extend(validate_spec(ns));
        errs
    }

    fn validate_update(&self, new: &Namespace, old: &Namespace) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_label);
        errs.extend(validate_spec(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![Column::NAME, Column::new("Status", "string", "The status of the namespace"), Column::AGE]
    }

    fn cells(&self, ns: &Namespace) -> Vec<Cell> {
        let phase = ns.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
        vec![table::name(&ns.metadata), phase.into(), table::age(&ns.metadata)]
    }

    fn selectable_fields(&self, ns: &Namespace) -> Vec<(&'static str, String)> {
        vec![("status.phase", ns.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_namespace_is_labelled_finalized_and_active() {
        let mut v = DEF.strategy.decode(json!({"metadata": {"name": "dev"}})).unwrap().object;
        DEF.strategy.default(&mut v);
        DEF.strategy.prepare_for_create(&mut v);
        assert_eq!(v["metadata"]["labels"]["kubernetes.io/metadata.name"], "dev");
        assert_eq!(v["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(v["status"]["phase"], "Active");
        assert!(DEF.strategy.validate(&v).is_empty());
        assert_eq!(DEF.strategy.cells(&v)[1], "Active");
        assert_eq!(DEF.strategy.selectable_fields(&v), vec![("status.phase", "Active".to_owned())]);
    }

    #[test]
    fn names_are_labels() {
        let v = DEF.strategy.decode(json!({"metadata": {"name": "a.b"}})).unwrap().object;
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0].starts_with("metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label"));
    }

    #[test]
    fn finalizer_names() {
        let v = DEF.strategy.decode(json!({"metadata": {"name": "x"}, "spec": {"finalizers": ["custom"]}})).unwrap();
        let msgs: Vec<String> = DEF.strategy.validate(&v.object).iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "spec.finalizers: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
    }
}
