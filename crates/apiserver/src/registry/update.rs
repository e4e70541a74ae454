//! Update: read, change, check, compare-and-swap, retried on a lost race unless the
//! client pinned a resourceVersion (upstream's `GuaranteedUpdate`). PUT, PATCH, the
//! status and scale subresources and finalizer removal all go through here.

use super::create::decode;
use super::{Registry, WriteOptions, Written, encode_for_store, keys, object, subject};
use crate::status::{ApiError, ApiResult};
use resources::ResourceDef;
use serde_json::Value;

/// Which part of the object a write replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// The main resource: everything but `status` (for kinds with a status subresource).
    Main,
    /// `/status`: only `status`.
    Status,
    /// `pods/binding`: only `spec.nodeName`, which no ordinary update may change.
    Binding,
    /// `namespaces/finalize`: only `spec.finalizers`.
    Finalize,
    /// `/scale`: a main-resource write of `spec.replicas`, owned in managedFields
    /// under the `scale` subresource.
    Scale,
    /// `pods/ephemeralcontainers`: only `spec.ephemeralContainers` changes.
    EphemeralContainers,
}

/// Why one update attempt failed.
enum UpdateError {
    /// Another write got there first (compare-and-swap lost).
    Lost,
    Api(ApiError),
}

impl From<ApiError> for UpdateError {
    fn from(e: ApiError) -> Self {
        UpdateError::Api(e)
    }
}

/// How many times a write retries after losing a compare-and-swap race.
const MAX_RETRIES: usize = 16;

impl Registry {
    /// Replace an object (PUT) with `body`.
    pub async fn update(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        name: &str,
        sub: Subresource,
        body: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Written> {
        self.guaranteed_update(def, namespace, name, sub, opts, |_| Ok(body.clone())).await
    }

    /// Apply `mutate` to the current object and store the result, retrying on conflicts.
    /// `mutate` returns the full new object (as a client would PUT it).
    pub async fn guaranteed_update(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        name: &str,
        sub: Subresource,
        opts: &WriteOptions,
        mut mutate: impl FnMut(&Value) -> ApiResult<Value>,
    ) -> ApiResult<Written> {
        for _ in 0..MAX_RETRIES {
            let (old, rev) = self.get_kv(def, namespace, name).await?;
            let proposed = mutate(&old)?;
            let pinned = requested_revision(&proposed)?;
            if pinned.is_some_and(|p| p != rev) {
                return Err(ApiError::stale(&def.group_resource(), name, subject(def, name)));
            }
            let (mut new, warnings) = decode(def, proposed, opts.field_validation)?;
            let attempt = self.try_update(def, namespace, name, sub, opts, rev, &mut new, &old).await;
            let hooks = self.hooks_for(def);
            match attempt {
                Ok(true) => {
                    if let (Some(h), true) = (hooks, opts.dry_run) {
                        h.release(&new, Some(&old)).await;
                    }
                    return Ok(Written { object: new, warnings });
                }
                Ok(false) => return Ok(Written { object: old, warnings }),
                Err(e) => {
                    // Whatever the hooks took for `new` and `old` did not hold goes back.
                    if let Some(h) = hooks {
                        h.release(&new, Some(&old)).await;
                    }
                    match e {
                        UpdateError::Lost if pinned.is_none() => continue,
                        UpdateError::Lost => {
                            return Err(ApiError::stale(&def.group_resource(), name, subject(def, name)));
                        }
                        UpdateError::Api(e) => return Err(e),
                    }
                }
            }
        }
        Err(ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": too many concurrent updates",
                def.group_resource()
            ),
            subject: subject(def, name),
            causes: Vec::new(),
        })
    }

    /// Prepare, validate and store one attempt. Ok(false): nothing changed, no write.
    #[allow(clippy::too_many_arguments)]
    async fn try_update(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        name: &str,
        sub: Subresource,
        opts: &WriteOptions,
        rev: i64,
        new: &mut Value,
        old: &Value,
    ) -> Result<bool, UpdateError> {
        self.prepare_update(def, namespace, name, sub, new, old).await?;
        if new == old {
            return Ok(false);
        }
        let attrs = super::admission::Attributes {
            operation: super::admission::Operation::Update,
            def,
            namespace,
            name,
            subresource: sub,
            user: &opts.user,
            dry_run: opts.dry_run,
        };
        self.admit(&attrs, new, Some(old)).await?;
        // A binding changes only what the scheduler may change, checked by its handler.
        let errs = match sub {
            Subresource::Binding => Vec::new(),
            // Adding ephemeral containers is the one spec change this subresource makes
            // (checked in prepare); the rest of the pod is validated as unchanged.
            Subresource::EphemeralContainers => {
                let mut before = old.clone();
                before["spec"]["ephemeralContainers"] = new["spec"]["ephemeralContainers"].clone();
                def.strategy.validate_update(new, &before)
            }
            _ => def.strategy.validate_update(new, old),
        };
        if !errs.is_empty() {
            return Err(ApiError::invalid(def.kind, def.group, name, &errs, subject(def, name)).into());
        }
        if !opts.applied {
            track_managed_fields(def, sub, Some(old), new, &opts.field_manager);
        }
        if opts.dry_run {
            return Ok(true);
        }
        match self.commit_update(def, namespace, name, rev, new, old).await {
            Ok(()) => Ok(true),
            Err(storage::Error::Conflict { .. }) => Err(UpdateError::Lost),
            Err(storage::Error::NotFound(_)) => Err(super::not_found(def, name).into()),
            Err(e) => Err(ApiError::from(e).into()),
        }
    }

    /// Store `new` over revision `rev`; a deleting object whose last finalizer went is
    /// removed instead (what `kubectl delete --wait` then sees as DELETED).
    async fn commit_update(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        name: &str,
        rev: i64,
        new: &mut Value,
        old: &Value,
    ) -> Result<(), storage::Error> {
        let key = keys::object_key(def, namespace, name);
        if object::is_deleting(new)
            && object::finalizers(new).is_empty()
            && grace_period_over(new)
            && !def.strategy.blocks_deletion(new)
        {
            let deleted = self.store.delete(&key, rev).await?;
            object::set_meta(new, "resourceVersion", Some(Value::String(deleted.to_string())));
            if let Some(h) = self.hooks_for(def) {
                h.release(new, None).await;
            }
            return Ok(());
        }
        let bytes = encode_for_store(def, new).map_err(|e| storage::Error::Backend(e.to_string()))?;
        let new_rev = self.store.update(&key, rev, bytes).await?;
        object::set_meta(new, "resourceVersion", Some(Value::String(new_rev.to_string())));
        if let Some(h) = self.hooks_for(def) {
            h.release(old, Some(new)).await;
        }
        Ok(())
    }

    /// Upstream's `BeforeUpdate`: identity checks, system metadata kept from `old`,
    /// status/spec split, defaults, the strategy's preparation, generation, hooks.
    async fn prepare_update(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        name: &str,
        sub: Subresource,
        new: &mut Value,
        old: &Value,
    ) -> ApiResult<()> {
        let body_name = object::name(new);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let body_ns = object::meta_str(new, "namespace");
        if def.namespaced && !body_ns.is_empty() && body_ns != namespace {
            return Err(ApiError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request".to_owned(),
            ));
        }
        let body_uid = object::meta_str(new, "uid");
        if !body_uid.is_empty() && body_uid != object::meta_str(old, "uid") {
            return Err(ApiError::Conflict {
                message: format!(
                    "Precondition failed: UID in precondition: {body_uid}, UID in object meta: {}",
                    object::meta_str(old, "uid")
                ),
                subject: subject(def, name),
                causes: Vec::new(),
            });
        }
        if sub == Subresource::Finalize {
            let finalizers = new.pointer("/spec/finalizers").cloned().unwrap_or(Value::Array(Vec::new()));
            *new = old.clone();
            new["spec"]["finalizers"] = finalizers;
            return Ok(());
        }
        if sub == Subresource::EphemeralContainers {
            let wanted = new.pointer("/spec/ephemeralContainers").cloned().unwrap_or(Value::Array(Vec::new()));
            let existing =
                old.pointer("/spec/ephemeralContainers").and_then(Value::as_array).cloned().unwrap_or_default();
            // Ephemeral containers can be added, never changed or removed (upstream's rule).
            for container in &existing {
                let container_name = &container["name"];
                if !wanted.as_array().is_some_and(|w| w.iter().any(|c| c == container)) {
                    let path = resources::FieldPath::new("spec.ephemeralContainers");
                    let errs = [resources::FieldError::forbidden(
                        &path,
                        format!("existing ephemeral containers {container_name} may not be changed"),
                    )];
                    return Err(ApiError::invalid(def.kind, def.group, name, &errs, subject(def, name)));
                }
            }
            *new = old.clone();
            new["spec"]["ephemeralContainers"] = wanted;
            return Ok(());
        }
        if sub == Subresource::Binding {
            let node = new.pointer("/spec/nodeName").cloned().unwrap_or(Value::Null);
            *new = old.clone();
            new["spec"]["nodeName"] = node;
            mark_scheduled(new);
            return Ok(());
        }
        if sub == Subresource::Status {
            // Only status changes, and annotations: upstream's status strategies keep
            // the new annotations (the deployment controller records its revision so).
            let status = new.get("status").cloned();
            let annotations = object::metadata(new).and_then(|m| m.get("annotations")).cloned();
            *new = old.clone();
            object::set_meta(new, "annotations", annotations);
            match status {
                Some(s) => new["status"] = s,
                None => {
                    new.as_object_mut().map(|o| o.remove("status"));
                }
            }
            return Ok(());
        }
        object::set_meta(new, "name", Some(Value::String(name.to_owned())));
        if def.namespaced {
            object::set_meta(new, "namespace", Some(Value::String(namespace.to_owned())));
        }
        for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
            let kept = object::metadata(old).and_then(|m| m.get(field)).cloned();
            object::set_meta(new, field, kept);
        }
        if object::metadata(new).is_none_or(|m| !m.contains_key("managedFields")) {
            let kept = object::metadata(old).and_then(|m| m.get("managedFields")).cloned();
            object::set_meta(new, "managedFields", kept);
        }
        object::set_meta(new, "resourceVersion", object::metadata(old).and_then(|m| m.get("resourceVersion")).cloned());
        if def.has(resources::Subresource::Status) {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    new.as_object_mut().map(|o| o.remove("status"));
                }
            }
        }
        def.strategy.default(new);
        def.strategy.prepare_for_update(new, old);
        if def.strategy.tracks_generation() && object::spec_part(new) != object::spec_part(old) {
            let generation =
                object::metadata(old).and_then(|m| m.get("generation")).and_then(Value::as_i64).unwrap_or(0);
            object::set_meta(new, "generation", Some((generation + 1).into()));
        }
        if let Some(h) = self.hooks_for(def) {
            h.before_update(new, old).await?;
        }
        Ok(())
    }
}

/// A bound pod's `PodScheduled` condition turns True, as upstream's binding sets it.
fn mark_scheduled(pod: &mut Value) {
    let condition = serde_json::json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": object::now_rfc3339(),
    });
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = serde_json::json!({});
    }
    let status = &mut pod["status"];
    if !status.get("conditions").is_some_and(Value::is_array) {
        status["conditions"] = serde_json::json!([]);
    }
    let conditions = status["conditions"].as_array_mut().expect("made an array above");
    conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
    conditions.push(condition);
}

/// Pods with a grace period left are removed by their kubelet, not by the last
/// finalizer going.
fn grace_period_over(obj: &Value) -> bool {
    object::metadata(obj).and_then(|m| m.get("deletionGracePeriodSeconds")).and_then(Value::as_i64).unwrap_or(0) == 0
}

/// The resourceVersion a client pinned in the body, if any.
fn requested_revision(obj: &Value) -> ApiResult<Option<i64>> {
    match object::meta_str(obj, "resourceVersion") {
        "" => Ok(None),
        rv => rv
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("invalid resourceVersion {rv:?}: not a number"))),
    }
}

/// Record `manager`'s ownership of what this write changed in `metadata.managedFields`
/// (an `Update` entry), as upstream's field manager does for every non-apply write.
pub(super) fn track_managed_fields(
    def: &ResourceDef,
    sub: Subresource,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
) {
    if manager.is_empty() {
        return;
    }
    let schema = resources::merge::ResourceSchema::served();
    let root = resources::merge::ResourceSchema::root(def.definition);
    let (api_version, now) = (def.api_version(), object::now_rfc3339());
    let fm = patch::FieldManager::new(&schema, &root, manager, &api_version, &now);
    let fm = match sub {
        Subresource::Status => fm.subresource("status").ignoring(&[&["spec"], &["metadata"]]),
        Subresource::Scale => fm.subresource("scale").ignoring(&[&["status"]]),
        Subresource::EphemeralContainers => fm.subresource("ephemeralcontainers").ignoring(&[&["status"]]),
        _ if def.has(resources::Subresource::Status) => fm.ignoring(&[&["status"]]),
        _ => fm,
    };
    fm.track_update(old, new);
}
