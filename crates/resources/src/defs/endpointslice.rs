//! discovery.k8s.io/v1 EndpointSlice: a slice of a Service's endpoints.

use super::shared::capped_list;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::discovery::v1::EndpointSlice;

pub const DEF: ResourceDef = ResourceDef {
    group: "discovery.k8s.io",
    version: "v1",
    kind: "EndpointSlice",
    plural: "endpointslices",
    singular: "endpointslice",
    short_names: &[],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.discovery.v1.EndpointSlice",
    strategy: &Typed(EndpointSliceStrategy),
};

pub struct EndpointSliceStrategy;

const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const MAX_ADDRESSES: usize = 100;
/// Ports and endpoints shown before ` + N more...`.
const SHOWN: usize = 3;

fn validate_slice(slice: &EndpointSlice) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if !ADDRESS_TYPES.contains(&slice.address_type.as_str()) {
        errs.push(FieldError::not_supported(
            &FieldPath::new("addressType"),
            slice.address_type.as_str(),
            ADDRESS_TYPES,
        ));
    }
    let path = FieldPath::new("endpoints");
    for (i, ep) in slice.endpoints.iter().enumerate() {
        let p = path.index(i).child("addresses");
        if ep.addresses.is_empty() {
            errs.push(FieldError::required(&p, "must contain at least 1 address"));
        } else if ep.addresses.len() > MAX_ADDRESSES {
            errs.push(FieldError {
                kind: crate::ErrorType::TooMany,
                field: p.to_string(),
                value: None,
                detail: format!("must have at most {MAX_ADDRESSES} items"),
            });
        }
        for (j, addr) in ep.addresses.iter().enumerate() {
            let bad = match slice.address_type.as_str() {
                "IPv4" => addr.parse::<std::net::Ipv4Addr>().err().map(|_| "must be a valid IPv4 address".to_owned()),
                "IPv6" => addr.parse::<std::net::Ipv6Addr>().err().map(|_| "must be a valid IPv6 address".to_owned()),
                _ => names::dns1123_subdomain(addr).into_iter().next(),
            };
            if let Some(msg) = bad {
                errs.push(FieldError::invalid(&p.index(j), addr.as_str(), msg));
            }
        }
    }
    for (i, port) in slice.ports.iter().flatten().enumerate() {
        let p = FieldPath::new("ports").index(i);
        if let Some(proto) = port.protocol.as_deref().filter(|proto| !PROTOCOLS.contains(proto)) {
            errs.push(FieldError::not_supported(&p.child("protocol"), proto, PROTOCOLS));
        }
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            errs.extend(names::dns1123_label(name).into_iter().map(|m| FieldError::invalid(&p.child("name"), name, m)));
        }
    }
    errs
}

impl TypedStrategy for EndpointSliceStrategy {
    type Object = EndpointSlice;
    const GENERATION: bool = true;

    fn default(&self, slice: &mut EndpointSlice) {
        for port in slice.ports.iter_mut().flatten() {
            port.name.get_or_insert_with(String::new);
            port.protocol.get_or_insert_with(|| "TCP".to_owned());
        }
    }

    fn validate(&self, slice: &EndpointSlice) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&slice.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_slice(slice));
        errs
    }

    fn validate_update(&self, new: &EndpointSlice, old: &EndpointSlice) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_slice(new));
        if new.address_type != old.address_type {
            errs.push(FieldError::invalid(
                &FieldPath::new("addressType"),
                new.address_type.as_str(),
                "field is immutable",
            ));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "AddressType",
                "string",
                "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name. (Deprecated) The EndpointSlice controller only generates, and kube-proxy only processes, slices of addressType \"IPv4\" and \"IPv6\". No semantics are defined for the \"FQDN\" type.",
            ),
            Column::new(
                "Ports",
                "string",
                "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. Each slice may include a maximum of 100 ports. Services always have at least 1 port, so EndpointSlices generated by the EndpointSlice controller will likewise always have at least 1 port. EndpointSlices used for other purposes may have an empty ports list.",
            ),
            Column::new(
                "Endpoints",
                "string",
                "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, slice: &EndpointSlice) -> Vec<Cell> {
        let ports: Vec<String> = slice
            .ports
            .iter()
            .flatten()
            .map(|p| match (p.port, &p.name) {
                (Some(n), _) => n.to_string(),
                (None, Some(name)) => name.clone(),
                (None, None) => "*".to_owned(),
            })
            .collect();
        let addrs: Vec<String> = slice.endpoints.iter().flat_map(|e| e.addresses.iter().cloned()).collect();
        vec![
            table::name(&slice.metadata),
            slice.address_type.clone().into(),
            capped_list(&ports, SHOWN).into(),
            capped_list(&addrs, SHOWN).into(),
            table::age(&slice.metadata),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_cells() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "web-abc", "namespace": "default"}, "addressType": "IPv4",
                "ports": [{"port": 80}], "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        assert_eq!(v["ports"][0]["protocol"], "TCP");
        assert!(DEF.strategy.validate(&v).is_empty());
        assert_eq!(&DEF.strategy.cells(&v)[1..4], &[json!("IPv4"), json!("80"), json!("10.0.0.1,10.0.0.2")]);
    }
}
