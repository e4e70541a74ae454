//! coordination.k8s.io/v1 Lease: a lock with a holder and a renew time (leader election,
//! node heartbeats).

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::coordination::v1::Lease;

pub const DEF: ResourceDef = ResourceDef {
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    singular: "lease",
    short_names: &[],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.coordination.v1.Lease",
    strategy: &Typed(LeaseStrategy),
};

pub struct LeaseStrategy;

fn validate_spec(lease: &Lease) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let spec = lease.spec.clone().unwrap_or_default();
    let mut errs = Vec::new();
    if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
        errs.push(FieldError::invalid(&path.child("leaseDurationSeconds"), d, "must be greater than 0"));
    }
    if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
        errs.push(FieldError::invalid(&path.child("leaseTransitions"), t, "must be greater than or equal to 0"));
    }
    if spec.preferred_holder.is_some() && spec.strategy.is_none() {
        errs.push(FieldError::forbidden(
            &path.child("preferredHolder"),
            "may only be specified if `strategy` is defined",
        ));
    }
    errs
}

impl TypedStrategy for LeaseStrategy {
    type Object = Lease;

    fn validate(&self, lease: &Lease) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&lease.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(lease));
        errs
    }

    fn validate_update(&self, new: &Lease, old: &Lease) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Holder",
                "string",
                "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, lease: &Lease) -> Vec<Cell> {
        let holder = lease.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default();
        vec![table::name(&lease.metadata), holder.into(), table::age(&lease.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn holder_and_duration() {
        let v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "node-1", "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 0}}))
            .unwrap()
            .object;
        let msgs: Vec<String> = DEF.strategy.validate(&v).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]);
        assert_eq!(DEF.strategy.cells(&v)[1], "node-1");
    }
}
