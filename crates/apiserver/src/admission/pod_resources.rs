//! A pod's effective requests and limits (upstream's `PodRequests`/`PodLimits`): the sum
//! over containers and restartable (sidecar) init containers, at least the largest
//! ordinary init container, plus the pod overhead when asked.

use super::amount::Amount;
use serde_json::Value;
use std::collections::BTreeMap;

/// Resource name → amount, sorted as Go prints maps.
pub type ResourceList = BTreeMap<String, Amount>;

/// A container's `resources.requests` or `resources.limits` (`which`), unparsable values skipped.
pub fn container_list(container: &Value, which: &str) -> ResourceList {
    parse_list(container.pointer(&format!("/resources/{which}")))
}

/// A `ResourceList` object, unparsable values skipped.
pub fn parse_list(map: Option<&Value>) -> ResourceList {
    let mut list = ResourceList::new();
    for (name, v) in map.and_then(Value::as_object).into_iter().flatten() {
        if let Some(amount) = v.as_str().and_then(Amount::parse) {
            list.insert(name.clone(), amount);
        }
    }
    list
}

/// The pod's containers then init containers, each with how upstream's messages name it.
pub fn all_containers(pod: &Value) -> Vec<(&'static str, &Value)> {
    let mut out = Vec::new();
    for (field, label) in [("containers", "container"), ("initContainers", "init container")] {
        for c in pod.pointer(&format!("/spec/{field}")).and_then(Value::as_array).into_iter().flatten() {
            out.push((label, c));
        }
    }
    out
}

/// Every container of a pod spec: containers, init and ephemeral containers.
pub fn all_containers_of_spec(spec: &Value) -> impl Iterator<Item = &Value> + Clone {
    ["containers", "initContainers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |f| spec.get(f).and_then(Value::as_array).into_iter().flatten())
}

pub fn add_into(list: &mut ResourceList, other: &ResourceList) {
    for (name, amount) in other {
        let sum = list.get(name).copied().unwrap_or(Amount::ZERO).add(*amount);
        list.insert(name.clone(), sum);
    }
}

fn max_into(list: &mut ResourceList, other: &ResourceList) {
    for (name, amount) in other {
        if list.get(name).is_none_or(|current| amount.nanos > current.nanos) {
            list.insert(name.clone(), *amount);
        }
    }
}

/// The pod's effective `requests` or `limits` (`which`).
pub fn pod_list(pod: &Value, which: &str, with_overhead: bool) -> ResourceList {
    let mut total = ResourceList::new();
    for c in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
        add_into(&mut total, &container_list(c, which));
    }
    let mut sidecars = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for c in pod.pointer("/spec/initContainers").and_then(Value::as_array).into_iter().flatten() {
        let own = container_list(c, which);
        let effective = if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            add_into(&mut total, &own);
            add_into(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut with_sidecars = own;
            add_into(&mut with_sidecars, &sidecars);
            with_sidecars
        };
        max_into(&mut init_peak, &effective);
    }
    max_into(&mut total, &init_peak);
    if with_overhead {
        let overhead = parse_list(pod.pointer("/spec/overhead"));
        for (name, amount) in overhead {
            // Limits only grow by the overhead of resources that are limited at all.
            if which == "requests" || total.contains_key(&name) {
                add_into(&mut total, &ResourceList::from([(name, amount)]));
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn init_containers_count_at_their_peak_and_sidecars_always() {
        let pod = json!({"spec": {
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m"}}},
                           {"name": "b", "resources": {"requests": {"cpu": "200m", "memory": "1Gi"}}}],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}},
                               {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"memory": "1Gi"}}}]
        }});
        let requests = pod_list(&pod, "requests", false);
        assert_eq!(requests["cpu"].to_string(), "1");
        assert_eq!(requests["memory"].to_string(), "2Gi");
        assert!(pod_list(&pod, "limits", false).is_empty());
    }
}
