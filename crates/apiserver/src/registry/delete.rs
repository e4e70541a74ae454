//! Delete: preconditions, graceful deletion, finalizers and propagation policy
//! (upstream's `Store.Delete` with `BeforeDelete`).

use super::{Registry, WriteOptions, keys, object, subject};
use crate::status::{ApiError, ApiResult};
use resources::ResourceDef;
use serde_json::{Value, json};

/// Parsed `DeleteOptions`.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `dryRun: ["All"]`, in the body (kubectl puts it there) or the query.
    pub dry_run: bool,
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

impl DeleteOptions {
    /// From a `DeleteOptions` body (JSON) merged with query parameters of the same names.
    pub fn from_body_and_query(body: Option<&Value>, query: &dyn Fn(&str) -> Option<String>) -> ApiResult<Self> {
        let get = |field: &str| body.and_then(|b| b.get(field));
        let grace = match query("gracePeriodSeconds") {
            Some(s) => Some(s.parse().map_err(|_| ApiError::BadRequest(format!("invalid gracePeriodSeconds {s:?}")))?),
            None => get("gracePeriodSeconds").and_then(Value::as_i64),
        };
        let mut propagation =
            query("propagationPolicy").or_else(|| get("propagationPolicy").and_then(Value::as_str).map(str::to_owned));
        // The deprecated `orphanDependents` flag means Orphan (or Background when false).
        if propagation.is_none() {
            let orphan = query("orphanDependents")
                .map(|s| s == "true")
                .or_else(|| get("orphanDependents").and_then(Value::as_bool));
            propagation = orphan.map(|o| if o { "Orphan" } else { "Background" }.to_owned());
        }
        if let Some(p) = &propagation
            && !["Orphan", "Background", "Foreground"].contains(&p.as_str())
        {
            return Err(ApiError::BadRequest(format!(
                "DeleteOptions.propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        let body_dry_run = match get("dryRun").and_then(Value::as_array) {
            None => false,
            Some(values) if values.iter().all(|v| v == "All") => !values.is_empty(),
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "Invalid dry run value: {other:?}; supported values: \"All\""
                )));
            }
        };
        let pre = |f: &str| get("preconditions").and_then(|p| p.get(f)).and_then(Value::as_str).map(str::to_owned);
        Ok(DeleteOptions {
            dry_run: body_dry_run,
            grace_period_seconds: grace,
            propagation_policy: propagation,
            precondition_uid: pre("uid"),
            precondition_resource_version: pre("resourceVersion"),
        })
    }
}

/// What a delete did.
#[derive(Debug)]
pub enum Deleted {
    /// The object is gone; this was its last state.
    Gone(Value),
    /// The object is marked for deletion and waits for finalizers or its kubelet.
    Pending(Value),
}

impl Registry {
    pub async fn delete(
        &self,
        def: &'static ResourceDef,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
        write: &WriteOptions,
    ) -> ApiResult<Deleted> {
        for _ in 0..16 {
            let (current, rev) = self.get_kv(def, namespace, name).await?;
            check_preconditions(def, name, &current, rev, opts)?;
            let attrs = super::admission::Attributes {
                operation: super::admission::Operation::Delete,
                def,
                namespace,
                name,
                subresource: super::Subresource::Main,
                user: &write.user,
                dry_run: write.dry_run,
            };
            self.admit(&attrs, &mut current.clone(), Some(&current)).await?;
            let mut marked = current.clone();
            let wait = mark_for_deletion(def, &mut marked, opts);
            if write.dry_run {
                return Ok(if wait { Deleted::Pending(marked) } else { Deleted::Gone(current) });
            }
            let key = keys::object_key(def, namespace, name);
            let result = if wait {
                if marked == current {
                    return Ok(Deleted::Pending(current));
                }
                let bytes = super::encode_for_store(def, &marked)?;
                self.store.update(&key, rev, bytes).await.map(|r| {
                    object::set_meta(&mut marked, "resourceVersion", Some(Value::String(r.to_string())));
                    Deleted::Pending(marked)
                })
            } else {
                self.store.delete(&key, rev).await.map(|r| {
                    let mut gone = current.clone();
                    object::set_meta(&mut gone, "resourceVersion", Some(Value::String(r.to_string())));
                    Deleted::Gone(gone)
                })
            };
            match result {
                Ok(Deleted::Gone(obj)) => {
                    if let Some(h) = self.hooks_for(def) {
                        h.release(&obj, None).await;
                    }
                    return Ok(Deleted::Gone(obj));
                }
                Ok(pending) => return Ok(pending),
                Err(storage::Error::Conflict { .. }) => continue,
                Err(storage::Error::NotFound(_)) => return Err(super::not_found(def, name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::stale(&def.group_resource(), name, subject(def, name)))
    }
}

fn check_preconditions(def: &ResourceDef, name: &str, obj: &Value, rev: i64, opts: &DeleteOptions) -> ApiResult<()> {
    if let Some(uid) = &opts.precondition_uid {
        let actual = object::meta_str(obj, "uid");
        if uid != actual {
            return Err(ApiError::Conflict {
                message: format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}",
                    def.group_resource()
                ),
                subject: subject(def, name),
                causes: Vec::new(),
            });
        }
    }
    if let Some(rv) = &opts.precondition_resource_version
        && *rv != rev.to_string()
    {
        return Err(ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {rev}",
                def.group_resource()
            ),
            subject: subject(def, name),
            causes: Vec::new(),
        });
    }
    Ok(())
}

/// Decide whether the object can go now. If not, set `deletionTimestamp` (and the
/// propagation finalizer or the pod's grace period) on `obj` and return true.
fn mark_for_deletion(def: &ResourceDef, obj: &mut Value, opts: &DeleteOptions) -> bool {
    let mut finalizers = object::finalizers(obj);
    let propagation_finalizer = match opts.propagation_policy.as_deref() {
        Some("Orphan") => Some("orphan"),
        Some("Foreground") => Some("foregroundDeletion"),
        _ => None,
    };
    if let Some(f) = propagation_finalizer
        && !finalizers.iter().any(|x| x == f)
        && !object::is_deleting(obj)
    {
        finalizers.push(f.to_owned());
    }
    let grace = def.strategy.graceful_delete_period(obj, opts.grace_period_seconds);
    if finalizers.is_empty() && grace == 0 && !def.strategy.blocks_deletion(obj) {
        return false;
    }
    let now = jiff::Timestamp::now();
    if !object::is_deleting(obj) {
        def.strategy.begin_deletion(obj);
        let at = now.checked_add(jiff::SignedDuration::from_secs(grace)).unwrap_or(now);
        object::set_meta(obj, "deletionTimestamp", Some(json!(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())));
        object::set_meta(obj, "deletionGracePeriodSeconds", Some(json!(grace)));
    } else if grace == 0 {
        // A second delete may shorten the grace period (`--force --grace-period=0`).
        object::set_meta(obj, "deletionGracePeriodSeconds", Some(json!(0)));
    }
    if !finalizers.is_empty() {
        object::set_meta(obj, "finalizers", Some(json!(finalizers)));
    }
    true
}
