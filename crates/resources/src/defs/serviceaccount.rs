//! core/v1 ServiceAccount: the identity pods run as; tokens come from `/token`.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, ResourceDef, Subresource};
use k8s_openapi::api::core::v1::ServiceAccount;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    short_names: &["sa"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Token],
    definition: "io.k8s.api.core.v1.ServiceAccount",
    strategy: &Typed(ServiceAccountStrategy),
};

pub struct ServiceAccountStrategy;

impl TypedStrategy for ServiceAccountStrategy {
    type Object = ServiceAccount;

    fn validate(&self, sa: &ServiceAccount) -> Vec<FieldError> {
        meta::validate_object_meta(&sa.metadata, true, names::dns1123_subdomain)
    }

    fn validate_update(&self, new: &ServiceAccount, old: &ServiceAccount) -> Vec<FieldError> {
        meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain)
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Secrets",
                "string",
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, sa: &ServiceAccount) -> Vec<Cell> {
        vec![table::name(&sa.metadata), sa.secrets.as_ref().map_or(0, Vec::len).into(), table::age(&sa.metadata)]
    }
}
