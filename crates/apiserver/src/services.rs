//! Service allocation: cluster IPs from the service range and node ports from
//! 30000-32767, taken on create or type change and released on delete (upstream's
//! service REST allocators). Allocations are rebuilt from the stored Services at start.

use crate::registry::hooks::RestHooks;
use crate::status::{ApiError, ApiResult, Subject};
use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::Mutex;

/// The default NodePort range.
pub const NODE_PORTS: RangeInclusive<u16> = 30000..=32767;

/// An IPv4 CIDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (ip, prefix) = s.split_once('/').ok_or_else(|| format!("{s:?} is not a CIDR"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|e| format!("{s:?}: {e}"))?;
        let prefix: u8 = prefix.parse().map_err(|e| format!("{s:?}: {e}"))?;
        if !(8..=30).contains(&prefix) {
            return Err(format!("{s:?}: prefix must be between /8 and /30"));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr { base: Ipv4Addr::from(u32::from(ip) & mask), prefix })
    }

    fn size(self) -> u32 {
        1 << (32 - self.prefix)
    }

    /// The n-th address (0 is the network address).
    pub fn nth(self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }

    fn offset(self, ip: Ipv4Addr) -> Option<u32> {
        let off = u32::from(ip).checked_sub(u32::from(self.base))?;
        (off < self.size()).then_some(off)
    }
}

#[derive(Default)]
struct Allocated {
    ips: BTreeSet<u32>,
    ports: BTreeSet<u16>,
}

pub struct ServiceAllocator {
    range: Cidr,
    state: Mutex<Allocated>,
}

fn invalid(obj: &Value, field: &str, value: Value, detail: String) -> ApiError {
    let name = crate::registry::object::name(obj);
    let errs = [resources::FieldError::invalid(&resources::FieldPath::new(field), value, detail)];
    ApiError::invalid(
        "Service",
        "",
        name,
        &errs,
        Subject { name: name.to_owned(), group: String::new(), kind: "services".into() },
    )
}

fn needs_node_ports(obj: &Value) -> bool {
    matches!(obj.pointer("/spec/type").and_then(Value::as_str), Some("NodePort" | "LoadBalancer"))
}

fn needs_health_check_port(obj: &Value) -> bool {
    obj.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
        && obj.pointer("/spec/externalTrafficPolicy").and_then(Value::as_str) == Some("Local")
}

fn cluster_ips(obj: &Value) -> Vec<Ipv4Addr> {
    obj.pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(obj.pointer("/spec/clusterIP"))
        .filter_map(Value::as_str)
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn node_ports(obj: &Value) -> Vec<u16> {
    let ports = obj.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten();
    ports
        .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
        .chain(obj.pointer("/spec/healthCheckNodePort").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .collect()
}

impl ServiceAllocator {
    pub fn new(range: Cidr) -> Self {
        ServiceAllocator { range, state: Mutex::default() }
    }

    /// Mark what stored Services already hold.
    pub fn restore(&self, services: &[Value]) {
        let mut st = self.state.lock().expect("allocator lock");
        for svc in services {
            st.ips.extend(cluster_ips(svc).into_iter().filter_map(|ip| self.range.offset(ip)));
            st.ports.extend(node_ports(svc));
        }
    }

    fn take_ip(&self, st: &mut Allocated, obj: &Value, wanted: Option<Ipv4Addr>) -> ApiResult<Ipv4Addr> {
        let last = self.range.size() - 1;
        if let Some(ip) = wanted {
            let Some(off) = self.range.offset(ip).filter(|o| *o != 0 && *o != last) else {
                return Err(invalid(
                    obj,
                    "spec.clusterIPs",
                    json!([ip.to_string()]),
                    format!(
                        "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}/{}",
                        self.range.base, self.range.prefix
                    ),
                ));
            };
            if !st.ips.insert(off) {
                return Err(invalid(
                    obj,
                    "spec.clusterIPs",
                    json!([ip.to_string()]),
                    format!("failed to allocate IP {ip}: provided IP is already allocated"),
                ));
            }
            return Ok(ip);
        }
        let usable = last - 1;
        let start = rand::rng().random_range(0..usable);
        for i in 0..usable {
            let off = 1 + (start + i) % usable;
            if st.ips.insert(off) {
                return Ok(self.range.nth(off));
            }
        }
        Err(ApiError::Internal("failed to allocate a serviceIP: range is full".to_owned()))
    }

    fn take_port(st: &mut Allocated, obj: &Value, field: &str, wanted: Option<u16>) -> ApiResult<u16> {
        if let Some(p) = wanted {
            if !NODE_PORTS.contains(&p) {
                return Err(invalid(
                    obj,
                    field,
                    json!(p),
                    format!(
                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                        NODE_PORTS.start(),
                        NODE_PORTS.end()
                    ),
                ));
            }
            if !st.ports.insert(p) {
                return Err(invalid(obj, field, json!(p), "provided port is already allocated".to_owned()));
            }
            return Ok(p);
        }
        let span = u32::from(NODE_PORTS.end() - NODE_PORTS.start()) + 1;
        let start = rand::rng().random_range(0..span);
        for i in 0..span {
            let p = NODE_PORTS.start() + ((start + i) % span) as u16;
            if st.ports.insert(p) {
                return Ok(p);
            }
        }
        Err(ApiError::Internal("failed to allocate a nodePort: range is full".to_owned()))
    }

    /// Fill clusterIP(s) and node ports the Service needs, keeping what `old` held.
    fn allocate(&self, obj: &mut Value, old: Option<&Value>) -> ApiResult<()> {
        let mut st = self.state.lock().expect("allocator lock");
        let ty = obj.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
        let old_ips = old.map(cluster_ips).unwrap_or_default();
        let requested = obj.pointer("/spec/clusterIP").and_then(Value::as_str).unwrap_or_default().to_owned();
        if ty != "ExternalName" && requested != "None" {
            let ip = match (old_ips.first(), requested.parse::<Ipv4Addr>().ok()) {
                (Some(kept), None) => *kept,
                (Some(kept), Some(r)) if r == *kept => *kept,
                (_, wanted) if requested.is_empty() || wanted.is_some() => self.take_ip(&mut st, obj, wanted)?,
                _ => {
                    return Err(invalid(
                        obj,
                        "spec.clusterIPs[0]",
                        json!(requested),
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".into(),
                    ));
                }
            };
            obj["spec"]["clusterIP"] = json!(ip.to_string());
            obj["spec"]["clusterIPs"] = json!([ip.to_string()]);
        } else if requested == "None" {
            obj["spec"]["clusterIPs"] = json!(["None"]);
        }
        if ty != "ExternalName" {
            let spec = &mut obj["spec"];
            if spec.get("ipFamilies").is_none() {
                spec["ipFamilies"] = json!(["IPv4"]);
            }
            if spec.get("ipFamilyPolicy").is_none() {
                spec["ipFamilyPolicy"] = json!("SingleStack");
            }
        }
        let old_ports = old.map(node_ports).unwrap_or_default();
        if needs_node_ports(obj) {
            let count = obj.pointer("/spec/ports").and_then(Value::as_array).map_or(0, Vec::len);
            for i in 0..count {
                let wanted = obj["spec"]["ports"][i].get("nodePort").and_then(Value::as_u64).map(|p| p as u16);
                let port = match wanted {
                    Some(p) if old_ports.contains(&p) => p,
                    w => Self::take_port(&mut st, obj, &format!("spec.ports[{i}].nodePort"), w)?,
                };
                obj["spec"]["ports"][i]["nodePort"] = json!(port);
            }
        } else if let Some(ports) = obj.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in ports {
                p.as_object_mut().map(|o| o.remove("nodePort"));
            }
        }
        if needs_health_check_port(obj) {
            let wanted = obj.pointer("/spec/healthCheckNodePort").and_then(Value::as_u64).map(|p| p as u16);
            let port = match wanted {
                Some(p) if old_ports.contains(&p) => p,
                w => Self::take_port(&mut st, obj, "spec.healthCheckNodePort", w)?,
            };
            obj["spec"]["healthCheckNodePort"] = json!(port);
        }
        Ok(())
    }

    /// Free what `obj` held and `kept` (its replacement) does not.
    fn free(&self, obj: &Value, kept: Option<&Value>) {
        let mut st = self.state.lock().expect("allocator lock");
        let keep_ips = kept.map(cluster_ips).unwrap_or_default();
        let keep_ports = kept.map(node_ports).unwrap_or_default();
        for ip in cluster_ips(obj).into_iter().filter(|ip| !keep_ips.contains(ip)) {
            if let Some(off) = self.range.offset(ip) {
                st.ips.remove(&off);
            }
        }
        for p in node_ports(obj).into_iter().filter(|p| !keep_ports.contains(p)) {
            st.ports.remove(&p);
        }
    }
}

#[async_trait]
impl RestHooks for ServiceAllocator {
    async fn before_create(&self, obj: &mut Value) -> ApiResult<()> {
        self.allocate(obj, None)
    }

    async fn before_update(&self, new: &mut Value, old: &Value) -> ApiResult<()> {
        self.allocate(new, Some(old))
    }

    async fn release(&self, obj: &Value, kept: Option<&Value>) {
        self.free(obj, kept);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_and_refuses_duplicates() {
        let alloc = ServiceAllocator::new(Cidr::parse("10.0.0.0/16").unwrap());
        let mut a = json!({"metadata": {"name": "a"}, "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 443}]}});
        alloc.allocate(&mut a, None).unwrap();
        assert_eq!(a["spec"]["clusterIPs"], json!(["10.0.0.1"]));
        let mut b = json!({"metadata": {"name": "b"}, "spec": {"clusterIP": "10.0.0.1"}});
        let err = alloc.allocate(&mut b, None).unwrap_err();
        assert!(err.to_string().contains("provided IP is already allocated"), "{err}");
        let mut np = json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443, "nodePort": 30443}]}});
        alloc.allocate(&mut np, None).unwrap();
        let p0 = np["spec"]["ports"][0]["nodePort"].as_u64().unwrap() as u16;
        assert!(NODE_PORTS.contains(&p0));
        assert_eq!(np["spec"]["ports"][1]["nodePort"], 30443);
        let mut dup =
            json!({"metadata": {"name": "d"}, "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": 30443}]}});
        assert!(alloc.allocate(&mut dup, None).is_err());
        alloc.free(&np, None);
        let mut again =
            json!({"metadata": {"name": "d"}, "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": 30443}]}});
        alloc.allocate(&mut again, None).unwrap();
    }
}
