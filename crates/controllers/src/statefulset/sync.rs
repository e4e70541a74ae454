//! One pass over a StatefulSet's pods (upstream's `updateStatefulSet`): create the missing
//! ordinals with their claims, replace failed pods, remove ordinals beyond the replica count
//! from the highest down, then roll pods from the highest ordinal down to the partition.
//! `OrderedReady` takes one step at a time and waits for each pod to be Running and Ready;
//! `Parallel` acts on every pod at once.

use super::StatefulSetController;
use super::identity::{claims, new_pod, ordinal_of};
use crate::history::REVISION_LABEL;
use crate::ownership::controller_ref;
use crate::replicaset::ranking::is_ready;
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{NORMAL, WARNING};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

/// A revision of the set's template: its name (the pods' `controller-revision-hash`) and template.
pub struct Revision {
    pub name: String,
    pub template: PodTemplateSpec,
}

pub fn is_running_and_ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") && is_ready(pod)
}

fn is_failed(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Failed" | "Succeeded"))
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

pub fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata.labels.as_ref()?.get(REVISION_LABEL).map(String::as_str)
}

/// The first ordinal and the replica count of `set` (`spec.ordinals.start`, `spec.replicas`).
pub fn ordinal_range(set: &StatefulSet) -> std::ops::Range<i32> {
    let spec = set.spec.as_ref();
    let start = spec.and_then(|s| s.ordinals.as_ref()).and_then(|o| o.start).unwrap_or(0);
    let replicas = spec.and_then(|s| s.replicas).unwrap_or(1).max(0);
    start..start + replicas
}

fn partition(set: &StatefulSet) -> Option<i32> {
    let strategy = set.spec.as_ref()?.update_strategy.as_ref();
    match strategy.and_then(|s| s.type_.as_deref()) {
        Some("OnDelete") => None,
        _ => Some(strategy.and_then(|s| s.rolling_update.as_ref()).and_then(|r| r.partition).unwrap_or(0)),
    }
}

fn is_parallel(set: &StatefulSet) -> bool {
    set.spec.as_ref().and_then(|s| s.pod_management_policy.as_deref()) == Some("Parallel")
}

impl StatefulSetController {
    /// Take the next steps for `set` whose pods are `pods`. Returns after a step an
    /// `OrderedReady` set must see finish first.
    pub(super) async fn update_pods(
        &self,
        set: &StatefulSet,
        pods: &[&Pod],
        current: &Revision,
        update: &Revision,
    ) -> Result<(), Error> {
        let ordered = !is_parallel(set);
        let range = ordinal_range(set);
        let name = set.name_any();
        let api = Api::<Pod>::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let by_ordinal =
            |ordinal: i32| pods.iter().copied().find(|p| ordinal_of(&name, &p.name_any()) == Some(ordinal));
        let partition = partition(set);

        for ordinal in range.clone() {
            match by_ordinal(ordinal) {
                None => {
                    let from_current = partition.is_some_and(|p| ordinal < range.start + p);
                    let revision = if from_current { current } else { update };
                    self.create_claims(set, ordinal).await?;
                    let pod = new_pod(set, &revision.template, ordinal, &revision.name);
                    self.create_pod(set, &api, &pod).await?;
                    if ordered {
                        return Ok(());
                    }
                }
                Some(pod) if is_failed(pod) && !is_terminating(pod) => {
                    self.delete_pod(set, &api, pod).await?;
                    if ordered {
                        return Ok(());
                    }
                }
                Some(pod) if ordered && (is_terminating(pod) || !is_running_and_ready(pod)) => return Ok(()),
                Some(_) => {}
            }
        }

        let mut condemned: Vec<(i32, &Pod)> = pods
            .iter()
            .filter_map(|p| ordinal_of(&name, &p.name_any()).map(|o| (o, *p)))
            .filter(|(o, _)| !range.contains(o))
            .collect();
        condemned.sort_by_key(|(o, _)| std::cmp::Reverse(*o));
        for (_, pod) in condemned {
            if is_terminating(pod) {
                if ordered {
                    return Ok(());
                }
                continue;
            }
            self.release_claims_when_scaled(set, pod).await?;
            self.delete_pod(set, &api, pod).await?;
            if ordered {
                return Ok(());
            }
        }

        let Some(partition) = partition else { return Ok(()) };
        for ordinal in (range.start + partition.max(0)..range.end).rev() {
            let Some(pod) = by_ordinal(ordinal) else { return Ok(()) };
            if revision_of(pod) != Some(update.name.as_str()) && !is_terminating(pod) {
                self.delete_pod(set, &api, pod).await?;
                return Ok(());
            }
            if !is_running_and_ready(pod) || is_terminating(pod) {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn create_pod(&self, set: &StatefulSet, api: &Api<Pod>, pod: &Pod) -> Result<(), Error> {
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        let (pod_name, set_name) = (pod.name_any(), set.name_any());
        match api.create(&params, pod).await {
            Ok(_) => {
                let message = format!("create Pod {pod_name} in StatefulSet {set_name} successful");
                self.events.record(set, NORMAL, "SuccessfulCreate", &message).await;
                Ok(())
            }
            // Created by an earlier pass that the cache does not show yet.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(kube::Error::Api(s)) if crate::serviceaccount::is_namespace_terminating(&s) => Ok(()),
            Err(e) => {
                let message = format!("create Pod {pod_name} in StatefulSet {set_name} failed error: {e}");
                self.events.record(set, WARNING, "FailedCreate", &message).await;
                Err(e.into())
            }
        }
    }

    async fn delete_pod(&self, set: &StatefulSet, api: &Api<Pod>, pod: &Pod) -> Result<(), Error> {
        let (pod_name, set_name) = (pod.name_any(), set.name_any());
        match api.delete(&pod_name, &DeleteParams::default()).await {
            Ok(_) => {
                let message = format!("delete Pod {pod_name} in StatefulSet {set_name} successful");
                self.events.record(set, NORMAL, "SuccessfulDelete", &message).await;
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
            Err(e) => {
                let message = format!("delete Pod {pod_name} in StatefulSet {set_name} failed error: {e}");
                self.events.record(set, WARNING, "FailedDelete", &message).await;
                Err(e.into())
            }
        }
    }

    /// Create the claims of pod `ordinal` that do not exist yet; with `whenDeleted: Delete`
    /// the set owns them, so they go with it.
    async fn create_claims(&self, set: &StatefulSet, ordinal: i32) -> Result<(), Error> {
        let api = Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        let delete_with_set = retention(set, |p| p.when_deleted.as_deref()) == "Delete";
        for mut claim in claims(set, ordinal) {
            if delete_with_set {
                claim.metadata.owner_references =
                    Some(vec![OwnerReference { controller: None, ..controller_ref(set) }]);
            }
            let (claim_name, pod_name, set_name) =
                (claim.name_any(), super::identity::pod_name(set, ordinal), set.name_any());
            match api.create(&params, &claim).await {
                Ok(_) => {
                    let message = format!("create Claim {claim_name} Pod {pod_name} in StatefulSet {set_name} success");
                    self.events.record(set, NORMAL, "SuccessfulCreate", &message).await;
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => {
                    let message = format!(
                        "create Claim {claim_name} for Pod {pod_name} in StatefulSet {set_name} failed error: {e}"
                    );
                    self.events.record(set, WARNING, "FailedCreate", &message).await;
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// With `whenScaled: Delete`, a condemned pod becomes the owner of its claims so that
    /// the garbage collector removes them after it.
    async fn release_claims_when_scaled(&self, set: &StatefulSet, pod: &Pod) -> Result<(), Error> {
        if retention(set, |p| p.when_scaled.as_deref()) != "Delete" {
            return Ok(());
        }
        let Some(ordinal) = ordinal_of(&set.name_any(), &pod.name_any()) else { return Ok(()) };
        let api = Api::<PersistentVolumeClaim>::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: Pod::kind(&()).into_owned(),
            name: pod.name_any(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            controller: None,
            block_owner_deletion: Some(true),
        };
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        for claim in claims(set, ordinal) {
            let patch = Patch::Strategic(json!({"metadata": {"ownerReferences": [owner]}}));
            match api.patch(&claim.name_any(), &params, &patch).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// A field of `spec.persistentVolumeClaimRetentionPolicy`, `Retain` when unset.
fn retention(
    set: &StatefulSet,
    field: impl Fn(&k8s_openapi::api::apps::v1::StatefulSetPersistentVolumeClaimRetentionPolicy) -> Option<&str>,
) -> &str {
    set.spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref())
        .and_then(field)
        .unwrap_or("Retain")
}
