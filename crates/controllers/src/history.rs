//! ControllerRevisions: the template history of StatefulSets and DaemonSets (upstream's
//! `controller/history`). A revision holds the patch that restores its template, is named
//! `<owner>-<hash>`, and carries a revision number one above its newest sibling.

use crate::deployment::hash::compute_hash;
use crate::ownership::{controller_of, controller_ref};
use crate::{Error, FIELD_MANAGER};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The label naming the revision a pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";
/// upstream's `revisionHistoryLimit` default for StatefulSets and DaemonSets.
pub const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// The revision data of `template` (upstream's `getPatch`): a patch replacing the template.
pub fn revision_data(template: &PodTemplateSpec) -> serde_json::Value {
    let mut template = serde_json::to_value(template).unwrap_or_default();
    if let Some(fields) = template.as_object_mut() {
        fields.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The template a revision restores.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.get("spec")?.get("template")?.clone();
    template.as_object_mut()?.remove("$patch");
    serde_json::from_value(template).ok()
}

/// The revisions `owner` controls, oldest first.
pub fn owned_revisions<O: Resource>(revisions: &Store<ControllerRevision>, owner: &O) -> Vec<Arc<ControllerRevision>> {
    let uid = owner.meta().uid.clone().unwrap_or_default();
    let mut owned: Vec<_> = revisions
        .state()
        .into_iter()
        .filter(|r| {
            r.metadata.namespace == owner.meta().namespace && controller_of(&r.metadata).is_some_and(|c| c.uid == uid)
        })
        .collect();
    owned.sort_by_key(|r| (r.revision, r.metadata.name.clone()));
    owned
}

/// The revision of `template` among `owned` (oldest first), created when missing; an
/// existing one that is not the newest is renumbered to be (a rollback). Returns it and its hash.
pub async fn ensure_revision<O: Resource<DynamicType = ()>>(
    client: &kube::Client,
    owner: &O,
    owned: &[Arc<ControllerRevision>],
    template: &PodTemplateSpec,
    labels: BTreeMap<String, String>,
    collision_count: Option<i32>,
) -> Result<(ControllerRevision, String), Error> {
    let hash = compute_hash(template, collision_count);
    let name = format!("{}-{hash}", owner.meta().name.as_deref().unwrap_or_default());
    let newest = owned.last().map_or(0, |r| r.revision);
    let api =
        Api::<ControllerRevision>::namespaced(client.clone(), &owner.meta().namespace.clone().unwrap_or_default());
    let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
    if let Some(existing) = owned.iter().find(|r| r.metadata.name.as_deref() == Some(name.as_str())) {
        if existing.revision == newest {
            return Ok(((**existing).clone(), hash));
        }
        let mut renumbered = (**existing).clone();
        renumbered.revision = newest + 1;
        return Ok((api.replace(&name, &params, &renumbered).await?, hash));
    }
    let mut labels = labels;
    labels.insert(REVISION_LABEL.to_owned(), hash.clone());
    let revision = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: owner.meta().namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![controller_ref(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(revision_data(template))),
        revision: newest + 1,
    };
    match api.create(&params, &revision).await {
        Ok(created) => Ok((created, hash)),
        // Created by an earlier sync the cache has not shown yet.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok((api.get(&name).await?, hash)),
        Err(e) => Err(e.into()),
    }
}

/// Delete the oldest revisions beyond `limit` whose names are not in `live` (revisions that
/// pods or the status still refer to), as upstream's `truncateHistory`.
pub async fn truncate_history(
    client: &kube::Client,
    owned: &[Arc<ControllerRevision>],
    live: &[&str],
    limit: i32,
) -> Result<(), Error> {
    let history: Vec<_> =
        owned.iter().filter(|r| !live.contains(&r.metadata.name.as_deref().unwrap_or_default())).collect();
    let surplus = history.len().saturating_sub(limit.max(0) as usize);
    for revision in history.into_iter().take(surplus) {
        let api = Api::<ControllerRevision>::namespaced(client.clone(), &revision.namespace().unwrap_or_default());
        match api.delete(&revision.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    #[test]
    fn revision_data_round_trips_to_the_template() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some([("app".into(), "web".into())].into()), ..Default::default() }),
            spec: Some(PodSpec {
                containers: vec![Container { name: "web".into(), image: Some("nginx".into()), ..Default::default() }],
                ..Default::default()
            }),
        };
        let data = revision_data(&template);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        let revision = ControllerRevision { data: Some(RawExtension(data)), ..Default::default() };
        assert_eq!(template_of(&revision), Some(template));
    }
}
