//! core/v1 Endpoints: the addresses and ports behind a Service (legacy form of EndpointSlices).

use super::shared::default_str;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::service::PORT_RANGE_MSG;
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::core::v1::{EndpointSubset, Endpoints};
use std::net::IpAddr;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "Endpoints",
    plural: "endpoints",
    singular: "endpoints",
    short_names: &["ep"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.core.v1.Endpoints",
    strategy: &Typed(EndpointsStrategy),
};

pub struct EndpointsStrategy;

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
/// Addresses shown before ` + N more...`.
const SHOWN_ENDPOINTS: usize = 3;

fn validate_subset(subset: &EndpointSubset, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, addrs) in [("addresses", &subset.addresses), ("notReadyAddresses", &subset.not_ready_addresses)] {
        for (i, addr) in addrs.iter().flatten().enumerate() {
            if addr.ip.parse::<IpAddr>().is_err() {
                errs.push(FieldError::invalid(
                    &path.child(field).index(i).child("ip"),
                    addr.ip.as_str(),
                    "must be a valid IP address",
                ));
            }
        }
    }
    let ports = subset.ports.as_deref().unwrap_or_default();
    for (i, port) in ports.iter().enumerate() {
        let p = path.child("ports").index(i);
        let name = port.name.as_deref().unwrap_or_default();
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else if !name.is_empty() {
            errs.extend(names::dns1123_label(name).into_iter().map(|m| FieldError::invalid(&p.child("name"), name, m)));
        }
        if !(1..=65535).contains(&port.port) {
            errs.push(FieldError::invalid(&p.child("port"), port.port, PORT_RANGE_MSG));
        }
        match port.protocol.as_deref().unwrap_or_default() {
            "" => errs.push(FieldError::required(&p.child("protocol"), "")),
            proto if !PROTOCOLS.contains(&proto) => {
                errs.push(FieldError::not_supported(&p.child("protocol"), proto, PROTOCOLS))
            }
            _ => {}
        }
    }
    errs
}

fn validate_subsets(ep: &Endpoints) -> Vec<FieldError> {
    let path = FieldPath::new("subsets");
    ep.subsets.iter().flatten().enumerate().flat_map(|(i, s)| validate_subset(s, &path.index(i))).collect()
}

/// Upstream's `formatEndpoints`: `ip:port` pairs, at most three, then ` + N more...`.
fn format_endpoints(ep: &Endpoints) -> String {
    let subsets = ep.subsets.as_deref().unwrap_or_default();
    if subsets.is_empty() {
        return "<none>".to_owned();
    }
    let mut list: Vec<String> = Vec::new();
    let mut count = 0;
    for ss in subsets {
        let addrs = ss.addresses.as_deref().unwrap_or_default();
        let ports = ss.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            count += addrs.len();
            list.extend(addrs.iter().map(|a| a.ip.clone()).take(SHOWN_ENDPOINTS.saturating_sub(list.len())));
            continue;
        }
        for port in ports {
            count += addrs.len();
            for a in addrs.iter().take(SHOWN_ENDPOINTS.saturating_sub(list.len())) {
                let host = if a.ip.contains(':') { format!("[{}]", a.ip) } else { a.ip.clone() };
                list.push(format!("{host}:{}", port.port));
            }
        }
    }
    let shown = list.join(",");
    if count > SHOWN_ENDPOINTS { format!("{shown} + {} more...", count - SHOWN_ENDPOINTS) } else { shown }
}

impl TypedStrategy for EndpointsStrategy {
    type Object = Endpoints;
    const DEPRECATION: Option<&'static str> =
        Some("v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice");

    fn default(&self, ep: &mut Endpoints) {
        for port in ep.subsets.iter_mut().flatten().flat_map(|s| s.ports.iter_mut().flatten()) {
            default_str(&mut port.protocol, "TCP");
        }
    }

    fn validate(&self, ep: &Endpoints) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&ep.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_subsets(ep));
        errs
    }

    fn validate_update(&self, new: &Endpoints, old: &Endpoints) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_subsets(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new(
                "Endpoints",
                "string",
                "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service.",
            ),
            Column::AGE,
        ]
    }

    fn cells(&self, ep: &Endpoints) -> Vec<Cell> {
        vec![table::name(&ep.metadata), format_endpoints(ep).into(), table::age(&ep.metadata)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn endpoints_cell_caps_at_three() {
        let mut v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "my-nginx", "namespace": "default"}, "subsets": [{
                "addresses": [{"ip": "10.244.1.5"}, {"ip": "10.244.2.6"}, {"ip": "10.244.3.7"}, {"ip": "10.244.4.8"}],
                "ports": [{"port": 80}]
            }]}))
            .unwrap()
            .object;
        DEF.strategy.default(&mut v);
        assert_eq!(v["subsets"][0]["ports"][0]["protocol"], "TCP");
        assert!(DEF.strategy.validate(&v).is_empty());
        assert_eq!(DEF.strategy.cells(&v)[1], "10.244.1.5:80,10.244.2.6:80,10.244.3.7:80 + 1 more...");
        let empty = DEF.strategy.decode(json!({"metadata": {"name": "x", "namespace": "d"}})).unwrap().object;
        assert_eq!(DEF.strategy.cells(&empty)[1], "<none>");
    }
}
