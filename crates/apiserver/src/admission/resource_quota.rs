//! ResourceQuota: a write that would take a namespace past a quota's `spec.hard` is
//! refused. Usage is counted live from the namespace (quotas are rare, so only when one
//! exists), and each quota's `status` (hard, used) is refreshed when a write it covers is
//! admitted and when the quota itself is written.

use super::amount::Amount;
use super::pod_resources::{ResourceList, all_containers, container_list, parse_list, pod_list};
use super::refusal::forbidden;
use crate::registry::admission::{Admission, Attributes, Operation};
use crate::registry::{ListOptions, Registry, Subresource, WriteOptions, object};
use crate::status::ApiResult;
use async_trait::async_trait;
use resources::ResourceDef;
use serde_json::{Map, Value, json};

/// Quotas on these make every container state its own value (an upstream legacy rule).
const MUST_SPECIFY: &[&str] = &["cpu", "limits.cpu", "limits.memory", "memory", "requests.cpu", "requests.memory"];

pub struct ResourceQuota;

#[async_trait]
impl Admission for ResourceQuota {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        let def = attrs.def;
        if attrs.subresource != Subresource::Main || attrs.operation == Operation::Delete || !def.namespaced {
            return Ok(());
        }
        let quota_def = quota_def();
        if def.group.is_empty() && def.plural == "resourcequotas" {
            // The quota itself starts (or restarts) with its current usage.
            let hard = parse_list(obj.pointer("/spec/hard"));
            let used = usage_in_namespace(registry, attrs.namespace, obj, hard.keys()).await?;
            obj["status"] = status(obj, &used);
        }
        let charges_updates = def.group.is_empty() && matches!(def.plural, "services" | "persistentvolumeclaims");
        if attrs.operation == Operation::Update && !charges_updates {
            return Ok(());
        }
        let quotas = registry.list(quota_def, attrs.namespace, &ListOptions::default()).await?.items;
        let mut delta = usage_of(def, obj);
        if let Some(old) = old {
            for (name, amount) in usage_of(def, old) {
                let current = delta.get(&name).copied().unwrap_or(Amount::ZERO);
                delta.insert(name, current.sub(amount));
            }
        }
        let mut covering = Vec::new();
        for quota in &quotas {
            let hard = parse_list(quota.pointer("/spec/hard"));
            let covered: Vec<&String> =
                hard.keys().filter(|k| resource_of(k) == Some((def.group, def.plural))).collect();
            if covered.is_empty() || !scopes_match(quota, def, obj) {
                continue;
            }
            if def.group.is_empty()
                && def.plural == "pods"
                && let Some(missing) = missing_compute(obj, &covered)
            {
                let reason = format!("failed quota: {}: must specify {missing}", object::name(quota));
                return Err(forbidden(attrs, obj, reason));
            }
            covering.push((quota, hard));
        }
        if covering.is_empty() || delta.values().all(|a| a.nanos == 0) {
            return Ok(());
        }
        let mut refreshed = Vec::new();
        for (quota, hard) in covering {
            let requested: ResourceList =
                delta.iter().filter(|(k, _)| hard.contains_key(*k)).map(|(k, v)| (k.clone(), *v)).collect();
            let used = usage_in_namespace(registry, attrs.namespace, quota, hard.keys()).await?;
            let exceeded: Vec<&String> = requested
                .iter()
                .filter(|(k, r)| used.get(*k).copied().unwrap_or(Amount::ZERO).add(**r).nanos > hard[*k].nanos)
                .map(|(k, _)| k)
                .collect();
            if !exceeded.is_empty() {
                let show = |list: &ResourceList| {
                    exceeded
                        .iter()
                        .map(|k| format!("{k}={}", list.get(*k).copied().unwrap_or(Amount::ZERO)))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let reason = format!(
                    "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                    object::name(quota),
                    show(&requested),
                    show(&used),
                    show(&hard)
                );
                return Err(forbidden(attrs, obj, reason));
            }
            let mut after = used;
            for (k, r) in &requested {
                let sum = after.get(k).copied().unwrap_or(Amount::ZERO).add(*r);
                after.insert(k.clone(), sum);
            }
            refreshed.push((object::name(quota).to_owned(), after));
        }
        if !attrs.dry_run {
            for (name, used) in refreshed {
                record_usage(registry, attrs.namespace, &name, &used).await?;
            }
        }
        Ok(())
    }
}

fn quota_def() -> &'static ResourceDef {
    resources::find("", "v1", "resourcequotas").expect("resourcequotas are served")
}

/// `status` of a quota: its hard limits and the usage of each.
fn status(quota: &Value, used: &ResourceList) -> Value {
    let hard = quota.pointer("/spec/hard").cloned().unwrap_or_else(|| json!({}));
    let used: Map<String, Value> = parse_list(Some(&hard))
        .keys()
        .map(|k| (k.clone(), Value::String(used.get(k).copied().unwrap_or(Amount::ZERO).to_string())))
        .collect();
    json!({"hard": hard, "used": used})
}

/// Write what a quota now has in use, as upstream's admission does before the write it counts.
async fn record_usage(registry: &Registry, namespace: &str, name: &str, used: &ResourceList) -> ApiResult<()> {
    let opts = WriteOptions {
        user: crate::auth::system_user(),
        field_manager: "resourcequota-controller".into(),
        ..Default::default()
    };
    registry
        .guaranteed_update(quota_def(), namespace, name, Subresource::Status, &opts, |current| {
            let mut next = current.clone();
            let mut merged = parse_list(current.pointer("/status/used"));
            merged.extend(used.iter().map(|(k, v)| (k.clone(), *v)));
            next["status"] = status(current, &merged);
            Ok(next)
        })
        .await
        .map(|_| ())
}

/// The served resource (group, plural) a quota resource name counts.
fn resource_of(name: &str) -> Option<(&'static str, &'static str)> {
    if let Some(counted) = name.strip_prefix("count/") {
        let (plural, group) = counted.split_once('.').unwrap_or((counted, ""));
        let def = resources::registry().iter().find(|d| d.plural == plural && d.group == group)?;
        return Some((def.group, def.plural));
    }
    let core = |plural| Some(("", plural));
    match name {
        "pods" | "cpu" | "memory" | "ephemeral-storage" => core("pods"),
        "services" | "services.nodeports" | "services.loadbalancers" => core("services"),
        "persistentvolumeclaims" | "requests.storage" => core("persistentvolumeclaims"),
        "configmaps" => core("configmaps"),
        "secrets" => core("secrets"),
        "replicationcontrollers" => core("replicationcontrollers"),
        "resourcequotas" => core("resourcequotas"),
        _ if name.contains(".storageclass.storage.k8s.io/") => core("persistentvolumeclaims"),
        _ if name.starts_with("requests.") || name.starts_with("limits.") || name.starts_with("hugepages-") => {
            core("pods")
        }
        _ => None,
    }
}

/// What one object charges: its object counts and, for pods and claims, what they request.
fn usage_of(def: &ResourceDef, obj: &Value) -> ResourceList {
    let one = Amount::count(1);
    let counted = if def.group.is_empty() {
        format!("count/{}", def.plural)
    } else {
        format!("count/{}.{}", def.plural, def.group)
    };
    let mut usage = ResourceList::from([(counted, one)]);
    if !def.group.is_empty() {
        return usage;
    }
    match def.plural {
        "pods" => {
            let phase = obj.pointer("/status/phase").and_then(Value::as_str);
            if !matches!(phase, Some("Succeeded" | "Failed")) {
                usage.insert("pods".into(), one);
                charge_compute(&mut usage, &pod_list(obj, "requests", true), &pod_list(obj, "limits", true));
            }
        }
        "services" => {
            usage.insert("services".into(), one);
            let ports = obj.pointer("/spec/ports").and_then(Value::as_array).cloned().unwrap_or_default();
            let node_ports = match obj.pointer("/spec/type").and_then(Value::as_str) {
                Some("NodePort") => Some(ports.len()),
                Some("LoadBalancer") => {
                    usage.insert("services.loadbalancers".into(), one);
                    if obj.pointer("/spec/allocateLoadBalancerNodePorts").and_then(Value::as_bool) == Some(false) {
                        Some(
                            ports
                                .iter()
                                .filter(|p| p.get("nodePort").and_then(Value::as_i64).is_some_and(|n| n != 0))
                                .count(),
                        )
                    } else {
                        Some(ports.len())
                    }
                }
                _ => None,
            };
            if let Some(n) = node_ports {
                usage.insert("services.nodeports".into(), Amount::count(n));
            }
        }
        "persistentvolumeclaims" => {
            usage.insert("persistentvolumeclaims".into(), one);
            let class = obj.pointer("/spec/storageClassName").and_then(Value::as_str).filter(|c| !c.is_empty());
            if let Some(class) = class {
                usage.insert(format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims"), one);
            }
            if let Some(storage) = parse_list(obj.pointer("/spec/resources/requests")).get("storage") {
                usage.insert("requests.storage".into(), *storage);
                if let Some(class) = class {
                    usage.insert(format!("{class}.storageclass.storage.k8s.io/requests.storage"), *storage);
                }
            }
        }
        plural @ ("configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas") => {
            usage.insert(plural.to_owned(), one);
        }
        _ => {}
    }
    usage
}

/// Compute charges of requests and limits: `cpu` and `memory` are the requests.
fn charge_compute(usage: &mut ResourceList, requests: &ResourceList, limits: &ResourceList) {
    for (name, amount) in requests {
        if matches!(name.as_str(), "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-") {
            usage.insert(name.clone(), *amount);
            usage.insert(format!("requests.{name}"), *amount);
        } else if name.contains('/') && !name.contains("kubernetes.io/") {
            // Extended resources are only ever quota'd by request.
            usage.insert(format!("requests.{name}"), *amount);
        }
    }
    for (name, amount) in limits {
        if matches!(name.as_str(), "cpu" | "memory" | "ephemeral-storage") {
            usage.insert(format!("limits.{name}"), *amount);
        }
    }
}

/// `limits.cpu for: c1; requests.memory for: c1,c2` when containers leave out a covered
/// compute resource.
fn missing_compute(pod: &Value, covered: &[&String]) -> Option<String> {
    let required: Vec<&str> = covered.iter().map(|k| k.as_str()).filter(|k| MUST_SPECIFY.contains(k)).collect();
    let mut missing: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> = Default::default();
    for (_, container) in all_containers(pod) {
        let mut set = ResourceList::new();
        charge_compute(&mut set, &container_list(container, "requests"), &container_list(container, "limits"));
        for name in &required {
            if !set.contains_key(*name) {
                let container_name = container.get("name").and_then(Value::as_str).unwrap_or_default();
                missing.entry(name).or_default().insert(container_name.to_owned());
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(name, containers)| format!("{name} for: {}", containers.iter().cloned().collect::<Vec<_>>().join(",")))
        .collect();
    Some(parts.join("; "))
}

/// Whether the quota's scopes (`spec.scopes`, `spec.scopeSelector`) select this object;
/// scopes only ever select pods.
fn scopes_match(quota: &Value, def: &ResourceDef, obj: &Value) -> bool {
    let mut selectors: Vec<(String, String, Vec<String>)> = Vec::new();
    for scope in quota.pointer("/spec/scopes").and_then(Value::as_array).into_iter().flatten() {
        selectors.push((scope.as_str().unwrap_or_default().to_owned(), "Exists".into(), Vec::new()));
    }
    for e in quota.pointer("/spec/scopeSelector/matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let text = |f: &str| e.get(f).and_then(Value::as_str).unwrap_or_default().to_owned();
        let values = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned);
        selectors.push((text("scopeName"), text("operator"), values.collect()));
    }
    if selectors.is_empty() {
        return true;
    }
    if !(def.group.is_empty() && def.plural == "pods") {
        return false;
    }
    selectors.iter().all(|(scope, operator, values)| pod_in_scope(obj, scope, operator, values))
}

fn pod_in_scope(pod: &Value, scope: &str, operator: &str, values: &[String]) -> bool {
    let terminating = pod.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64).is_some_and(|s| s >= 0);
    let best_effort = all_containers(pod).iter().all(|(_, c)| {
        ["requests", "limits"]
            .iter()
            .all(|w| container_list(c, w).keys().all(|k| !matches!(k.as_str(), "cpu" | "memory")))
    });
    match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort,
        "NotBestEffort" => !best_effort,
        "PriorityClass" => {
            let class = pod.pointer("/spec/priorityClassName").and_then(Value::as_str).filter(|c| !c.is_empty());
            match operator {
                "Exists" => class.is_some(),
                "DoesNotExist" => class.is_none(),
                "In" => class.is_some_and(|c| values.iter().any(|v| v == c)),
                "NotIn" => !class.is_some_and(|c| values.iter().any(|v| v == c)),
                _ => false,
            }
        }
        "CrossNamespacePodAffinity" => ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
            let affinity = pod.pointer(&format!("/spec/affinity/{kind}"));
            let terms =
                ["requiredDuringSchedulingIgnoredDuringExecution", "preferredDuringSchedulingIgnoredDuringExecution"]
                    .iter()
                    .flat_map(|f| affinity.and_then(|a| a.get(*f)).and_then(Value::as_array).into_iter().flatten())
                    .map(|t| t.get("podAffinityTerm").unwrap_or(t))
                    .collect::<Vec<_>>();
            terms.iter().any(|t| {
                t.get("namespaces").and_then(Value::as_array).is_some_and(|n| !n.is_empty())
                    || t.get("namespaceSelector").is_some()
            })
        }),
        _ => false,
    }
}

/// What the namespace uses of each named resource, counting only objects in the quota's scopes.
async fn usage_in_namespace<'a>(
    registry: &Registry,
    namespace: &str,
    quota: &Value,
    names: impl Iterator<Item = &'a String>,
) -> ApiResult<ResourceList> {
    let mut by_resource: Vec<((&str, &str), Vec<&String>)> = Vec::new();
    for name in names {
        let Some(resource) = resource_of(name) else { continue };
        match by_resource.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, list)) => list.push(name),
            None => by_resource.push((resource, vec![name])),
        }
    }
    let mut used = ResourceList::new();
    for ((group, plural), names) in by_resource {
        let Some(def) = resources::registry().iter().find(|d| d.group == group && d.plural == plural && d.namespaced)
        else {
            continue;
        };
        let items = registry.list(def, namespace, &ListOptions::default()).await?.items;
        for item in items.iter().filter(|i| scopes_match(quota, def, i)) {
            let usage = usage_of(def, item);
            for name in &names {
                if let Some(amount) = usage.get(*name) {
                    let sum = used.get(*name).copied().unwrap_or(Amount::ZERO).add(*amount);
                    used.insert((*name).clone(), sum);
                }
            }
        }
    }
    Ok(used)
}
