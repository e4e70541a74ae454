//! storage.k8s.io/v1 CSINode: the CSI drivers registered on a node.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::storage::v1::CSINode;
use std::collections::BTreeSet;

pub const DEF: ResourceDef = ResourceDef {
    group: "storage.k8s.io",
    version: "v1",
    kind: "CSINode",
    plural: "csinodes",
    singular: "csinode",
    short_names: &[],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.storage.v1.CSINode",
    strategy: &Typed(CSINodeStrategy),
};

pub struct CSINodeStrategy;

fn validate_drivers(node: &CSINode) -> Vec<FieldError> {
    let path = FieldPath::new("spec").child("drivers");
    let mut seen = BTreeSet::new();
    let mut errs = Vec::new();
    for (i, d) in node.spec.drivers.iter().enumerate() {
        if d.name.is_empty() {
            errs.push(FieldError::required(&path.index(i).child("name"), ""));
        } else if !seen.insert(d.name.clone()) {
            errs.push(FieldError::duplicate(&path.index(i).child("name"), d.name.as_str()));
        }
        if d.node_id.is_empty() {
            errs.push(FieldError::required(&path.index(i).child("nodeID"), ""));
        }
    }
    errs
}

impl TypedStrategy for CSINodeStrategy {
    type Object = CSINode;

    fn validate(&self, node: &CSINode) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&node.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_drivers(node));
        errs
    }

    fn validate_update(&self, new: &CSINode, old: &CSINode) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_drivers(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
            Column::AGE,
        ]
    }

    fn cells(&self, node: &CSINode) -> Vec<Cell> {
        vec![table::name(&node.metadata), node.spec.drivers.len().into(), table::age(&node.metadata)]
    }
}
