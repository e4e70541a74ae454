//! networking.k8s.io/v1 IngressClass: which controller implements a class of Ingresses.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::networking::v1::IngressClass;

pub const DEF: ResourceDef = ResourceDef {
    group: "networking.k8s.io",
    version: "v1",
    kind: "IngressClass",
    plural: "ingressclasses",
    singular: "ingressclass",
    short_names: &[],
    categories: &[],
    namespaced: false,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.networking.v1.IngressClass",
    strategy: &Typed(IngressClassStrategy),
};

pub struct IngressClassStrategy;

const MAX_CONTROLLER_LEN: usize = 250;

fn validate_spec(class: &IngressClass) -> Vec<FieldError> {
    let path = FieldPath::new("spec").child("controller");
    let controller = class.spec.as_ref().and_then(|s| s.controller.clone()).unwrap_or_default();
    if controller.is_empty() {
        return vec![FieldError::required(&path, "")];
    }
    if controller.len() > MAX_CONTROLLER_LEN {
        return vec![FieldError::too_long(&path, MAX_CONTROLLER_LEN)];
    }
    match controller.split_once('/') {
        Some((domain, _)) => names::dns1123_subdomain(domain)
            .into_iter()
            .map(|m| FieldError::invalid(&path, controller.as_str(), m))
            .collect(),
        None => vec![FieldError::invalid(
            &path,
            controller.as_str(),
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )],
    }
}

impl TypedStrategy for IngressClassStrategy {
    type Object = IngressClass;
    const GENERATION: bool = true;

    fn validate(&self, class: &IngressClass) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&class.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_spec(class));
        errs
    }

    fn validate_update(&self, new: &IngressClass, old: &IngressClass) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, false, names::dns1123_subdomain);
        errs.extend(validate_spec(new));
        let controller = |c: &IngressClass| c.spec.as_ref().and_then(|s| s.controller.clone()).unwrap_or_default();
        if controller(new) != controller(old) {
            errs.push(FieldError::invalid(
                &FieldPath::new("spec").child("controller"),
                controller(new),
                "field is immutable",
            ));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Controller", "string", "Controller that is responsible for handling this class"),
            Column::new("Parameters", "string", "A reference to a resource with additional parameters"),
            Column::AGE,
        ]
    }

    fn cells(&self, class: &IngressClass) -> Vec<Cell> {
        let spec = class.spec.clone().unwrap_or_default();
        let parameters = spec.parameters.as_ref().map_or("<none>".to_owned(), |p| match &p.api_group {
            Some(group) => format!("{}.{group}/{}", p.kind, p.name),
            None => format!("{}/{}", p.kind, p.name),
        });
        vec![
            table::name(&class.metadata),
            spec.controller.unwrap_or_default().into(),
            parameters.into(),
            table::age(&class.metadata),
        ]
    }
}
