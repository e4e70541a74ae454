//! The namespace controller (upstream's `NamespaceController`): a namespace with a
//! deletionTimestamp becomes `Terminating`, its [`content`] is deleted with the outcome
//! reported as [`conditions`], and once it is empty the `kubernetes` finalizer is removed
//! through `namespaces/{name}/finalize`, after which the API server removes the namespace.

pub mod conditions;
pub mod content;

use crate::Error;
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::sync::Arc;

/// The finalizer this controller owns in `spec.finalizers`.
pub const FINALIZER: &str = "kubernetes";
/// Namespaces emptied at once (upstream's `--concurrent-namespace-syncs` is 10).
const WORKERS: usize = 2;

pub struct NamespaceController {
    client: Client,
    cache: Store<Namespace>,
}

/// Watch namespaces and process the deleted ones. Runs until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let namespaces = informers.all::<Namespace>();
    let queue = WorkQueue::new();
    let controller = Arc::new(NamespaceController { client: client.clone(), cache: namespaces.store() });
    namespaces.queue_changes(&queue, |ns| ns.name_any());
    run_workers(controller, queue, WORKERS).await;
    Ok(())
}

impl Reconciler for NamespaceController {
    type Key = String;
    type Error = Error;
    const NAME: &'static str = "namespace";

    async fn reconcile(&self, name: &String) -> Result<Action, Error> {
        let deleting = self.cache.get(&ObjectRef::new(name)).is_some_and(|ns| ns.metadata.deletion_timestamp.is_some());
        if !deleting {
            return Ok(Action::Done);
        }
        let api: Api<Namespace> = Api::all(self.client.clone());
        let Some(mut ns) = api.get_opt(name).await? else { return Ok(Action::Done) };
        let Some(deleted_at) = ns.metadata.deletion_timestamp.clone() else { return Ok(Action::Done) };
        let status = ns.status.get_or_insert_with(Default::default);
        if status.phase.as_deref() != Some("Terminating") {
            status.phase = Some("Terminating".to_owned());
            ns = api.replace_status(name, &PostParams::default(), &ns).await?;
        }
        if !has_finalizer(&ns) {
            return Ok(Action::Done);
        }

        let pass = content::delete_all(&self.client, name, deleted_at.0).await;
        let now = Time(jiff::Timestamp::now());
        let failures = pass.findings.failures(&now);
        if conditions::update(ns.status.get_or_insert_with(Default::default), &failures, &now) {
            ns = api.replace_status(name, &PostParams::default(), &ns).await?;
        }
        let findings = &pass.findings;
        if let Some(e) = &findings.discovery_error {
            return Err(Error::Content(e.clone()));
        }
        if !findings.delete_errors.is_empty() {
            return Err(Error::Content(findings.delete_errors.join(", ")));
        }
        if !findings.remaining.is_empty() {
            return Ok(Action::RequeueAfter(pass.estimate));
        }
        finalize(&self.client, ns).await?;
        Ok(Action::Done)
    }

    fn error_policy(&self, _name: &String, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

fn has_finalizer(ns: &Namespace) -> bool {
    ns.spec.as_ref().and_then(|s| s.finalizers.as_ref()).is_some_and(|f| f.iter().any(|f| f == FINALIZER))
}

/// Remove [`FINALIZER`] from `spec.finalizers` through the `finalize` subresource.
async fn finalize(client: &Client, mut ns: Namespace) -> Result<(), Error> {
    let name = ns.name_any();
    if let Some(finalizers) = ns.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
        finalizers.retain(|f| f != FINALIZER);
    }
    let body = serde_json::to_vec(&ns).map_err(|e| Error::Content(e.to_string()))?;
    let request = kube::core::Request::new("/api/v1/namespaces")
        .replace_subresource("finalize", &name, &PostParams::default(), body)
        .map_err(|e| Error::Content(e.to_string()))?;
    match client.request::<Namespace>(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NamespaceSpec;

    #[test]
    fn only_the_kubernetes_finalizer_is_ours() {
        let with = |f: &[&str]| Namespace {
            spec: Some(NamespaceSpec { finalizers: Some(f.iter().map(|s| (*s).to_owned()).collect()) }),
            ..Default::default()
        };
        assert!(has_finalizer(&with(&["kubernetes"])));
        assert!(!has_finalizer(&with(&["example.com/other"])));
        assert!(!has_finalizer(&Namespace::default()));
    }
}
