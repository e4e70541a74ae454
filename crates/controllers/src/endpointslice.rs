//! The EndpointSlice controller (upstream's `endpointslice-controller`): every Service with
//! a selector has IPv4 EndpointSlices named `<service>-<random>`, labelled with the
//! Service's name and this controller as manager and owned by the Service, holding at most
//! [`MAX_ENDPOINTS_PER_SLICE`] endpoints each with their ready/serving/terminating
//! conditions, node, zone and pod. Endpoints stay in the slice they are in while it fits
//! them, so a change rewrites as few slices as possible.

use crate::endpoints::{
    ServiceKey, endpoint_labels, pod_hostname, pod_in_endpoints, pod_ip, pod_ready, pod_reference, queue_services_in,
    selected_pods, selector, target_port,
};
use crate::ownership::{controller_of, controller_ref};
use crate::{Error, FIELD_MANAGER};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The label naming a slice's manager.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// upstream's `--max-endpoints-per-slice` default.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// upstream's `--concurrent-service-endpoint-syncs` is 5.
const WORKERS: usize = 2;

pub struct EndpointSliceController {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    nodes: Store<Node>,
    slices: Store<EndpointSlice>,
    queue: WorkQueue<ServiceKey>,
}

/// Watch Services, pods, nodes and this controller's slices and keep every selecting
/// Service's slices. Runs until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let ours = watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"));
    let (services, pods, nodes, slices) = (
        informers.all::<Service>(),
        informers.all::<Pod>(),
        informers.all::<Node>(),
        informers.selected::<EndpointSlice>(ours),
    );
    let queue = WorkQueue::new();
    let controller = Arc::new(EndpointSliceController {
        client: client.clone(),
        services: services.store(),
        pods: pods.store(),
        nodes: nodes.store(),
        slices: slices.store(),
        queue: queue.clone(),
    });
    services.queue_changes(&queue, ServiceKey::of_service);
    pods.queue_changes(&queue, |pod| ServiceKey::PodsIn(pod.namespace().unwrap_or_default()));
    // A node's zone reaches its endpoints when a pod of it next changes: nodes only fill the cache.
    slices.queue_changes(&queue, |slice| ServiceKey::Service {
        namespace: slice.namespace().unwrap_or_default(),
        name: slice.labels().get(SERVICE_NAME_LABEL).cloned().unwrap_or_default(),
    });
    let synced =
        async { services.synced().await && pods.synced().await && nodes.synced().await && slices.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl Reconciler for EndpointSliceController {
    type Key = ServiceKey;
    type Error = Error;
    const NAME: &'static str = "endpointslice";

    async fn reconcile(&self, key: &ServiceKey) -> Result<Action, Error> {
        let (namespace, name) = match key {
            ServiceKey::PodsIn(namespace) => {
                queue_services_in(&self.services, namespace, &self.queue);
                return Ok(Action::Done);
            }
            ServiceKey::Service { namespace, name } => (namespace, name),
        };
        let Some(service) = self.services.get(&ObjectRef::new(name).within(namespace)) else {
            // The garbage collector removes the slices of a deleted Service.
            return Ok(Action::Done);
        };
        if selector(&service).is_none() || service.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let uid = service.metadata.uid.clone().unwrap_or_default();
        let existing: Vec<EndpointSlice> = self
            .slices
            .state()
            .iter()
            .filter(|s| s.namespace().as_deref() == Some(namespace.as_str()))
            .filter(|s| s.labels().get(SERVICE_NAME_LABEL) == Some(name))
            .filter(|s| controller_of(&s.metadata).is_some_and(|r| r.uid == uid))
            .map(|s| (**s).clone())
            .collect();
        let desired = desired_endpoints(&service, &selected_pods(&service, &self.pods), &self.nodes);
        let plan = plan(&service, existing, desired);
        let api = Api::<EndpointSlice>::namespaced(self.client.clone(), namespace);
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        for slice in &plan.delete {
            match api.delete(&slice.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        for slice in &plan.update {
            api.replace(&slice.name_any(), &params, slice).await?;
        }
        for slice in &plan.create {
            match api.create(&params, slice).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if crate::serviceaccount::is_namespace_terminating(&s) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Action::Done)
    }

    fn error_policy(&self, _key: &ServiceKey, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

/// Each endpoint the Service should have, with the ports it serves (pods resolving named
/// ports differently belong in different slices).
fn desired_endpoints(service: &Service, pods: &[Arc<Pod>], nodes: &Store<Node>) -> Vec<(Vec<EndpointPort>, Endpoint)> {
    let spec = service.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses == Some(true);
    let service_ports = spec.ports.unwrap_or_default();
    let mut desired = Vec::new();
    for pod in pods.iter().filter(|p| pod_in_endpoints(p, true)) {
        let ports: Vec<EndpointPort> = service_ports
            .iter()
            .filter_map(|p| {
                target_port(p, pod).map(|port| EndpointPort {
                    name: Some(p.name.clone().unwrap_or_default()),
                    port: Some(port),
                    protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: p.app_protocol.clone(),
                })
            })
            .collect();
        if ports.is_empty() && !service_ports.is_empty() {
            continue;
        }
        let serving = pod_ready(pod);
        let terminating = pod.metadata.deletion_timestamp.is_some();
        let node_name = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        let zone = node_name
            .as_ref()
            .and_then(|n| nodes.get(&ObjectRef::new(n)))
            .and_then(|n| n.labels().get(ZONE_LABEL).cloned());
        let endpoint = Endpoint {
            addresses: vec![pod_ip(pod).unwrap_or_default().to_owned()],
            conditions: Some(EndpointConditions {
                // upstream: never ready while terminating, unless not-ready pods are published.
                ready: Some(publish_not_ready || (serving && !terminating)),
                serving: Some(serving),
                terminating: Some(terminating),
            }),
            hostname: pod_hostname(pod, service),
            node_name,
            zone,
            target_ref: Some(pod_reference(pod)),
            ..Default::default()
        };
        desired.push((ports, endpoint));
    }
    desired
}

/// What to write to bring a Service's slices to the desired endpoints.
#[derive(Debug, Default)]
struct Plan {
    create: Vec<EndpointSlice>,
    update: Vec<EndpointSlice>,
    delete: Vec<EndpointSlice>,
}

/// The endpoint's identity across changes: its pod, else its address.
fn identity(endpoint: &Endpoint) -> String {
    let by_pod = endpoint.target_ref.as_ref().and_then(|r| r.uid.clone());
    by_pod.unwrap_or_else(|| endpoint.addresses.join(","))
}

/// Per set of ports: existing slices keep the endpoints still wanted (refreshed), new
/// endpoints fill the free room and then new slices, emptied slices go. A Service with no
/// endpoints keeps one empty placeholder slice, as upstream's.
fn plan(service: &Service, existing: Vec<EndpointSlice>, desired: Vec<(Vec<EndpointPort>, Endpoint)>) -> Plan {
    let labels = slice_labels(service);
    let mut plan = Plan::default();
    if desired.is_empty() {
        let mut placeholder = None;
        for slice in existing {
            if placeholder.is_none() && slice.endpoints.is_empty() && slice.ports.is_none() {
                placeholder = Some(slice);
            } else {
                plan.delete.push(slice);
            }
        }
        match placeholder {
            Some(p) if p.metadata.labels.as_ref() == Some(&labels) => {}
            Some(mut p) => {
                p.metadata.labels = Some(labels);
                plan.update.push(p);
            }
            None => plan.create.push(new_slice(service, &labels, None, Vec::new())),
        }
        return plan;
    }
    let mut wanted: BTreeMap<String, (Vec<EndpointPort>, Vec<Endpoint>)> = BTreeMap::new();
    for (ports, endpoint) in desired {
        let key = serde_json::to_string(&ports).unwrap_or_default();
        wanted.entry(key).or_insert_with(|| (ports, Vec::new())).1.push(endpoint);
    }
    let mut by_ports: BTreeMap<String, Vec<EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        let key = slice.ports.as_ref().map(|p| serde_json::to_string(p).unwrap_or_default()).unwrap_or_default();
        by_ports.entry(key).or_default().push(slice);
    }
    for (key, (ports, endpoints)) in wanted {
        let mut remaining: BTreeMap<String, Endpoint> = endpoints.into_iter().map(|e| (identity(&e), e)).collect();
        let mut slices = by_ports.remove(&key).unwrap_or_default();
        slices.sort_by_key(|s| s.name_any());
        // Keep each endpoint where it is, refreshed.
        let mut kept: Vec<(EndpointSlice, Vec<Endpoint>)> = slices
            .into_iter()
            .map(|slice| {
                let endpoints = slice.endpoints.iter().filter_map(|e| remaining.remove(&identity(e))).collect();
                (slice, endpoints)
            })
            .collect();
        // Fill free room, then new slices.
        let mut new_endpoints = remaining.into_values();
        for (_, endpoints) in kept.iter_mut() {
            endpoints.extend(new_endpoints.by_ref().take(MAX_ENDPOINTS_PER_SLICE.saturating_sub(endpoints.len())));
        }
        let rest: Vec<Endpoint> = new_endpoints.collect();
        for (slice, endpoints) in kept {
            if endpoints.is_empty() {
                plan.delete.push(slice);
            } else if slice.endpoints != endpoints || slice.metadata.labels.as_ref() != Some(&labels) {
                let mut updated = slice;
                updated.endpoints = endpoints;
                updated.metadata.labels = Some(labels.clone());
                plan.update.push(updated);
            }
        }
        for chunk in rest.chunks(MAX_ENDPOINTS_PER_SLICE) {
            plan.create.push(new_slice(service, &labels, Some(ports.clone()), chunk.to_vec()));
        }
    }
    // Slices of port sets no longer served (and a former placeholder) go.
    plan.delete.extend(by_ports.into_values().flatten());
    plan
}

/// The labels of the Service's slices: the Service's own, its name and the manager.
fn slice_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = endpoint_labels(service);
    labels.insert(SERVICE_NAME_LABEL.into(), service.name_any());
    labels.insert(MANAGED_BY_LABEL.into(), MANAGED_BY.into());
    labels
}

/// A new slice of the Service, named by the API server from `<service>-`.
fn new_slice(
    service: &Service,
    labels: &BTreeMap<String, String>,
    ports: Option<Vec<EndpointPort>>,
    endpoints: Vec<Endpoint>,
) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", service.name_any())),
            namespace: service.namespace(),
            labels: Some(labels.clone()),
            owner_references: Some(vec![controller_ref(service)]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints,
        ports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::tests::{pod, service};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use std::collections::HashSet;

    fn nodes() -> Store<Node> {
        kube::runtime::reflector::store().0
    }

    fn desired(n: usize) -> Vec<(Vec<EndpointPort>, Endpoint)> {
        let pods: Vec<_> =
            (0..n).map(|i| pod(&format!("p{i}"), &format!("10.0.{}.{}", i / 250, i % 250), true, 8080)).collect();
        desired_endpoints(&service(IntOrString::String("http".into())), &pods, &nodes())
    }

    /// The slices after applying `plan` to `existing` (created ones named `new-N`).
    fn apply(existing: Vec<EndpointSlice>, plan: Plan) -> Vec<EndpointSlice> {
        let gone: HashSet<String> = plan.delete.iter().chain(&plan.update).map(|s| s.name_any()).collect();
        let mut slices: Vec<_> = existing.into_iter().filter(|s| !gone.contains(&s.name_any())).collect();
        slices.extend(plan.update);
        for (i, mut s) in plan.create.into_iter().enumerate() {
            s.metadata.name = Some(format!("new-{i}"));
            slices.push(s);
        }
        slices
    }

    #[test]
    fn a_service_gets_one_labelled_owned_slice_with_named_ports() {
        let svc = service(IntOrString::String("http".into()));
        let plan = plan(&svc, Vec::new(), desired(2));
        assert_eq!(plan.create.len(), 1);
        let slice = &plan.create[0];
        assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(slice.labels()[SERVICE_NAME_LABEL], "web");
        assert_eq!(slice.labels()[MANAGED_BY_LABEL], MANAGED_BY);
        assert_eq!(slice.metadata.owner_references.as_ref().unwrap()[0].kind, "Service");
        assert_eq!(slice.address_type, "IPv4");
        let port = &slice.ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some("http"), Some(8080)));
        let conditions = slice.endpoints[0].conditions.clone().unwrap();
        assert_eq!(
            (conditions.ready, conditions.serving, conditions.terminating),
            (Some(true), Some(true), Some(false))
        );
        assert_eq!(slice.endpoints[0].node_name.as_deref(), Some("node-1"));
    }

    #[test]
    fn slices_hold_at_most_a_hundred_endpoints_and_changes_touch_few() {
        let svc = service(IntOrString::String("http".into()));
        let slices = apply(Vec::new(), plan(&svc, Vec::new(), desired(250)));
        let sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        let again = plan(&svc, slices.clone(), desired(250));
        assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty(), "{again:?}");
        let grown = plan(&svc, slices.clone(), desired(251));
        assert_eq!((grown.create.len(), grown.update.len(), grown.delete.len()), (0, 1, 0));
        let emptied = plan(&svc, slices.clone(), Vec::new());
        let shrunk = apply(slices, emptied);
        assert_eq!(shrunk.len(), 1, "only a placeholder is left");
    }

    #[test]
    fn a_service_without_endpoints_keeps_one_placeholder() {
        let svc = service(IntOrString::String("http".into()));
        let slices = apply(Vec::new(), plan(&svc, Vec::new(), desired(3)));
        let emptied = plan(&svc, slices.clone(), Vec::new());
        let emptied = apply(slices, emptied);
        assert_eq!(emptied.len(), 1);
        assert!(emptied[0].endpoints.is_empty() && emptied[0].ports.is_none());
        let again = plan(&svc, emptied.clone(), Vec::new());
        assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty());
        let refilled = plan(&svc, emptied, desired(2));
        assert_eq!((refilled.create.len(), refilled.delete.len()), (1, 1), "the placeholder gives way");
    }
}
