//! networking.k8s.io/v1 NetworkPolicy: which traffic may reach and leave selected pods.

use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPort};

pub const DEF: ResourceDef = ResourceDef {
    group: "networking.k8s.io",
    version: "v1",
    kind: "NetworkPolicy",
    plural: "networkpolicies",
    singular: "networkpolicy",
    short_names: &["netpol"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.networking.v1.NetworkPolicy",
    strategy: &Typed(NetworkPolicyStrategy),
};

pub struct NetworkPolicyStrategy;

const POLICY_TYPES: &[&str] = &["Egress", "Ingress"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

fn validate_ports(ports: &[NetworkPolicyPort], path: &FieldPath) -> Vec<FieldError> {
    let protocols = ports.iter().enumerate().filter_map(|(j, p)| p.protocol.as_deref().map(|proto| (j, proto)));
    protocols
        .filter(|(_, proto)| !PROTOCOLS.contains(proto))
        .map(|(j, proto)| FieldError::not_supported(&path.index(j).child("protocol"), proto, PROTOCOLS))
        .collect()
}

fn validate_spec(np: &NetworkPolicy) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let spec = np.spec.clone().unwrap_or_default();
    let mut errs = Vec::new();
    if let Some(sel) = &spec.pod_selector {
        errs.extend(meta::validate_labels(sel.match_labels.as_ref(), &path.child("podSelector").child("matchLabels")));
    }
    let types = spec.policy_types.unwrap_or_default();
    for (i, t) in types.iter().enumerate().filter(|(_, t)| !POLICY_TYPES.contains(&t.as_str())) {
        errs.push(FieldError::not_supported(&path.child("policyTypes").index(i), t.as_str(), POLICY_TYPES));
    }
    if types.len() > POLICY_TYPES.len() {
        errs.push(FieldError::invalid(
            &path.child("policyTypes"),
            serde_json::json!(types),
            "may not specify more than two policyTypes",
        ));
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let ports = rule.ports.clone().unwrap_or_default();
        errs.extend(validate_ports(&ports, &path.child("ingress").index(i).child("ports")));
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let ports = rule.ports.clone().unwrap_or_default();
        errs.extend(validate_ports(&ports, &path.child("egress").index(i).child("ports")));
    }
    errs
}

impl TypedStrategy for NetworkPolicyStrategy {
    type Object = NetworkPolicy;
    const GENERATION: bool = true;

    /// Ports default to TCP; policyTypes to Ingress, plus Egress when egress rules exist.
    fn default(&self, np: &mut NetworkPolicy) {
        let spec = np.spec.get_or_insert_with(Default::default);
        spec.pod_selector.get_or_insert_with(Default::default);
        let ingress = spec.ingress.iter_mut().flatten().flat_map(|r| r.ports.iter_mut().flatten());
        let egress = spec.egress.iter_mut().flatten().flat_map(|r| r.ports.iter_mut().flatten());
        for port in ingress.chain(egress) {
            port.protocol.get_or_insert_with(|| "TCP".to_owned());
        }
        if spec.policy_types.as_deref().unwrap_or_default().is_empty() {
            let mut types = vec!["Ingress".to_owned()];
            if !spec.egress.as_deref().unwrap_or_default().is_empty() {
                types.push("Egress".to_owned());
            }
            spec.policy_types = Some(types);
        }
    }

    fn validate(&self, np: &NetworkPolicy) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&np.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(np));
        errs
    }

    fn validate_update(&self, new: &NetworkPolicy, old: &NetworkPolicy) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Pod-Selector",
                "string",
                "podSelector selects the pods to which this NetworkPolicy object applies. The array of ingress rules is applied to any pods selected by this field. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is NOT optional and follows standard label selector semantics. An empty podSelector matches all pods in this namespace.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, np: &NetworkPolicy) -> Vec<Cell> {
        let selector = np.spec.as_ref().and_then(|s| s.pod_selector.as_ref());
        vec![table::name(&np.metadata), table::selector(selector).into(), table::age(&np.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policy_types_default() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "np", "namespace": "default"}, "spec": {
                "podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [{"ports": [{"port": 5432}]}], "egress": [{}]
            }}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        assert_eq!(v["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(v["spec"]["ingress"][0]["ports"][0]["protocol"], "TCP");
        assert!(DEF.strategy.validate(&v).is_empty());
        assert_eq!(DEF.strategy.cells(&v)[1], "app=db");
    }
}
