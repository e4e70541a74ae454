//! The two kinds one replica controller serves: apps/v1 ReplicaSet (label selector) and
//! core/v1 ReplicationController (set selector, optional template), seen through
//! [`ReplicaKind`].

use client_runtime::labels;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController, ReplicationControllerStatus};
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// The status counters both kinds report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub replicas: i32,
    pub fully_labeled_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub observed_generation: i64,
}

/// A kind whose controller keeps `spec.replicas` pods from `spec.template`.
pub trait ReplicaKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// upstream's controller name, in logs.
    const NAME: &'static str;
    /// upstream's event source component.
    const COMPONENT: &'static str;

    /// `spec.replicas`, which defaults to 1.
    fn replicas(&self) -> i32;
    fn min_ready_seconds(&self) -> i32;
    /// Whether the selector takes a pod with `labels`.
    fn selects(&self, labels: &BTreeMap<String, String>) -> bool;
    fn template(&self) -> Option<&PodTemplateSpec>;
    fn counts(&self) -> Counts;
    fn set_counts(&mut self, counts: Counts);
}

impl ReplicaKind for ReplicaSet {
    const NAME: &'static str = "replicaset";
    const COMPONENT: &'static str = "replicaset-controller";

    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }

    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }

    fn selects(&self, pod_labels: &BTreeMap<String, String>) -> bool {
        self.spec.as_ref().is_some_and(|s| labels::selects(&s.selector, pod_labels))
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }

    fn counts(&self) -> Counts {
        let s = self.status.clone().unwrap_or_default();
        Counts {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
        }
    }

    fn set_counts(&mut self, c: Counts) {
        let status = self.status.get_or_insert_with(ReplicaSetStatus::default);
        status.replicas = c.replicas;
        status.fully_labeled_replicas = Some(c.fully_labeled_replicas);
        status.ready_replicas = Some(c.ready_replicas);
        status.available_replicas = Some(c.available_replicas);
        status.observed_generation = Some(c.observed_generation);
    }
}

impl ReplicaKind for ReplicationController {
    const NAME: &'static str = "replicationcontroller";
    const COMPONENT: &'static str = "replication-controller";

    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }

    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }

    fn selects(&self, pod_labels: &BTreeMap<String, String>) -> bool {
        let selector = self.spec.as_ref().and_then(|s| s.selector.as_ref());
        selector.is_some_and(|s| labels::set_selects(s, pod_labels))
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }

    fn counts(&self) -> Counts {
        let s = self.status.clone().unwrap_or_default();
        Counts {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
        }
    }

    fn set_counts(&mut self, c: Counts) {
        let status = self.status.get_or_insert_with(ReplicationControllerStatus::default);
        status.replicas = c.replicas;
        status.fully_labeled_replicas = Some(c.fully_labeled_replicas);
        status.ready_replicas = Some(c.ready_replicas);
        status.available_replicas = Some(c.available_replicas);
        status.observed_generation = Some(c.observed_generation);
    }
}
