//! The Lease an election is held on, read and written with compare-and-swap.

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::Client;
use kube::api::{Api, PostParams};

/// The Lease `kube-system/<name>`, contended for as `identity`.
pub struct LeaseLock {
    client: Client,
    api: Api<Lease>,
    name: String,
    identity: String,
}

impl LeaseLock {
    /// The lock on `kube-system/<name>` (upstream's names: `kube-controller-manager`,
    /// `kube-scheduler`), for the candidate `identity`.
    pub fn new(client: Client, name: &str, identity: &str) -> Self {
        LeaseLock {
            api: Api::namespaced(client.clone(), crate::NAMESPACE),
            client,
            name: name.to_owned(),
            identity: identity.to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The lease's spec and resourceVersion, or `None` if it does not exist yet.
    pub(crate) async fn get(&self) -> Result<Option<(LeaseSpec, String)>, kube::Error> {
        let lease = self.api.get_opt(&self.name).await?;
        Ok(lease.map(|l| (l.spec.unwrap_or_default(), l.metadata.resource_version.unwrap_or_default())))
    }

    pub(crate) async fn create(&self, spec: &LeaseSpec) -> Result<(), kube::Error> {
        let lease = Lease { metadata: self.metadata(None), spec: Some(spec.clone()) };
        self.api.create(&PostParams::default(), &lease).await.map(drop)
    }

    /// Replace the spec if the lease is still at `resource_version` (a conflict otherwise).
    pub(crate) async fn replace(&self, spec: &LeaseSpec, resource_version: &str) -> Result<(), kube::Error> {
        let lease = Lease { metadata: self.metadata(Some(resource_version)), spec: Some(spec.clone()) };
        self.api.replace(&self.name, &PostParams::default(), &lease).await.map(drop)
    }

    fn metadata(&self, resource_version: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(self.name.clone()),
            namespace: Some(crate::NAMESPACE.to_owned()),
            resource_version: resource_version.map(str::to_owned),
            ..ObjectMeta::default()
        }
    }

    /// Upstream's `LeaderElection` event on the Lease (`<identity> became leader`), so
    /// `kubectl get events -n kube-system` shows who leads. Best effort, as events are.
    pub(crate) async fn record_leader_event(&self) {
        let now = Time(Timestamp::now());
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.", self.name)),
                namespace: Some(crate::NAMESPACE.to_owned()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some("coordination.k8s.io/v1".to_owned()),
                kind: Some("Lease".to_owned()),
                name: Some(self.name.clone()),
                namespace: Some(crate::NAMESPACE.to_owned()),
                ..ObjectReference::default()
            },
            reason: Some("LeaderElection".to_owned()),
            message: Some(format!("{} became leader", self.identity)),
            source: Some(EventSource { component: Some(self.name.clone()), host: None }),
            type_: Some("Normal".to_owned()),
            count: Some(1),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            ..Event::default()
        };
        let events = Api::<Event>::namespaced(self.client.clone(), crate::NAMESPACE);
        if let Err(error) = events.create(&PostParams::default(), &event).await {
            tracing::debug!(%error, "recording the leader election event failed");
        }
    }
}
