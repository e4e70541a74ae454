//! The ReplicaSet and ReplicationController controllers (upstream's `ReplicaSetController`,
//! which also runs as the replication manager): each owner keeps `spec.replicas` active pods
//! from its template, named `<owner>-<random>` through `generateName`, deleting surplus
//! pods in upstream's [`ranking`], adopting matching orphans and releasing pods that no
//! longer match, and reports its [`status`] counters. [`expectations`] keep it from
//! counting its pod cache before the cache shows its own creations and deletions.

pub mod expectations;
pub mod kinds;
pub mod ranking;
pub mod status;

use crate::ownership::{Claim, Key, adopt, claim, controller_ref, dependent_key, queue_owners_of_orphans, release};
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{NORMAL, Recorder, WARNING};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use expectations::Expectations;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kinds::ReplicaKind;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::sync::Arc;

/// upstream's `BurstReplicas`: at most this many pods created or deleted per sync.
const BURST_REPLICAS: usize = 500;
/// upstream's `--concurrent-replicaset-syncs` is 5.
const WORKERS: usize = 2;

pub struct ReplicaController<K: ReplicaKind> {
    client: Client,
    owners: Store<K>,
    pods: Store<Pod>,
    queue: WorkQueue<Key>,
    expectations: Expectations,
    events: Recorder,
}

/// Run the controller of `K` (ReplicaSet or ReplicationController). Runs until cancelled.
pub async fn run<K: ReplicaKind>(client: Client, informers: Informers) -> Result<(), Error> {
    let (owners, pods) = (informers.all::<K>(), informers.all::<Pod>());
    let queue = WorkQueue::new();
    let controller = Arc::new(ReplicaController::<K> {
        client: client.clone(),
        owners: owners.store(),
        pods: pods.store(),
        queue: queue.clone(),
        expectations: Expectations::default(),
        events: Recorder::new(client.clone(), FIELD_MANAGER, K::COMPONENT),
    });
    let owner_kind = K::kind(&()).into_owned();
    owners.queue_changes(&queue, Key::of_owner);
    pods.queue_changes(&queue, move |pod| dependent_key(&pod.metadata, &owner_kind));
    let synced = async { owners.synced().await && pods.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl<K: ReplicaKind> Reconciler for ReplicaController<K> {
    type Key = Key;
    type Error = Error;
    const NAME: &'static str = K::NAME;

    async fn reconcile(&self, key: &Key) -> Result<Action, Error> {
        let (namespace, name) = match key {
            Key::Owner { namespace, name } => (namespace, name),
            Key::OrphansIn(namespace) => {
                self.queue_owners_of_orphans(namespace);
                return Ok(Action::Done);
            }
        };
        let expectation_key = format!("{namespace}/{name}");
        let Some(owner) = self.owners.get(&ObjectRef::new(name).within(namespace)) else {
            self.expectations.forget(&expectation_key);
            return Ok(Action::Done);
        };
        let in_namespace: Vec<Arc<Pod>> =
            self.pods.state().into_iter().filter(|p| p.metadata.namespace.as_ref() == Some(namespace)).collect();
        let owned = self.claim_pods(&owner, &in_namespace).await?;
        let satisfied = self.expectations.satisfied(&expectation_key, &in_namespace);
        let mut failure = None;
        if satisfied && owner.meta().deletion_timestamp.is_none() {
            failure = self.manage_replicas(&owner, &owned, &expectation_key).await.err();
        }
        let now = jiff::Timestamp::now();
        let template_labels = owner.template().and_then(|t| t.metadata.as_ref()?.labels.clone()).unwrap_or_default();
        let generation = owner.meta().generation.unwrap_or(0);
        let counts = status::counts(&owned, &template_labels, owner.min_ready_seconds(), generation, now);
        if counts != owner.counts() {
            let mut updated = (*owner).clone();
            updated.set_counts(counts);
            let api = Api::<K>::namespaced(self.client.clone(), namespace);
            let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
            match api.replace_status(name, &params, &updated).await {
                Ok(_) => {}
                // A newer version is on its way through the watch, and brings the key back.
                Err(kube::Error::Api(s)) if s.is_conflict() || s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(status::recheck_after(&counts, owner.min_ready_seconds()).map_or(Action::Done, Action::RequeueAfter))
    }

    fn error_policy(&self, _key: &Key, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl<K: ReplicaKind> ReplicaController<K> {
    fn queue_owners_of_orphans(&self, namespace: &str) {
        let owners: Vec<Arc<K>> =
            self.owners.state().into_iter().filter(|o| o.namespace().as_deref() == Some(namespace)).collect();
        let orphans: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(namespace) && ranking::is_active(p))
            .filter(|p| crate::ownership::controller_of(&p.metadata).is_none())
            .collect();
        queue_owners_of_orphans(&owners, &orphans, |o, p| o.selects(&p.labels().clone()), &self.queue);
    }

    /// The active pods `owner` controls after adopting matching orphans and releasing the
    /// ones that stopped matching.
    async fn claim_pods<'a>(&self, owner: &K, pods: &'a [Arc<Pod>]) -> Result<Vec<&'a Pod>, Error> {
        let uid = owner.meta().uid.clone().unwrap_or_default();
        let deleting = owner.meta().deletion_timestamp.is_some();
        let api = Api::<Pod>::namespaced(self.client.clone(), &owner.namespace().unwrap_or_default());
        let mut owned = Vec::new();
        for pod in pods.iter().filter(|p| ranking::is_active(p)) {
            match claim(&uid, deleting, &pod.metadata, owner.selects(pod.labels())) {
                Claim::Owned => owned.push(pod.as_ref()),
                Claim::Adopt => {
                    if adopt(&api, owner, &pod.metadata).await? {
                        owned.push(pod.as_ref());
                    }
                }
                Claim::Release => {
                    release(&api, &uid, &pod.metadata).await?;
                }
                Claim::Ignore => {}
            }
        }
        Ok(owned)
    }

    /// Create or delete pods so that `owned` becomes `spec.replicas` (upstream's `manageReplicas`).
    async fn manage_replicas(&self, owner: &K, owned: &[&Pod], expectation_key: &str) -> Result<(), Error> {
        let wanted = owner.replicas().max(0) as usize;
        let api = Api::<Pod>::namespaced(self.client.clone(), &owner.namespace().unwrap_or_default());
        if owned.len() < wanted {
            let Some(template) = owner.template() else { return Ok(()) };
            let pod = pod_from_template(owner, template);
            let (created, error) =
                self.create_pods(&api, owner, &pod, (wanted - owned.len()).min(BURST_REPLICAS)).await;
            self.expectations.expect(expectation_key, created, Vec::new());
            return error.map_or(Ok(()), Err);
        }
        if owned.len() > wanted {
            let count = (owned.len() - wanted).min(BURST_REPLICAS);
            let victims = ranking::pods_to_delete(owned, owned, count, jiff::Timestamp::now());
            let mut deleted = Vec::new();
            let mut failure = None;
            for pod in victims {
                let name = pod.name_any();
                match api.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => {
                        deleted.push(pod.metadata.uid.clone().unwrap_or_default());
                        self.events.record(owner, NORMAL, "SuccessfulDelete", &format!("Deleted pod: {name}")).await;
                    }
                    Err(kube::Error::Api(s)) if s.is_not_found() => {}
                    Err(e) => {
                        self.events.record(owner, WARNING, "FailedDelete", &format!("Error deleting: {e}")).await;
                        failure = Some(e.into());
                    }
                }
            }
            self.expectations.expect(expectation_key, Vec::new(), deleted);
            return failure.map_or(Ok(()), Err);
        }
        Ok(())
    }

    /// Create `count` copies of `pod` in slow-start batches (1, 2, 4, …), stopping after a
    /// batch with a failure (upstream's `slowStartBatch`). Returns the created names.
    async fn create_pods(&self, api: &Api<Pod>, owner: &K, pod: &Pod, count: usize) -> (Vec<String>, Option<Error>) {
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        let mut created = Vec::new();
        let mut batch = 1;
        while created.len() < count {
            let size = batch.min(count - created.len());
            let results = futures::future::join_all((0..size).map(|_| api.create(&params, pod))).await;
            let mut failure = None;
            for result in results {
                match result {
                    Ok(p) => {
                        let name = p.name_any();
                        self.events.record(owner, NORMAL, "SuccessfulCreate", &format!("Created pod: {name}")).await;
                        created.push(name);
                    }
                    // A namespace being deleted refuses new pods; nothing to report.
                    Err(kube::Error::Api(s)) if crate::serviceaccount::is_namespace_terminating(&s) => {
                        return (created, None);
                    }
                    Err(e) => {
                        self.events.record(owner, WARNING, "FailedCreate", &format!("Error creating: {e}")).await;
                        failure = Some(e.into());
                    }
                }
            }
            if failure.is_some() {
                return (created, failure);
            }
            batch *= 2;
        }
        (created, None)
    }
}

/// A pod of `owner` from `template` (upstream's `GetPodFromTemplate`): the template's labels,
/// annotations, finalizers and spec, named by the server from `<owner>-`.
pub fn pod_from_template<K: ReplicaKind>(owner: &K, template: &k8s_openapi::api::core::v1::PodTemplateSpec) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.name_any())),
            namespace: owner.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref(owner)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

    #[test]
    fn pods_are_generated_from_the_template_and_controlled_by_the_owner() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_owned(), "web".to_owned())].into()),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container { name: "web".into(), image: Some("nginx".into()), ..Default::default() }],
                ..Default::default()
            }),
        };
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-5d4f".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec { template: Some(template.clone()), ..Default::default() }),
            status: None,
        };
        let pod = pod_from_template(&rs, &template);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-5d4f-"));
        assert_eq!(pod.metadata.labels, template.metadata.unwrap().labels);
        let r = &pod.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (r.kind.as_str(), r.uid.as_str(), r.controller, r.block_owner_deletion),
            ("ReplicaSet", "u1", Some(true), Some(true))
        );
        assert_eq!(rs.replicas(), 1, "spec.replicas defaults to 1");
    }
}
