//! LimitRanger: a namespace's LimitRanges give new pods' containers their default
//! requests and limits, and bound containers, whole pods and claims by min, max and
//! limit-to-request ratio. Pod updates are not checked: containers' resources cannot change.

use super::amount::Amount;
use super::canonical::canonicalize;
use super::pod_resources::{ResourceList, all_containers, container_list, parse_list, pod_list};
use super::refusal::{aggregate, forbidden};
use crate::registry::admission::{Admission, Attributes, Operation};
use crate::registry::{ListOptions, Registry, Subresource, object};
use crate::status::ApiResult;
use async_trait::async_trait;
use serde_json::{Map, Value};

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

pub struct LimitRanger;

#[async_trait]
impl Admission for LimitRanger {
    async fn admit(
        &self,
        registry: &Registry,
        attrs: &Attributes<'_>,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> ApiResult<()> {
        let def = attrs.def;
        let is_pod = def.group.is_empty() && def.plural == "pods" && attrs.operation == Operation::Create;
        let is_claim = def.group.is_empty()
            && def.plural == "persistentvolumeclaims"
            && matches!(attrs.operation, Operation::Create | Operation::Update);
        if attrs.subresource != Subresource::Main || !(is_pod || is_claim) || old.is_some_and(object::is_deleting) {
            return Ok(());
        }
        let ranges_def = resources::find("", "v1", "limitranges").expect("limitranges are served");
        let ranges = registry.list(ranges_def, attrs.namespace, &ListOptions::default()).await?.items;
        if ranges.is_empty() {
            return Ok(());
        }
        if is_pod {
            for range in &ranges {
                apply_defaults(obj, range);
            }
            canonicalize(def, obj);
        }
        for range in &ranges {
            let errors = if is_pod { pod_violations(obj, range) } else { claim_violations(obj, range) };
            if !errors.is_empty() {
                return Err(forbidden(attrs, obj, aggregate(&errors)));
            }
        }
        Ok(())
    }
}

/// The range's items of one type.
fn items<'a>(range: &'a Value, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    range
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |item| item.get("type").and_then(Value::as_str) == Some(kind))
}

/// Fill missing container requests and limits from the range's `Container` defaults and
/// say what was set in the `kubernetes.io/limit-ranger` annotation.
fn apply_defaults(pod: &mut Value, range: &Value) {
    let (mut requests, mut limits) = (Map::new(), Map::new());
    for item in items(range, "Container") {
        requests.extend(item.get("defaultRequest").and_then(Value::as_object).cloned().unwrap_or_default());
        limits.extend(item.get("default").and_then(Value::as_object).cloned().unwrap_or_default());
    }
    if requests.is_empty() && limits.is_empty() {
        return;
    }
    let mut notes = Vec::new();
    for (field, label) in [("containers", "container"), ("initContainers", "init container")] {
        for container in pod.pointer_mut(&format!("/spec/{field}")).and_then(Value::as_array_mut).into_iter().flatten()
        {
            let name = container.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let set_requests = fill(container, "requests", &requests);
            let set_limits = fill(container, "limits", &limits);
            if !set_requests.is_empty() {
                notes.push(format!("{} request for {label} {name}", set_requests.join(", ")));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {label} {name}", set_limits.join(", ")));
            }
        }
    }
    if !notes.is_empty() {
        let meta = object::metadata_mut(pod);
        let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        annotations[ANNOTATION] = Value::String(format!("LimitRanger plugin set: {}", notes.join("; ")));
    }
}

/// Add the defaults a container lacks under `resources.<which>`; returns their names, sorted.
fn fill(container: &mut Value, which: &str, defaults: &Map<String, Value>) -> Vec<String> {
    if defaults.is_empty() {
        return Vec::new();
    }
    let resources = container
        .as_object_mut()
        .expect("containers are objects")
        .entry("resources")
        .or_insert_with(|| Value::Object(Map::new()));
    let list = resources.as_object_mut().map(|r| r.entry(which).or_insert_with(|| Value::Object(Map::new())));
    let Some(Value::Object(list)) = list else { return Vec::new() };
    let mut set: Vec<String> = defaults.keys().filter(|k| !list.contains_key(*k)).cloned().collect();
    set.sort();
    for key in &set {
        list.insert(key.clone(), defaults[key].clone());
    }
    set
}

/// A range item's `min`, `max` or `maxLimitRequestRatio`.
fn bounds<'a>(item: &'a Value, field: &str) -> Vec<(&'a str, Amount, String)> {
    let mut out = Vec::new();
    for (name, v) in item.get(field).and_then(Value::as_object).into_iter().flatten() {
        if let Some(amount) = v.as_str().and_then(Amount::parse) {
            out.push((name.as_str(), amount, amount.to_string()));
        }
    }
    out
}

fn pod_violations(pod: &Value, range: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for item in items(range, "Container") {
        for (_, container) in all_containers(pod) {
            let (requests, limits) = (container_list(container, "requests"), container_list(container, "limits"));
            check_item(item, "Container", &requests, &limits, &mut errors);
        }
    }
    for item in items(range, "Pod") {
        let (requests, limits) = (pod_list(pod, "requests", false), pod_list(pod, "limits", false));
        check_item(item, "Pod", &requests, &limits, &mut errors);
    }
    errors
}

fn check_item(item: &Value, kind: &str, requests: &ResourceList, limits: &ResourceList, errors: &mut Vec<String>) {
    for (name, min, shown) in bounds(item, "min") {
        errors.extend(min_violation(kind, name, min, &shown, requests, limits));
    }
    for (name, max, shown) in bounds(item, "max") {
        errors.extend(max_violation(kind, name, max, &shown, requests, Some(limits)));
    }
    for (name, ratio, shown) in bounds(item, "maxLimitRequestRatio") {
        errors.extend(ratio_violation(kind, name, ratio, &shown, requests, limits));
    }
}

/// Claims are bounded on what they request; their limits are not user input.
fn claim_violations(claim: &Value, range: &Value) -> Vec<String> {
    let requests = parse_list(claim.pointer("/spec/resources/requests"));
    let mut errors = Vec::new();
    for item in items(range, "PersistentVolumeClaim") {
        for (name, min, shown) in bounds(item, "min") {
            errors.extend(min_violation("PersistentVolumeClaim", name, min, &shown, &requests, &ResourceList::new()));
        }
        for (name, max, shown) in bounds(item, "max") {
            errors.extend(max_violation("PersistentVolumeClaim", name, max, &shown, &requests, None));
        }
    }
    errors
}

fn min_violation(
    kind: &str,
    name: &str,
    min: Amount,
    shown: &str,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let Some(request) = requests.get(name) else {
        return Some(format!("minimum {name} usage per {kind} is {shown}.  No request is specified"));
    };
    if request.milli() < min.milli() {
        return Some(format!("minimum {name} usage per {kind} is {shown}, but request is {request}"));
    }
    match limits.get(name) {
        Some(limit) if limit.milli() < min.milli() => {
            Some(format!("minimum {name} usage per {kind} is {shown}, but limit is {limit}"))
        }
        _ => None,
    }
}

/// `limits` is None where only requests are bounded (claims).
fn max_violation(
    kind: &str,
    name: &str,
    max: Amount,
    shown: &str,
    requests: &ResourceList,
    limits: Option<&ResourceList>,
) -> Option<String> {
    let request = requests.get(name);
    if let Some(limits) = limits {
        let Some(limit) = limits.get(name) else {
            return Some(format!("maximum {name} usage per {kind} is {shown}.  No limit is specified"));
        };
        if limit.milli() > max.milli() {
            return Some(format!("maximum {name} usage per {kind} is {shown}, but limit is {limit}"));
        }
    } else if request.is_none() {
        return Some(format!("maximum {name} usage per {kind} is {shown}.  No request is specified"));
    }
    match request {
        Some(request) if request.milli() > max.milli() => {
            Some(format!("maximum {name} usage per {kind} is {shown}, but request is {request}"))
        }
        _ => None,
    }
}

fn ratio_violation(
    kind: &str,
    name: &str,
    ratio: Amount,
    shown: &str,
    requests: &ResourceList,
    limits: &ResourceList,
) -> Option<String> {
    let request = requests.get(name).map_or(0, |r| r.milli());
    let limit = limits.get(name).map_or(0, |l| l.milli());
    if request == 0 {
        return Some(format!(
            "{name} max limit to request ratio per {kind} is {shown}, but no request is specified or request is 0"
        ));
    }
    if limit == 0 {
        return Some(format!(
            "{name} max limit to request ratio per {kind} is {shown}, but no limit is specified or limit is 0"
        ));
    }
    let observed = limit as f64 / request as f64;
    (observed * 1000.0 > ratio.milli() as f64).then(|| {
        format!("{name} max limit to request ratio per {kind} is {shown}, but provided ratio is {observed:.6}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::WriteOptions;
    use serde_json::json;
    use std::sync::Arc;

    async fn registry(dir: &std::path::Path, limits: Value) -> Registry {
        let store = Arc::new(storage::sqlite::SqliteStore::open(&dir.join("state.db")).unwrap());
        let r = Registry::new(store).with_admission(Arc::new(LimitRanger));
        let opts = WriteOptions::default();
        let ns = resources::find("", "v1", "namespaces").unwrap();
        r.create(ns, "", json!({"metadata": {"name": "ns"}}), &opts).await.unwrap();
        let lr = resources::find("", "v1", "limitranges").unwrap();
        r.create(lr, "ns", json!({"metadata": {"name": "lr"}, "spec": {"limits": limits}}), &opts).await.unwrap();
        r
    }

    async fn create(r: &Registry, plural: &str, obj: Value) -> ApiResult<Value> {
        let def = resources::find("", "v1", plural).unwrap();
        r.create(def, "ns", obj, &WriteOptions::default()).await.map(|w| w.object)
    }

    fn pod(resources: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x", "resources": resources}]}})
    }

    #[tokio::test]
    async fn container_defaults_fill_what_is_missing_and_are_annotated() {
        let dir = tempfile::tempdir().unwrap();
        let limits = json!([{"type": "Container", "default": {"cpu": "500m", "memory": "256Mi"},
                             "defaultRequest": {"cpu": "250m", "memory": "128Mi"}}]);
        let r = registry(dir.path(), limits).await;
        let created = create(&r, "pods", pod(json!({"requests": {"cpu": "100m"}}))).await.unwrap();
        let resources = &created["spec"]["containers"][0]["resources"];
        assert_eq!(resources["requests"], json!({"cpu": "100m", "memory": "128Mi"}));
        assert_eq!(resources["limits"], json!({"cpu": "500m", "memory": "256Mi"}));
        assert_eq!(
            created["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: memory request for container c; cpu, memory limit for container c"
        );
    }

    #[tokio::test]
    async fn bounds_are_enforced_with_upstream_messages() {
        let dir = tempfile::tempdir().unwrap();
        let limits = json!([
            {"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "1"}, "maxLimitRequestRatio": {"cpu": "2"}},
            {"type": "Pod", "max": {"memory": "1Gi"}},
            {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}
        ]);
        let r = registry(dir.path(), limits).await;
        let err =
            create(&r, "pods", pod(json!({"requests": {"cpu": "50m"}, "limits": {"cpu": "0.5", "memory": "2Gi"}})))
                .await
                .unwrap_err();
        assert_eq!(err.code(), 403);
        assert_eq!(
            err.to_string(),
            "pods \"p\" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, \
             cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000, \
             maximum memory usage per Pod is 1Gi, but limit is 2Gi]"
        );
        let ok = pod(json!({"requests": {"cpu": "300m"}, "limits": {"cpu": "500m", "memory": "1Gi"}}));
        create(&r, "pods", ok).await.unwrap();
        let claim = |size: &str| {
            json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"],
                   "resources": {"requests": {"storage": size}}}})
        };
        let err = create(&r, "persistentvolumeclaims", claim("20Gi")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "persistentvolumeclaims \"c\" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"
        );
        create(&r, "persistentvolumeclaims", claim("5Gi")).await.unwrap();
    }
}
