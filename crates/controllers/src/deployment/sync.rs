//! The Deployment controller's writes: claiming ReplicaSets, finding or creating the new
//! one (upstream's `getNewReplicaSet`), resizing with events, deleting old ReplicaSets past
//! `revisionHistoryLimit`, and writing the status.

use super::annotations::{self, max_revision, set_deployment_revision, set_new_replica_set_annotations};
use super::conditions::{self, PROGRESSING};
use super::hash::{POD_TEMPLATE_HASH_LABEL, compute_hash};
use super::rollout::{self, deployment_replicas, replicas, set_replicas};
use super::{DeploymentController, equal_ignore_hash, find_new, selects};
use crate::ownership::{Claim, adopt, claim, controller_of, controller_ref, release};
use crate::{Error, FIELD_MANAGER};
use client_runtime::events::{NORMAL, WARNING};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};

fn params() -> PostParams {
    PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() }
}

impl DeploymentController {
    fn rs_api(&self, d: &Deployment) -> Api<ReplicaSet> {
        Api::namespaced(self.client.clone(), &d.namespace().unwrap_or_default())
    }

    /// The ReplicaSets `d` controls, after adopting matching orphans and releasing the ones
    /// that stopped matching.
    pub(super) async fn claim_replica_sets(&self, d: &Deployment) -> Result<Vec<ReplicaSet>, Error> {
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let deleting = d.metadata.deletion_timestamp.is_some();
        let api = self.rs_api(d);
        let mut owned = Vec::new();
        for rs in self.replica_sets.state().into_iter().filter(|rs| rs.namespace() == d.namespace()) {
            match claim(&uid, deleting, &rs.metadata, selects(d, &rs)) {
                Claim::Owned => owned.push((*rs).clone()),
                Claim::Adopt if adopt(&api, d, &rs.metadata).await? => owned.push((*rs).clone()),
                Claim::Release => {
                    release(&api, &uid, &rs.metadata).await?;
                }
                Claim::Adopt | Claim::Ignore => {}
            }
        }
        Ok(owned)
    }

    /// upstream's `checkPausedConditions`: a Progressing condition saying paused or resumed.
    pub(super) async fn check_paused_conditions(&self, d: &mut Deployment) -> Result<(), Error> {
        if !conditions::has_progress_deadline(d) {
            return Ok(());
        }
        let status = d.status.get_or_insert_with(Default::default);
        let reason = conditions::get(status, PROGRESSING).and_then(|c| c.reason.clone());
        if reason.as_deref() == Some(conditions::TIMED_OUT) {
            return Ok(());
        }
        let paused_recorded = reason.as_deref() == Some(conditions::PAUSED);
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let condition = match (paused, paused_recorded) {
            (true, false) => {
                conditions::condition(PROGRESSING, "Unknown", conditions::PAUSED, "Deployment is paused".into())
            }
            (false, true) => {
                conditions::condition(PROGRESSING, "Unknown", conditions::RESUMED, "Deployment is resumed".into())
            }
            _ => return Ok(()),
        };
        conditions::set(status, condition);
        self.update_status(d).await
    }

    /// The new ReplicaSet's index in `sets`, its revision brought up to date; created (and
    /// pushed onto `sets`) when missing and `create` is set.
    pub(super) async fn new_replica_set(
        &self,
        d: &mut Deployment,
        sets: &mut Vec<ReplicaSet>,
        create: bool,
    ) -> Result<Option<usize>, Error> {
        let existing = find_new(d, sets);
        let new_revision =
            max_revision(sets.iter().enumerate().filter(|(i, _)| Some(*i) != existing).map(|(_, rs)| rs)) + 1;
        if let Some(i) = existing {
            let mut rs = sets[i].clone();
            let changed = set_new_replica_set_annotations(d, &mut rs, new_revision, true);
            let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let spec = rs.spec.get_or_insert_with(Default::default);
            let min_ready_changed = spec.min_ready_seconds != min_ready;
            if changed || min_ready_changed {
                spec.min_ready_seconds = min_ready;
                rs = self.rs_api(d).replace(&rs.name_any(), &params(), &rs).await?;
            }
            let revision = annotations::revision(&rs).to_string();
            sets[i] = rs;
            // Written with the status, as upstream does (a write of the main resource would bump
            // the generation).
            let mut update = set_deployment_revision(d, &revision);
            let deadline = conditions::has_progress_deadline(d);
            let status = d.status.get_or_insert_with(Default::default);
            if deadline && conditions::get(status, PROGRESSING).is_none() {
                let message = format!("Found new replica set {:?}", sets[i].name_any());
                conditions::set(status, conditions::condition(PROGRESSING, "True", conditions::FOUND_NEW_RS, message));
                update = true;
            }
            if update {
                self.update_status(d).await?;
            }
            return Ok(Some(i));
        }
        if !create {
            return Ok(None);
        }
        let rs = self.create_new(d, sets, new_revision).await?;
        sets.push(rs);
        Ok(Some(sets.len() - 1))
    }

    async fn create_new(&self, d: &mut Deployment, sets: &[ReplicaSet], revision: i64) -> Result<ReplicaSet, Error> {
        let spec = d.spec.clone().unwrap_or_default();
        let collision_count = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision_count);
        let mut template = spec.template.clone();
        let meta = template.metadata.get_or_insert_with(Default::default);
        meta.labels.get_or_insert_with(Default::default).insert(POD_TEMPLATE_HASH_LABEL.to_owned(), hash.clone());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH_LABEL.to_owned(), hash.clone());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", d.name_any())),
                namespace: d.namespace(),
                labels: meta.labels.clone(),
                owner_references: Some(vec![controller_ref(d)]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let all: Vec<&ReplicaSet> = sets.iter().chain([&rs]).collect();
        let size = rollout::new_rs_new_replicas(d, &all, &rs);
        set_replicas(&mut rs, size);
        set_new_replica_set_annotations(d, &mut rs, revision, false);
        let api = self.rs_api(d);
        let (created, already_existed) = match api.create(&params(), &rs).await {
            Ok(created) => (created, false),
            Err(kube::Error::Api(s)) if s.is_already_exists() => {
                let found = api.get(&rs.name_any()).await?;
                let ours = controller_of(&found.metadata).is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
                let same = found
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|t| equal_ignore_hash(t, &spec.template));
                if !(ours && same) {
                    // A hash collision: the next attempt hashes with a higher count.
                    let status = d.status.get_or_insert_with(Default::default);
                    status.collision_count = Some(collision_count.unwrap_or(0) + 1);
                    self.update_status(d).await?;
                    return Err(Error::Content(format!(
                        "replica set {:?} exists with another template",
                        rs.name_any()
                    )));
                }
                (found, true)
            }
            Err(e) => {
                let message = format!("Failed to create new replica set {:?}: {e}", rs.name_any());
                if conditions::has_progress_deadline(d) {
                    let c = conditions::condition(PROGRESSING, "False", conditions::FAILED_RS_CREATE, message.clone());
                    conditions::set(d.status.get_or_insert_with(Default::default), c);
                    self.update_status(d).await?;
                }
                self.events.record(d, WARNING, "FailedCreate", &message).await;
                return Err(e.into());
            }
        };
        if !already_existed && size > 0 {
            let message = format!("Scaled up replica set {} to {size} from 0", created.name_any());
            self.events.record(d, NORMAL, "ScalingReplicaSet", &message).await;
        }
        let mut update = set_deployment_revision(d, &revision.to_string());
        if !already_existed && conditions::has_progress_deadline(d) {
            let message = format!("Created new replica set {:?}", created.name_any());
            let c = conditions::condition(PROGRESSING, "True", conditions::NEW_RS_CREATED, message);
            conditions::set(d.status.get_or_insert_with(Default::default), c);
            update = true;
        }
        if update {
            self.update_status(d).await?;
        }
        Ok(created)
    }

    /// Resize `rs` to `size` with the Deployment's replica annotations (upstream's
    /// `scaleReplicaSet`), recording `ScalingReplicaSet` when the size changes. Whether the
    /// size changed.
    pub(super) async fn scale(&self, d: &Deployment, rs: &mut ReplicaSet, size: i32) -> Result<bool, Error> {
        let from = replicas(rs);
        let mut updated = rs.clone();
        let desired = deployment_replicas(d);
        let annotations_changed =
            annotations::set_replicas_annotations(&mut updated, desired, desired + rollout::max_surge(d));
        if from == size && !annotations_changed {
            return Ok(false);
        }
        set_replicas(&mut updated, size);
        *rs = self.rs_api(d).replace(&rs.name_any(), &params(), &updated).await?;
        if from != size {
            let direction = if size > from { "up" } else { "down" };
            let message = format!("Scaled {direction} replica set {} to {size} from {from}", rs.name_any());
            self.events.record(d, NORMAL, "ScalingReplicaSet", &message).await;
        }
        Ok(from != size)
    }

    /// Delete old, empty, settled ReplicaSets beyond `revisionHistoryLimit`, lowest revision
    /// first (upstream's `cleanupDeployment`).
    pub(super) async fn cleanup(&self, d: &Deployment, sets: &[ReplicaSet], new: Option<usize>) -> Result<(), Error> {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else { return Ok(()) };
        let mut old: Vec<&ReplicaSet> = (0..sets.len())
            .filter(|&i| Some(i) != new && sets[i].metadata.deletion_timestamp.is_none())
            .map(|i| &sets[i])
            .collect();
        let excess = old.len() as i64 - i64::from(limit);
        if excess <= 0 {
            return Ok(());
        }
        old.sort_by(|a, b| {
            annotations::revision(a).cmp(&annotations::revision(b)).then(rollout::created(a).cmp(&rollout::created(b)))
        });
        for rs in old.into_iter().take(excess as usize) {
            let status = rs.status.clone().unwrap_or_default();
            let settled = status.observed_generation.unwrap_or(0) >= rs.metadata.generation.unwrap_or(0);
            if status.replicas != 0 || replicas(rs) != 0 || !settled {
                continue;
            }
            match self.rs_api(d).delete(&rs.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// upstream's `syncDeploymentStatus`: the counters and Available condition.
    pub(super) async fn sync_status(
        &self,
        d: &mut Deployment,
        sets: &[ReplicaSet],
        new: Option<usize>,
    ) -> Result<(), Error> {
        let all: Vec<&ReplicaSet> = sets.iter().collect();
        let status = conditions::calculate(d, &all, new.map(|n| &sets[n]));
        self.write_status(d, status).await
    }

    /// upstream's `syncRolloutStatus`: counters and both conditions.
    pub(super) async fn sync_rollout_status(
        &self,
        d: &mut Deployment,
        sets: &[ReplicaSet],
        new: Option<usize>,
    ) -> Result<(), Error> {
        let all: Vec<&ReplicaSet> = sets.iter().collect();
        let status = conditions::rollout_status(d, &all, new.map(|n| &sets[n]));
        self.write_status(d, status).await
    }

    async fn write_status(
        &self,
        d: &mut Deployment,
        status: k8s_openapi::api::apps::v1::DeploymentStatus,
    ) -> Result<(), Error> {
        if d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        d.status = Some(status);
        self.update_status(d).await
    }

    async fn update_status(&self, d: &mut Deployment) -> Result<(), Error> {
        let api = Api::<Deployment>::namespaced(self.client.clone(), &d.namespace().unwrap_or_default());
        *d = api.replace_status(&d.name_any(), &params(), d).await?;
        Ok(())
    }
}
