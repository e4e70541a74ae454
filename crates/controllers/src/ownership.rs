//! How a workload controller claims the objects it manages (upstream's
//! `ControllerRefManager`): it owns what names it as controller and still matches its
//! selector, adopts matching orphans and releases owned objects that stopped matching.

use crate::Error;
use client_runtime::queue::WorkQueue;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use std::fmt::Debug;

/// A workload controller's queue key: one owner, or "the orphans of a namespace changed"
/// (an orphan may match several owners, and a watch maps one object to one key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Owner { namespace: String, name: String },
    OrphansIn(String),
}

impl Key {
    /// The key of an owned object's controlling owner if it is of `owner_kind`, and
    /// [`Key::OrphansIn`] for an object without a controller.
    pub fn of_dependent(meta: &ObjectMeta, owner_kind: &str) -> Option<Key> {
        let namespace = meta.namespace.clone().unwrap_or_default();
        match controller_of(meta) {
            Some(owner) if owner.kind == owner_kind => Some(Key::Owner { namespace, name: owner.name.clone() }),
            Some(_) => None,
            None => Some(Key::OrphansIn(namespace)),
        }
    }

    pub fn of_owner<K: Resource>(owner: &K) -> Key {
        Key::Owner { namespace: owner.namespace().unwrap_or_default(), name: owner.name_any() }
    }
}

/// Queue the key of a watched dependent (for an informer handler, whose
/// key function must return a key: dependents of other kinds map to a harmless orphan key).
pub fn dependent_key(meta: &ObjectMeta, owner_kind: &str) -> Key {
    Key::of_dependent(meta, owner_kind).unwrap_or_else(|| Key::OrphansIn(meta.namespace.clone().unwrap_or_default()))
}

/// The owner reference marked `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.iter().flatten().find(|r| r.controller == Some(true))
}

/// The reference a controller puts on what it creates or adopts.
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What an owner does with one candidate object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    Owned,
    Adopt,
    Release,
    Ignore,
}

/// upstream's `ClaimObject`: `owner_deleting` owners neither adopt nor release.
pub fn claim(owner_uid: &str, owner_deleting: bool, object: &ObjectMeta, matches: bool) -> Claim {
    match controller_of(object) {
        Some(r) if r.uid == owner_uid && matches => Claim::Owned,
        Some(r) if r.uid == owner_uid && !owner_deleting => Claim::Release,
        Some(_) => Claim::Ignore,
        None if matches && !owner_deleting && object.deletion_timestamp.is_none() => Claim::Adopt,
        None => Claim::Ignore,
    }
}

/// Make `owner` the controller of `object`, guarded by the object's uid (upstream's
/// strategic merge patch of `ownerReferences`). A vanished object is not an error.
pub async fn adopt<K, O>(api: &Api<K>, owner: &O, object: &ObjectMeta) -> Result<bool, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    O: Resource<DynamicType = ()>,
{
    let patch = json!({"metadata": {"ownerReferences": [controller_ref(owner)], "uid": object.uid}});
    patch_meta(api, object, patch).await
}

/// Remove `owner_uid` from `object`'s owner references.
pub async fn release<K>(api: &Api<K>, owner_uid: &str, object: &ObjectMeta) -> Result<bool, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let patch = json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}], "uid": object.uid}});
    patch_meta(api, object, patch).await
}

async fn patch_meta<K>(api: &Api<K>, object: &ObjectMeta, patch: serde_json::Value) -> Result<bool, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let name = object.name.as_deref().unwrap_or_default();
    match api
        .patch(
            name,
            &PatchParams { field_manager: Some(crate::FIELD_MANAGER.to_owned()), ..Default::default() },
            &Patch::Strategic(patch),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.is_not_found() || s.code == 422 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Queue every owner in `owners` whose selector (`selects`) takes an orphan in `orphans`.
pub fn queue_owners_of_orphans<O: Resource, D>(
    owners: &[std::sync::Arc<O>],
    orphans: &[std::sync::Arc<D>],
    selects: impl Fn(&O, &D) -> bool,
    queue: &WorkQueue<Key>,
) {
    for owner in owners.iter().filter(|o| orphans.iter().any(|d| selects(o, d))) {
        queue.add(Key::of_owner(owner.as_ref()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn owned_by(uid: &str, controller: bool) -> ObjectMeta {
        ObjectMeta {
            name: Some("pod".into()),
            owner_references: Some(vec![OwnerReference {
                uid: uid.into(),
                kind: "ReplicaSet".into(),
                name: "rs".into(),
                controller: Some(controller),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn owned_matching_objects_stay_and_mismatching_ones_are_released() {
        assert_eq!(claim("u1", false, &owned_by("u1", true), true), Claim::Owned);
        assert_eq!(claim("u1", false, &owned_by("u1", true), false), Claim::Release);
        assert_eq!(claim("u1", true, &owned_by("u1", true), false), Claim::Ignore, "a deleting owner releases nothing");
    }

    #[test]
    fn only_matching_live_orphans_are_adopted() {
        let orphan = ObjectMeta::default();
        assert_eq!(claim("u1", false, &orphan, true), Claim::Adopt);
        assert_eq!(claim("u1", false, &orphan, false), Claim::Ignore);
        assert_eq!(claim("u1", true, &orphan, true), Claim::Ignore);
        let deleting = ObjectMeta { deletion_timestamp: Some(Time(jiff::Timestamp::now())), ..Default::default() };
        assert_eq!(claim("u1", false, &deleting, true), Claim::Ignore);
        assert_eq!(claim("u1", false, &owned_by("u2", true), true), Claim::Ignore);
        assert_eq!(claim("u1", false, &owned_by("u2", false), true), Claim::Adopt, "a non-controller reference");
    }

    #[test]
    fn dependents_map_to_their_controller_or_their_namespace() {
        let mut meta = owned_by("u1", true);
        meta.namespace = Some("ns".into());
        assert_eq!(
            Key::of_dependent(&meta, "ReplicaSet"),
            Some(Key::Owner { namespace: "ns".into(), name: "rs".into() })
        );
        assert_eq!(Key::of_dependent(&meta, "Deployment"), None);
        assert_eq!(dependent_key(&ObjectMeta::default(), "ReplicaSet"), Key::OrphansIn(String::new()));
    }
}
