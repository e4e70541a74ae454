//! Service allocation: cluster IPs from the service range and node ports from
//! 30000-32767, taken on create or type change and released on delete (upstream's
//! service REST allocators). Every allocation is also a key in the store ([`claims`]), so
//! API servers sharing a store never hand out the same one; each server's sets are a cache,
//! rebuilt from the stored Services and claims at start.

mod claims;

use crate::registry::hooks::RestHooks;
use crate::status::{ApiError, ApiResult, Subject};
use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

use claims::{Claim, ClaimError, Ledger};

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
    ledger: Ledger,
}

/// How often a Service's allocation is retried when other servers win the claims it picked.
const CLAIM_ATTEMPTS: usize = 16;

/// One allocation made for a Service: the claim, and the field that asked for exactly it.
struct Taken {
    claim: Claim,
    wanted_in: Option<String>,
}

fn ip_taken(obj: &Value, ip: Ipv4Addr) -> ApiError {
    invalid(
        obj,
        "spec.clusterIPs",
        json!([ip.to_string()]),
        format!("failed to allocate IP {ip}: provided IP is already allocated"),
    )
}

fn port_taken(obj: &Value, field: &str, port: u16) -> ApiError {
    invalid(obj, field, json!(port), "provided port is already allocated".to_owned())
}

/// `namespace/name`, the owner written into a claim.
fn owner(obj: &Value) -> String {
    let namespace = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
    format!("{namespace}/{}", crate::registry::object::name(obj))
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
    pub fn new(range: Cidr, store: Arc<dyn storage::Store>) -> Self {
        ServiceAllocator { range, state: Mutex::default(), ledger: Ledger::new(store) }
    }

    /// Learn what is taken: what stored Services hold (claiming it if that predates
    /// claims) and what other servers claimed.
    pub async fn restore(&self, services: &[Value]) -> storage::Result<()> {
        let held: Vec<(Claim, String)> = services
            .iter()
            .flat_map(|svc| {
                let claims =
                    cluster_ips(svc).into_iter().map(Claim::Ip).chain(node_ports(svc).into_iter().map(Claim::Port));
                claims.map(|c| (c, owner(svc))).collect::<Vec<_>>()
            })
            .collect();
        let all = self.ledger.reconcile(&held).await?;
        self.replace_cache(all);
        Ok(())
    }

    /// Make the cache what the store holds: other servers' frees are only seen this way.
    fn replace_cache(&self, claims: BTreeSet<Claim>) {
        let mut st = self.state.lock().expect("allocator lock");
        *st = Allocated::default();
        for claim in claims {
            self.mark(&mut st, claim);
        }
    }

    fn mark(&self, st: &mut Allocated, claim: Claim) {
        match claim {
            Claim::Ip(ip) => st.ips.extend(self.range.offset(ip)),
            Claim::Port(port) => {
                st.ports.insert(port);
            }
        }
    }

    /// Forget `claims` in this server's cache.
    fn forget<'a>(&self, claims: impl IntoIterator<Item = &'a Claim>) {
        let mut st = self.state.lock().expect("allocator lock");
        for claim in claims {
            match claim {
                Claim::Ip(ip) => {
                    self.range.offset(*ip).map(|off| st.ips.remove(&off));
                }
                Claim::Port(port) => {
                    st.ports.remove(port);
                }
            }
        }
    }

    /// Allocate what the Service needs, in the cache and then in the store; when another
    /// server won a claim, try again with what is left (or fail if exactly that was asked).
    async fn claim(&self, obj: &mut Value, old: Option<&Value>) -> ApiResult<()> {
        let mut refreshed = false;
        for _ in 0..CLAIM_ATTEMPTS {
            let mut attempt = obj.clone();
            let taken = match self.allocate(&mut attempt, old) {
                Ok(taken) => taken,
                // Full as far as this server knows: others may have freed some since.
                Err(ApiError::Internal(message)) if message.contains("range is full") && !refreshed => {
                    refreshed = true;
                    self.replace_cache(self.ledger.all().await?);
                    continue;
                }
                Err(error) => return Err(error),
            };
            let claims: Vec<Claim> = taken.iter().map(|t| t.claim).collect();
            match self.ledger.take(&claims, &owner(obj)).await {
                Ok(()) => {
                    *obj = attempt;
                    return Ok(());
                }
                Err(ClaimError::Taken(lost)) => {
                    // The lost one stays marked: another server holds it.
                    self.forget(claims.iter().filter(|c| **c != lost));
                    match taken.iter().find(|t| t.claim == lost).and_then(|t| t.wanted_in.as_deref()) {
                        Some(field) => {
                            return Err(match lost {
                                Claim::Ip(ip) => ip_taken(obj, ip),
                                Claim::Port(port) => port_taken(obj, field, port),
                            });
                        }
                        None => continue,
                    }
                }
                Err(ClaimError::Store(error)) => {
                    self.forget(&claims);
                    return Err(error.into());
                }
            }
        }
        Err(ApiError::Internal(
            "failed to allocate the Service: other API servers kept taking the same addresses".into(),
        ))
    }

    fn take_ip(&self, st: &mut Allocated, obj: &Value, wanted: Option<Ipv4Addr>) -> ApiResult<Taken> {
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
            // Whether it is free is the store's to say: the cache may hold another server's
            // claim it has since released.
            st.ips.insert(off);
            return Ok(Taken { claim: Claim::Ip(ip), wanted_in: Some("spec.clusterIPs".to_owned()) });
        }
        let usable = last - 1;
        let start = rand::rng().random_range(0..usable);
        for i in 0..usable {
            let off = 1 + (start + i) % usable;
            if st.ips.insert(off) {
                return Ok(Taken { claim: Claim::Ip(self.range.nth(off)), wanted_in: None });
            }
        }
        Err(ApiError::Internal("failed to allocate a serviceIP: range is full".to_owned()))
    }

    fn take_port(st: &mut Allocated, obj: &Value, field: &str, wanted: Option<u16>) -> ApiResult<Taken> {
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
            st.ports.insert(p);
            return Ok(Taken { claim: Claim::Port(p), wanted_in: Some(field.to_owned()) });
        }
        let span = u32::from(NODE_PORTS.end() - NODE_PORTS.start()) + 1;
        let start = rand::rng().random_range(0..span);
        for i in 0..span {
            let p = NODE_PORTS.start() + ((start + i) % span) as u16;
            if st.ports.insert(p) {
                return Ok(Taken { claim: Claim::Port(p), wanted_in: None });
            }
        }
        Err(ApiError::Internal("failed to allocate a nodePort: range is full".to_owned()))
    }

    /// Fill clusterIP(s) and node ports the Service needs in this server's cache, keeping
    /// what `old` held; returns what was newly taken. On an error nothing stays taken.
    fn allocate(&self, obj: &mut Value, old: Option<&Value>) -> ApiResult<Vec<Taken>> {
        let mut taken = Vec::new();
        let result = self.allocate_into(obj, old, &mut taken);
        if result.is_err() {
            self.forget(taken.iter().map(|t| &t.claim));
        }
        result.map(|()| taken)
    }

    fn allocate_into(&self, obj: &mut Value, old: Option<&Value>, taken: &mut Vec<Taken>) -> ApiResult<()> {
        let mut st = self.state.lock().expect("allocator lock");
        let ty = obj.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
        let old_ips = old.map(cluster_ips).unwrap_or_default();
        let requested = obj.pointer("/spec/clusterIP").and_then(Value::as_str).unwrap_or_default().to_owned();
        if ty != "ExternalName" && requested != "None" {
            let ip = match (old_ips.first(), requested.parse::<Ipv4Addr>().ok()) {
                (Some(kept), None) => *kept,
                (Some(kept), Some(r)) if r == *kept => *kept,
                (_, wanted) if requested.is_empty() || wanted.is_some() => {
                    let took = self.take_ip(&mut st, obj, wanted)?;
                    let Claim::Ip(ip) = took.claim else { unreachable!("take_ip takes IPs") };
                    taken.push(took);
                    ip
                }
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
                    w => Self::port(taken, Self::take_port(&mut st, obj, &format!("spec.ports[{i}].nodePort"), w)?),
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
                w => Self::port(taken, Self::take_port(&mut st, obj, "spec.healthCheckNodePort", w)?),
            };
            obj["spec"]["healthCheckNodePort"] = json!(port);
        }
        Ok(())
    }

    /// Note a node port taken and return it.
    fn port(taken: &mut Vec<Taken>, took: Taken) -> u16 {
        let Claim::Port(port) = took.claim else { unreachable!("take_port takes ports") };
        taken.push(took);
        port
    }

    /// Free what `obj` held and `kept` (its replacement) does not.
    async fn free(&self, obj: &Value, kept: Option<&Value>) {
        let keep_ips = kept.map(cluster_ips).unwrap_or_default();
        let keep_ports = kept.map(node_ports).unwrap_or_default();
        let ips = cluster_ips(obj).into_iter().filter(|ip| !keep_ips.contains(ip) && self.range.offset(*ip).is_some());
        let ports = node_ports(obj).into_iter().filter(|p| !keep_ports.contains(p));
        let mut freed: Vec<Claim> = ips.map(Claim::Ip).chain(ports.map(Claim::Port)).collect();
        freed.dedup();
        self.forget(&freed);
        self.ledger.give_back(&freed).await;
    }
}

#[async_trait]
impl RestHooks for ServiceAllocator {
    async fn before_create(&self, obj: &mut Value) -> ApiResult<()> {
        self.claim(obj, None).await
    }

    async fn before_update(&self, new: &mut Value, old: &Value) -> ApiResult<()> {
        self.claim(new, Some(old)).await
    }

    async fn release(&self, obj: &Value, kept: Option<&Value>) {
        self.free(obj, kept).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &tempfile::TempDir) -> Arc<dyn storage::Store> {
        Arc::new(storage::sqlite::SqliteStore::open(&dir.path().join("state.db")).unwrap())
    }

    #[tokio::test]
    async fn allocates_and_refuses_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let alloc = ServiceAllocator::new(Cidr::parse("10.0.0.0/16").unwrap(), store(&dir));
        let mut a = json!({"metadata": {"name": "a"}, "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 443}]}});
        alloc.claim(&mut a, None).await.unwrap();
        assert_eq!(a["spec"]["clusterIPs"], json!(["10.0.0.1"]));
        let mut b = json!({"metadata": {"name": "b"}, "spec": {"clusterIP": "10.0.0.1"}});
        let err = alloc.claim(&mut b, None).await.unwrap_err();
        assert!(err.to_string().contains("provided IP is already allocated"), "{err}");
        let mut np = json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443, "nodePort": 30443}]}});
        alloc.claim(&mut np, None).await.unwrap();
        let p0 = np["spec"]["ports"][0]["nodePort"].as_u64().unwrap() as u16;
        assert!(NODE_PORTS.contains(&p0));
        assert_eq!(np["spec"]["ports"][1]["nodePort"], 30443);
        let dup =
            json!({"metadata": {"name": "d"}, "spec": {"type": "NodePort", "ports": [{"port": 1, "nodePort": 30443}]}});
        assert!(alloc.claim(&mut dup.clone(), None).await.is_err());
        alloc.free(&np, None).await;
        alloc.claim(&mut dup.clone(), None).await.unwrap();
    }

    #[tokio::test]
    async fn servers_sharing_a_store_never_hand_out_the_same_address() {
        let dir = tempfile::tempdir().unwrap();
        let shared = store(&dir);
        let range = Cidr::parse("10.0.0.0/29").unwrap(); // six usable addresses
        let (one, two) = (ServiceAllocator::new(range, shared.clone()), ServiceAllocator::new(range, shared));
        let mut first = json!({"metadata": {"name": "first"}, "spec": {"clusterIP": "10.0.0.1"}});
        one.claim(&mut first, None).await.unwrap();
        // The second server has not seen it, but the store has.
        let mut same = json!({"metadata": {"name": "same"}, "spec": {"clusterIP": "10.0.0.1"}});
        let err = two.claim(&mut same, None).await.unwrap_err();
        assert!(err.to_string().contains("provided IP is already allocated"), "{err}");
        let mut ips = BTreeSet::from(["10.0.0.1".to_owned()]);
        for i in 0..5 {
            let server = if i % 2 == 0 { &one } else { &two };
            let mut svc = json!({"metadata": {"name": format!("s{i}")}, "spec": {}});
            server.claim(&mut svc, None).await.unwrap();
            assert!(ips.insert(svc["spec"]["clusterIP"].as_str().unwrap().to_owned()), "{ips:?} {svc}");
        }
        let mut full = json!({"metadata": {"name": "full"}, "spec": {}});
        assert!(two.claim(&mut full, None).await.is_err(), "the range is full");
        // Freed on one server, the address is free for the other.
        one.free(&first, None).await;
        let mut again = json!({"metadata": {"name": "again"}, "spec": {"clusterIP": "10.0.0.1"}});
        two.claim(&mut again, None).await.unwrap();
    }

    #[tokio::test]
    async fn services_stored_before_claims_get_theirs_at_restore() {
        let dir = tempfile::tempdir().unwrap();
        let shared = store(&dir);
        let range = Cidr::parse("10.0.0.0/16").unwrap();
        let old = json!({"metadata": {"name": "old"}, "spec": {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"]}});
        ServiceAllocator::new(range, shared.clone()).restore(std::slice::from_ref(&old)).await.unwrap();
        let fresh = ServiceAllocator::new(range, shared);
        let mut same = json!({"metadata": {"name": "same"}, "spec": {"clusterIP": "10.0.0.7"}});
        assert!(fresh.claim(&mut same, None).await.is_err());
    }
}
