//! Reads and writes of single objects named by graph [`Identity`], always against the live
//! API: the graph says what to look at, the API server says what is true.

use super::GarbageCollector;
use super::graph::Identity;
use crate::Error;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use serde_json::{Value, json};

/// How often a metadata change is retried when another writer wins the race.
const CONFLICT_RETRIES: usize = 5;

impl GarbageCollector {
    /// The object as it is now; `None` when it is gone, was replaced by a namesake, or the
    /// reference cannot name anything (a namespaced kind without a namespace).
    pub async fn get_live(&self, identity: &Identity) -> Result<Option<DynamicObject>, Error> {
        let served = self.served.by_kind(&identity.api_version, &identity.kind)?;
        if served.namespaced() && identity.namespace.is_none() {
            return Ok(None);
        }
        let obj = served.api(&self.client, identity.namespace.as_deref()).get_opt(&identity.name).await?;
        Ok(obj.filter(|o| o.metadata.uid.as_deref() == Some(identity.uid.as_str())))
    }

    /// Rewrite the object's ownerReferences with `edit`; nothing when it is gone.
    pub async fn update_owner_references(
        &self,
        identity: &Identity,
        edit: impl Fn(&mut Vec<OwnerReference>),
    ) -> Result<(), Error> {
        self.update_metadata(identity, "ownerReferences", |meta| {
            let old = meta.owner_references.clone().unwrap_or_default();
            let mut new = old.clone();
            edit(&mut new);
            (new != old).then(|| json!(new))
        })
        .await
    }

    /// Remove `finalizer` from the object; nothing when it is gone or lacks it.
    pub async fn remove_finalizer(&self, identity: &Identity, finalizer: &str) -> Result<(), Error> {
        self.update_metadata(identity, "finalizers", |meta| {
            let old = meta.finalizers.clone().unwrap_or_default();
            old.iter()
                .any(|f| f == finalizer)
                .then(|| json!(old.iter().filter(|f| *f != finalizer).collect::<Vec<_>>()))
        })
        .await
    }

    /// Delete the object (only this uid) with `policy` for its own dependents.
    pub async fn delete(&self, identity: &Identity, policy: PropagationPolicy) -> Result<(), Error> {
        let served = self.served.by_kind(&identity.api_version, &identity.kind)?;
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions { uid: Some(identity.uid.clone()), resource_version: None }),
            ..Default::default()
        };
        match served.api(&self.client, identity.namespace.as_deref()).delete(&identity.name, &params).await {
            Ok(_) => Ok(()),
            // Already gone, or the name now belongs to another object.
            Err(kube::Error::Api(s)) if s.is_not_found() || s.is_conflict() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Set `metadata.<field>` to what `compute` returns for the live object (`None`: no
    /// change), as a merge patch pinned to the object's uid and resourceVersion, re-reading
    /// and retrying when another writer got there first.
    async fn update_metadata(
        &self,
        identity: &Identity,
        field: &str,
        compute: impl Fn(&ObjectMeta) -> Option<Value>,
    ) -> Result<(), Error> {
        let served = self.served.by_kind(&identity.api_version, &identity.kind)?;
        let api = served.api(&self.client, identity.namespace.as_deref());
        let mut attempt = 0;
        loop {
            let Some(obj) = self.get_live(identity).await? else { return Ok(()) };
            let Some(value) = compute(&obj.metadata) else { return Ok(()) };
            let patch = json!({"metadata": {
                "uid": identity.uid,
                "resourceVersion": obj.metadata.resource_version,
                field: value,
            }});
            match api.patch(&identity.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(s)) if s.is_not_found() => return Ok(()),
                Err(kube::Error::Api(s)) if s.is_conflict() && attempt < CONFLICT_RETRIES => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
