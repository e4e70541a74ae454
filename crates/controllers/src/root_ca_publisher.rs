//! The root CA publisher (upstream's `root-ca-cert-publisher`): every namespace has the
//! ConfigMap `kube-root-ca.crt` whose `ca.crt` is the cluster CA, so that workloads can
//! verify the API server; it is recreated when deleted and restored when edited.

use crate::serviceaccount::is_namespace_terminating;
use crate::{Error, FIELD_MANAGER};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The published ConfigMap's name.
pub const CONFIG_MAP_NAME: &str = "kube-root-ca.crt";
/// The ConfigMap key holding the CA bundle.
pub const CA_KEY: &str = "ca.crt";
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
/// upstream's description of the ConfigMap, shown to whoever reads it.
pub const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal \
     endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across \
     distributions of Kubernetes clusters.";

pub struct RootCaPublisher {
    client: Client,
    root_ca_pem: String,
    namespaces: Store<Namespace>,
    config_maps: Store<ConfigMap>,
}

/// What a namespace's ConfigMap needs.
#[derive(Debug, PartialEq)]
enum Change {
    None,
    Create(ConfigMap),
    Update(ConfigMap),
}

/// Watch namespaces and their `kube-root-ca.crt` and keep it publishing `root_ca_pem`. Runs
/// until cancelled.
pub async fn run(client: Client, informers: Informers, root_ca_pem: String) -> Result<(), Error> {
    let namespaces = informers.all::<Namespace>();
    let only_ours = watcher::Config::default().fields(&format!("metadata.name={CONFIG_MAP_NAME}"));
    let config_maps = informers.selected::<ConfigMap>(only_ours);
    let queue = WorkQueue::new();
    let publisher = Arc::new(RootCaPublisher {
        client: client.clone(),
        root_ca_pem,
        namespaces: namespaces.store(),
        config_maps: config_maps.store(),
    });
    namespaces.queue_changes(&queue, |ns| ns.name_any());
    config_maps.queue_changes(&queue, |cm| cm.namespace().unwrap_or_default());
    let synced = async { namespaces.synced().await && config_maps.synced().await };
    // upstream runs one worker.
    run_workers_when_synced(publisher, queue, 1, synced).await;
    Ok(())
}

impl Reconciler for RootCaPublisher {
    /// A namespace's name.
    type Key = String;
    type Error = Error;
    const NAME: &'static str = "root-ca-cert-publisher";

    async fn reconcile(&self, namespace: &String) -> Result<Action, Error> {
        let Some(ns) = self.namespaces.get(&ObjectRef::new(namespace)) else { return Ok(Action::Done) };
        let current = self.config_maps.get(&ObjectRef::new(CONFIG_MAP_NAME).within(namespace));
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), namespace);
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        match change(current.as_deref(), &self.root_ca_pem) {
            Change::None => Ok(Action::Done),
            // A namespace being deleted refuses new content; nothing to retry.
            Change::Create(_) if ns.metadata.deletion_timestamp.is_some() => Ok(Action::Done),
            Change::Create(cm) => match api.create(&params, &cm).await {
                Ok(_) => Ok(Action::Done),
                Err(kube::Error::Api(s)) if s.is_not_found() || is_namespace_terminating(&s) => Ok(Action::Done),
                Err(e) => Err(e.into()),
            },
            // A conflict means a newer version is on its way through the watch.
            Change::Update(cm) => match api.replace(CONFIG_MAP_NAME, &params, &cm).await {
                Ok(_) => Ok(Action::Done),
                Err(kube::Error::Api(s)) if s.is_conflict() || s.is_not_found() => Ok(Action::Done),
                Err(e) => Err(e.into()),
            },
        }
    }

    fn error_policy(&self, _namespace: &String, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

/// upstream's decision: create the ConfigMap when missing; rewrite its data when it is not
/// exactly the CA bundle, or when the description annotation is gone (an edited
/// description is left alone).
fn change(current: Option<&ConfigMap>, root_ca_pem: &str) -> Change {
    let data = BTreeMap::from([(CA_KEY.to_owned(), root_ca_pem.to_owned())]);
    let Some(current) = current else {
        return Change::Create(ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP_NAME.to_owned()),
                annotations: Some(BTreeMap::from([(DESCRIPTION_ANNOTATION.to_owned(), DESCRIPTION.to_owned())])),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        });
    };
    let described = current.annotations().get(DESCRIPTION_ANNOTATION).is_some_and(|d| !d.is_empty());
    if current.data.as_ref() == Some(&data) && described {
        return Change::None;
    }
    let mut updated = current.clone();
    updated.data = Some(data);
    if !described {
        updated.annotations_mut().insert(DESCRIPTION_ANNOTATION.to_owned(), DESCRIPTION.to_owned());
    }
    Change::Update(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn published() -> ConfigMap {
        let Change::Create(cm) = change(None, CA) else { panic!("a missing ConfigMap is created") };
        cm
    }

    #[test]
    fn a_missing_config_map_is_created_with_the_ca_and_description() {
        let cm = published();
        assert_eq!(cm.metadata.name.as_deref(), Some("kube-root-ca.crt"));
        assert_eq!(cm.data.unwrap()["ca.crt"], CA);
        assert_eq!(cm.metadata.annotations.unwrap()["kubernetes.io/description"], DESCRIPTION);
        let upstream = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";
        assert_eq!(DESCRIPTION, upstream);
    }

    #[test]
    fn a_current_config_map_is_left_alone() {
        let mut cm = published();
        assert_eq!(change(Some(&cm), CA), Change::None);
        cm.annotations_mut().insert(DESCRIPTION_ANNOTATION.into(), "edited".into());
        assert_eq!(change(Some(&cm), CA), Change::None, "only a missing description is restored");
    }

    #[test]
    fn edited_data_and_a_lost_description_are_restored() {
        let mut cm = published();
        cm.data.as_mut().unwrap().insert("extra".into(), "x".into());
        cm.metadata.labels = Some(BTreeMap::from([("keep".into(), "me".into())]));
        let Change::Update(fixed) = change(Some(&cm), CA) else { panic!("extra data is removed") };
        assert_eq!(fixed.data, published().data);
        assert_eq!(fixed.labels()["keep"], "me");

        let mut cm = published();
        cm.metadata.annotations = None;
        let Change::Update(fixed) = change(Some(&cm), CA) else { panic!("the description is restored") };
        assert_eq!(fixed.annotations()[DESCRIPTION_ANNOTATION], DESCRIPTION);
        let Change::Update(rotated) = change(Some(&published()), "other CA") else { panic!("a new CA is published") };
        assert_eq!(rotated.data.unwrap()[CA_KEY], "other CA");
    }
}
