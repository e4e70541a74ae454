//! The endpoints controller (upstream's `endpoint-controller`): every Service with a
//! selector has a core/v1 Endpoints of the same name listing the IPs of the pods it
//! selects, ready ones under `addresses` and the others under `notReadyAddresses`, with
//! each Service port's `targetPort` resolved per pod. Services without a selector (among
//! them `default/kubernetes`, whose Endpoints the API server keeps) are left alone.
//!
//! The pod helpers here ([`ServiceKey`], [`selected_pods`], [`target_port`], readiness)
//! are shared with [`crate::endpointslice`].

use crate::{Error, FIELD_MANAGER};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service, ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label on the Endpoints and EndpointSlices of a Service without a cluster IP.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// upstream's `--concurrent-endpoint-syncs` is 5.
const WORKERS: usize = 2;

/// The key of the controllers that follow Services and their pods: one Service, or "a pod
/// of this namespace changed" (its old labels are unknown, so every Service there is looked at).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    Service { namespace: String, name: String },
    PodsIn(String),
}

impl ServiceKey {
    pub fn of_service(service: &Service) -> ServiceKey {
        ServiceKey::Service { namespace: service.namespace().unwrap_or_default(), name: service.name_any() }
    }
}

/// Queue every Service of `namespace` (a [`ServiceKey::PodsIn`] visit).
pub(crate) fn queue_services_in(services: &Store<Service>, namespace: &str, queue: &WorkQueue<ServiceKey>) {
    for service in services.state().iter().filter(|s| s.namespace().as_deref() == Some(namespace)) {
        queue.add(ServiceKey::of_service(service));
    }
}

/// The Service's selector, when it has a non-empty one (upstream skips the others).
pub(crate) fn selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service.spec.as_ref()?.selector.as_ref().filter(|s| !s.is_empty())
}

/// The pods of the Service's namespace its selector takes, in name order.
pub(crate) fn selected_pods(service: &Service, pods: &Store<Pod>) -> Vec<Arc<Pod>> {
    let Some(selector) = selector(service) else { return Vec::new() };
    let namespace = service.namespace();
    let mut selected: Vec<Arc<Pod>> = pods
        .state()
        .into_iter()
        .filter(|p| p.namespace() == namespace && client_runtime::labels::set_selects(selector, p.labels()))
        .collect();
    selected.sort_by_key(|p| p.name_any());
    selected
}

/// upstream's `ShouldPodBeInEndpoints`: a pod with an IP that has not finished, and (unless
/// `include_terminating`) is not being deleted.
pub(crate) fn pod_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) || pod_ip(pod).is_none() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

pub(crate) fn pod_ip(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.pod_ip.as_deref().filter(|ip| !ip.is_empty())
}

/// Whether the pod's `Ready` condition is `True`.
pub(crate) fn pod_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The port a Service port reaches on `pod`: a numeric `targetPort`, the container port
/// named by a string one (with the port's protocol), or `port` when unset.
pub(crate) fn target_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(s)) => match s.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let protocol = port.protocol.as_deref().unwrap_or("TCP");
                let containers = pod.spec.iter().flat_map(|s| s.containers.iter());
                containers.flat_map(|c| c.ports.iter().flatten()).find_map(|p| {
                    (p.name.as_deref() == Some(s.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                        .then_some(p.container_port)
                })
            }
        },
    }
}

/// A pod as the target of an endpoint.
pub(crate) fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// The pod's hostname in the Service's DNS, when its `subdomain` names the Service.
pub(crate) fn pod_hostname(pod: &Pod, service: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.clone().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == service.metadata.name.as_deref()).then_some(hostname)
}

/// The labels of a Service's Endpoints and slices: the Service's own, and the headless
/// label for a Service without a cluster IP.
pub(crate) fn endpoint_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.labels().clone();
    labels.remove(HEADLESS_LABEL);
    if service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

pub struct EndpointsController {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    endpoints: Store<Endpoints>,
    queue: WorkQueue<ServiceKey>,
}

/// Watch Services, pods and Endpoints and keep each selecting Service's Endpoints. Runs
/// until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let (services, pods, endpoints) =
        (informers.all::<Service>(), informers.all::<Pod>(), informers.all::<Endpoints>());
    let queue = WorkQueue::new();
    let controller = Arc::new(EndpointsController {
        client: client.clone(),
        services: services.store(),
        pods: pods.store(),
        endpoints: endpoints.store(),
        queue: queue.clone(),
    });
    services.queue_changes(&queue, ServiceKey::of_service);
    pods.queue_changes(&queue, |pod| ServiceKey::PodsIn(pod.namespace().unwrap_or_default()));
    // Only a deleted Endpoints brings its Service back (upstream reacts to deletions only:
    // an Endpoints without a Service may be someone's own).
    let deleted = queue.clone();
    endpoints.on_delete(move |ep| {
        deleted.add(ServiceKey::Service { namespace: ep.namespace().unwrap_or_default(), name: ep.name_any() })
    });
    let synced = async { services.synced().await && pods.synced().await && endpoints.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl Reconciler for EndpointsController {
    type Key = ServiceKey;
    type Error = Error;
    const NAME: &'static str = "endpoint";

    async fn reconcile(&self, key: &ServiceKey) -> Result<Action, Error> {
        let (namespace, name) = match key {
            ServiceKey::PodsIn(namespace) => {
                queue_services_in(&self.services, namespace, &self.queue);
                return Ok(Action::Done);
            }
            ServiceKey::Service { namespace, name } => (namespace, name),
        };
        let api = Api::<Endpoints>::namespaced(self.client.clone(), namespace);
        let current = self.endpoints.get(&ObjectRef::new(name).within(namespace));
        let Some(service) = self.services.get(&ObjectRef::new(name).within(namespace)) else {
            // The Service is gone: so are its Endpoints.
            return match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(Action::Done),
                Err(kube::Error::Api(s)) if s.is_not_found() => Ok(Action::Done),
                Err(e) => Err(e.into()),
            };
        };
        if selector(&service).is_none() || service.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let subsets = subsets(&service, &selected_pods(&service, &self.pods));
        let labels = endpoint_labels(&service);
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        let result = match current {
            Some(current) if current.subsets.clone().unwrap_or_default() == subsets && current.labels() == &labels => {
                return Ok(Action::Done);
            }
            Some(current) => {
                let mut updated = (*current).clone();
                updated.subsets = Some(subsets);
                updated.metadata.labels = Some(labels);
                api.replace(name, &params, &updated).await.map(|_| ())
            }
            None => {
                let created = Endpoints {
                    metadata: ObjectMeta { name: Some(name.clone()), labels: Some(labels), ..Default::default() },
                    subsets: Some(subsets),
                };
                api.create(&params, &created).await.map(|_| ())
            }
        };
        match result {
            Ok(()) => Ok(Action::Done),
            Err(kube::Error::Api(s)) if s.is_not_found() || crate::serviceaccount::is_namespace_terminating(&s) => {
                Ok(Action::Done)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn error_policy(&self, _key: &ServiceKey, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

/// upstream's subsets: each selected pod's address, ready or not, under the ports its
/// `targetPort`s resolve to; pods resolving to the same ports share a subset. Addresses
/// are in IP order, as upstream's repacking leaves them.
fn subsets(service: &Service, pods: &[Arc<Pod>]) -> Vec<EndpointSubset> {
    let spec = service.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses == Some(true);
    let service_ports = spec.ports.unwrap_or_default();
    type Addresses = (Vec<EndpointAddress>, Vec<EndpointAddress>);
    // (name, port, protocol, appProtocol) of each port a pod serves.
    type Ports = Vec<(String, i32, String, Option<String>)>;
    let mut by_ports: BTreeMap<Ports, Addresses> = BTreeMap::new();
    for pod in pods.iter().filter(|p| pod_in_endpoints(p, publish_not_ready)) {
        let address = EndpointAddress {
            ip: pod_ip(pod).unwrap_or_default().to_owned(),
            hostname: pod_hostname(pod, service),
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            target_ref: Some(pod_reference(pod)),
        };
        let ports: Ports = service_ports
            .iter()
            .filter_map(|p| {
                let protocol = p.protocol.clone().unwrap_or_else(|| "TCP".into());
                target_port(p, pod).map(|n| (p.name.clone().unwrap_or_default(), n, protocol, p.app_protocol.clone()))
            })
            .collect();
        // A pod offering none of the Service's ports serves nothing (a port-less headless
        // Service still lists its pods).
        if ports.is_empty() && !service_ports.is_empty() {
            continue;
        }
        let (ready, not_ready) = by_ports.entry(ports).or_default();
        if publish_not_ready || pod_ready(pod) {
            ready.push(address);
        } else {
            not_ready.push(address);
        }
    }
    by_ports
        .into_iter()
        .map(|(ports, (mut ready, mut not_ready))| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            let ports: Vec<EndpointPort> = ports
                .into_iter()
                .map(|(name, port, protocol, app_protocol)| EndpointPort {
                    name: (!name.is_empty()).then_some(name),
                    port,
                    protocol: Some(protocol),
                    app_protocol,
                })
                .collect();
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodCondition, PodSpec, PodStatus, ServiceSpec};

    pub(crate) fn service(target: IntOrString) -> Service {
        Service {
            metadata: ObjectMeta { name: Some("web".into()), namespace: Some("ns".into()), ..Default::default() },
            spec: Some(ServiceSpec {
                selector: Some(BTreeMap::from([("app".into(), "web".into())])),
                ports: Some(vec![ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    target_port: Some(target),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                cluster_ip: Some("10.96.0.10".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub(crate) fn pod(name: &str, ip: &str, ready: bool, container_port: i32) -> Arc<Pod> {
        Arc::new(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                uid: Some(format!("uid-{name}")),
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-1".into()),
                containers: vec![Container {
                    name: "app".into(),
                    ports: Some(vec![ContainerPort {
                        name: Some("http".into()),
                        container_port,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some(ip.into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        })
    }

    #[test]
    fn ready_and_not_ready_pods_are_listed_apart_under_resolved_ports() {
        let svc = service(IntOrString::String("http".into()));
        let subsets = subsets(&svc, &[pod("b", "10.0.0.2", true, 8080), pod("a", "10.0.0.1", false, 8080)]);
        assert_eq!(subsets.len(), 1);
        let s = &subsets[0];
        let ready: Vec<_> = s.addresses.iter().flatten().map(|a| a.ip.as_str()).collect();
        let not_ready: Vec<_> = s.not_ready_addresses.iter().flatten().map(|a| a.ip.as_str()).collect();
        assert_eq!((ready, not_ready), (vec!["10.0.0.2"], vec!["10.0.0.1"]));
        let port = &s.ports.as_ref().unwrap()[0];
        assert_eq!((port.name.as_deref(), port.port), (Some("http"), 8080));
        let address = &s.addresses.as_ref().unwrap()[0];
        assert_eq!(address.node_name.as_deref(), Some("node-1"));
        assert_eq!(address.target_ref.as_ref().unwrap().name.as_deref(), Some("b"));
    }

    #[test]
    fn pods_resolving_named_ports_differently_get_their_own_subsets() {
        let svc = service(IntOrString::String("http".into()));
        let subsets = subsets(&svc, &[pod("a", "10.0.0.1", true, 8080), pod("b", "10.0.0.2", true, 9090)]);
        let ports: Vec<i32> = subsets.iter().map(|s| s.ports.as_ref().unwrap()[0].port).collect();
        assert_eq!(ports, [8080, 9090]);
    }

    #[test]
    fn finished_terminating_and_address_less_pods_are_left_out() {
        let svc = service(IntOrString::Int(80));
        let mut done = (*pod("done", "10.0.0.3", true, 80)).clone();
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let mut leaving = (*pod("leaving", "10.0.0.4", true, 80)).clone();
        leaving.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()));
        let subsets = subsets(
            &svc,
            &[Arc::new(done), Arc::new(leaving), pod("pending", "", true, 80), pod("a", "10.0.0.1", true, 80)],
        );
        let ips: Vec<_> = subsets.iter().flat_map(|s| s.addresses.iter().flatten()).map(|a| a.ip.as_str()).collect();
        assert_eq!(ips, ["10.0.0.1"]);
    }

    #[test]
    fn unset_target_ports_use_the_service_port_and_headless_services_are_labelled() {
        let mut svc = service(IntOrString::Int(0));
        svc.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].target_port = None;
        assert_eq!(
            target_port(&svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0], &pod("a", "", true, 1)),
            Some(80)
        );
        assert!(endpoint_labels(&svc).is_empty());
        svc.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        assert_eq!(endpoint_labels(&svc)[HEADLESS_LABEL], "");
    }
}
