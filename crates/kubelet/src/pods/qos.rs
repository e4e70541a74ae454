//! A pod's QoS class, as upstream computes it: Guaranteed when every container has equal
//! CPU and memory requests and limits, BestEffort when none has any, else Burstable.

use k8s_openapi::api::core::v1::Pod;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl QosClass {
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }
}

/// The QoS class of `pod`.
pub fn qos_class(pod: &Pod) -> QosClass {
    let spec = pod.spec.clone().unwrap_or_default();
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    let mut any = false;
    let mut guaranteed = true;
    for container in containers {
        let resources = container.resources.clone().unwrap_or_default();
        let requests = resources.requests.unwrap_or_default();
        let limits = resources.limits.unwrap_or_default();
        for resource in ["cpu", "memory"] {
            let request = requests.get(resource).or(limits.get(resource));
            let limit = limits.get(resource);
            any |= request.is_some() || limit.is_some();
            guaranteed &= limit.is_some() && request.map(|q| &q.0) == limit.map(|q| &q.0);
        }
    }
    match (any, guaranteed) {
        (false, _) => QosClass::BestEffort,
        (true, true) => QosClass::Guaranteed,
        (true, false) => QosClass::Burstable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(resources: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"spec": {"containers": [{"name": "c", "resources": resources}]}})).unwrap()
    }

    #[test]
    fn classes_follow_requests_and_limits() {
        assert_eq!(qos_class(&pod(json!({}))), QosClass::BestEffort);
        assert_eq!(qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))), QosClass::Guaranteed);
        assert_eq!(qos_class(&pod(json!({"requests": {"cpu": "1"}}))), QosClass::Burstable);
    }
}
