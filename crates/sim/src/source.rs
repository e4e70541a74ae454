//! Where simulated nodes hear about their pods and their pod ranges. A node with its own
//! identity watches its own pods and reads its own Node ([`Source::Own`]): the Node
//! authorizer lets it see nothing else. Nodes sharing one client share one pod watch and
//! one node watch, fanned out by node name ([`FanOut`]), as kwok does: thousands of nodes
//! then cost two watches, not thousands of watches and polls.

use crate::node;
use crate::pods::{PodDriver, PodEvent};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// Pods bound to any node: the shared watch's field selector.
pub const BOUND_PODS: &str = "spec.nodeName!=";
/// The label every simulated Node carries (see [`crate::node::node_object`]).
pub const SIMULATED_NODES: &str = "type=krust-sim";

/// How one node learns about its pods and its pod range.
#[derive(Clone)]
pub enum Source {
    /// Its own pod watch (`spec.nodeName=<node>`) and reads of its own Node.
    Own,
    /// The watches shared by all nodes of this simulator.
    Shared(Arc<FanOut>),
}

impl Source {
    /// Feed `driver` the events of its node's pods, using `client` for a watch of its own;
    /// runs until cancelled.
    pub async fn feed(&self, client: &kube::Client, driver: Arc<PodDriver>) {
        match self {
            Source::Own => {
                let api: Api<Pod> = Api::all(client.clone());
                let config = watcher::Config::default().fields(&format!("spec.nodeName={}", driver.node()));
                let events = watcher(api, config).default_backoff();
                let mut events = std::pin::pin!(events);
                while let Some(event) = events.next().await {
                    match event {
                        Ok(event) => pod_event(event).into_iter().for_each(|event| driver.handle(event)),
                        Err(error) => tracing::warn!(node = %driver.node(), %error, "watching pods failed; retrying"),
                    }
                }
            }
            Source::Shared(fan_out) => {
                fan_out.attach(driver);
                std::future::pending::<()>().await;
            }
        }
    }

    /// The node's `spec.podCIDR`, waiting up to `wait` for node IPAM to assign one.
    pub async fn pod_cidr(&self, client: &kube::Client, node: &Node, wait: Duration) -> Option<String> {
        if let Some(cidr) = cidr_of(node) {
            return Some(cidr);
        }
        let name = node.metadata.name.as_deref().unwrap_or_default();
        match self {
            Source::Own => node::await_pod_cidr(client, name, wait).await,
            Source::Shared(fan_out) => fan_out.pod_cidr(name, wait).await,
        }
    }
}

/// A Node's pod range, if it has one.
pub fn cidr_of(node: &Node) -> Option<String> {
    node.spec.as_ref().and_then(|s| s.pod_cidr.clone()).filter(|c| !c.is_empty())
}

/// A watch event as a driver sees it (the list markers carry nothing for it).
fn pod_event(event: Event<Pod>) -> Option<PodEvent> {
    match event {
        Event::Apply(pod) | Event::InitApply(pod) => Some(PodEvent::Applied(pod)),
        Event::Delete(pod) => Some(PodEvent::Deleted(pod)),
        Event::Init | Event::InitDone => None,
    }
}

/// One pod watch and one node watch for all nodes of a simulator, dispatched by node name
/// to the nodes' drivers and pod-range waiters. Pods of nodes this simulator does not run
/// are ignored; pods bound before their node's driver is attached wait for it.
pub struct FanOut {
    client: kube::Client,
    nodes: Mutex<HashMap<String, Slot>>,
}

/// What the fan-out knows of one node.
#[derive(Default)]
struct Slot {
    driver: Option<Arc<PodDriver>>,
    /// The latest state of the node's pods (by uid) seen before its driver was attached.
    waiting_pods: HashMap<String, Pod>,
    cidr: Option<String>,
    cidr_waiters: Vec<oneshot::Sender<String>>,
}

impl FanOut {
    /// A fan-out for the nodes named `nodes`, watching through `client`; see [`FanOut::run`].
    pub fn new(client: kube::Client, nodes: impl IntoIterator<Item = String>) -> FanOut {
        let nodes = nodes.into_iter().map(|name| (name, Slot::default())).collect();
        FanOut { client, nodes: Mutex::new(nodes) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.nodes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Watch pods and nodes and dispatch them; runs until cancelled.
    pub async fn run(&self) {
        tokio::join!(self.watch_pods(), self.watch_nodes());
    }

    async fn watch_pods(&self) {
        let api: Api<Pod> = Api::all(self.client.clone());
        let events = watcher(api, watcher::Config::default().fields(BOUND_PODS)).default_backoff();
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => pod_event(event).into_iter().for_each(|event| self.dispatch(event)),
                Err(error) => tracing::warn!(%error, "watching the nodes' pods failed; retrying"),
            }
        }
    }

    async fn watch_nodes(&self) {
        let api: Api<Node> = Api::all(self.client.clone());
        let events = watcher(api, watcher::Config::default().labels(SIMULATED_NODES)).default_backoff();
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Apply(node) | Event::InitApply(node)) => self.learn_cidr(&node),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "watching the simulated nodes failed; retrying"),
            }
        }
    }

    /// Hand `event` to its node's driver, or keep it until the driver is attached.
    pub fn dispatch(&self, event: PodEvent) {
        let pod = match &event {
            PodEvent::Applied(pod) | PodEvent::Deleted(pod) => pod,
        };
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let (driver, event) = {
            let mut nodes = self.lock();
            let Some(slot) = nodes.get_mut(node) else { return };
            match (slot.driver.clone(), event) {
                (Some(driver), event) => (driver, event),
                (None, PodEvent::Applied(pod)) => {
                    slot.waiting_pods.insert(uid, pod);
                    return;
                }
                (None, PodEvent::Deleted(_)) => {
                    slot.waiting_pods.remove(&uid);
                    return;
                }
            }
        };
        driver.handle(event);
    }

    /// Route the pods of `driver`'s node to it from now on, starting with those already bound.
    pub fn attach(&self, driver: Arc<PodDriver>) {
        let waiting = {
            let mut nodes = self.lock();
            let Some(slot) = nodes.get_mut(driver.node()) else { return };
            slot.driver = Some(driver.clone());
            std::mem::take(&mut slot.waiting_pods)
        };
        for pod in waiting.into_values() {
            driver.handle(PodEvent::Applied(pod));
        }
    }

    fn learn_cidr(&self, node: &Node) {
        let Some(cidr) = cidr_of(node) else { return };
        let mut nodes = self.lock();
        let Some(slot) = nodes.get_mut(node.metadata.name.as_deref().unwrap_or_default()) else { return };
        for waiter in slot.cidr_waiters.drain(..) {
            let _ = waiter.send(cidr.clone());
        }
        slot.cidr = Some(cidr);
    }

    /// The pod range of node `name` as the node watch reports it, waiting up to `wait`.
    pub async fn pod_cidr(&self, name: &str, wait: Duration) -> Option<String> {
        let assigned = {
            let mut nodes = self.lock();
            let slot = nodes.get_mut(name)?;
            if let Some(cidr) = &slot.cidr {
                return Some(cidr.clone());
            }
            let (tx, rx) = oneshot::channel();
            slot.cidr_waiters.push(tx);
            rx
        };
        tokio::time::timeout(wait, assigned).await.ok()?.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addresses::PodIps;
    use serde_json::json;
    use tokio::sync::Semaphore;

    /// A client that is never reached (the tests only dispatch).
    fn offline_client() -> kube::Client {
        let config = kube::Config::new("https://127.0.0.1:9".parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    fn pod(uid: &str, node: &str, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": uid, "namespace": "default", "uid": uid},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "pause"}]},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    fn driver(client: &kube::Client, node: &str) -> Arc<PodDriver> {
        let driver = PodDriver::new(client.clone(), node.to_owned(), "10.99.0.1".into(), Arc::new(Semaphore::new(1)));
        driver.set_pod_range(PodIps::new("10.244.0.0/24").unwrap());
        Arc::new(driver)
    }

    #[tokio::test]
    async fn pods_wait_for_their_node_and_others_are_ignored() {
        let client = offline_client();
        let fan_out = FanOut::new(client.clone(), ["sim-node-1".to_owned()]);
        // Running pods need no API call, so nothing here reaches the (absent) server.
        fan_out.dispatch(PodEvent::Applied(pod("a", "sim-node-1", "Running")));
        fan_out.dispatch(PodEvent::Applied(pod("b", "sim-node-1", "Running")));
        fan_out.dispatch(PodEvent::Deleted(pod("b", "sim-node-1", "Running")));
        fan_out.dispatch(PodEvent::Applied(pod("c", "real-node", "Running")));
        {
            let nodes = fan_out.lock();
            let waiting: Vec<&String> = nodes["sim-node-1"].waiting_pods.keys().collect();
            assert_eq!(waiting, ["a"]);
            assert!(!nodes.contains_key("real-node"));
        }
        fan_out.attach(driver(&client, "sim-node-1"));
        let nodes = fan_out.lock();
        assert!(nodes["sim-node-1"].waiting_pods.is_empty());
        assert!(nodes["sim-node-1"].driver.is_some());
    }

    #[tokio::test]
    async fn pod_ranges_reach_their_waiters() {
        let fan_out = Arc::new(FanOut::new(offline_client(), ["sim-node-1".to_owned(), "sim-node-2".to_owned()]));
        let waiting = tokio::spawn({
            let fan_out = fan_out.clone();
            async move { fan_out.pod_cidr("sim-node-1", Duration::from_secs(5)).await }
        });
        while fan_out.lock()["sim-node-1"].cidr_waiters.is_empty() {
            tokio::task::yield_now().await;
        }
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "sim-node-1"},
            "spec": {"podCIDR": "10.244.7.0/24"}}))
        .unwrap();
        fan_out.learn_cidr(&node);
        assert_eq!(waiting.await.unwrap().as_deref(), Some("10.244.7.0/24"));
        // Known ranges answer at once; unknown nodes and unassigned ranges give none.
        assert_eq!(fan_out.pod_cidr("sim-node-1", Duration::ZERO).await.as_deref(), Some("10.244.7.0/24"));
        assert_eq!(fan_out.pod_cidr("sim-node-2", Duration::from_millis(10)).await, None);
        assert_eq!(fan_out.pod_cidr("real-node", Duration::from_secs(5)).await, None);
    }
}
