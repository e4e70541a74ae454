//! The service accounts controller (upstream's `serviceaccount-controller`): every active
//! namespace has a `default` ServiceAccount, created when a namespace appears and again
//! whenever it is deleted.

use crate::{Error, FIELD_MANAGER};
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::sync::Arc;

/// The service accounts every namespace gets (upstream's `ServiceAccountsToEnsure`).
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// upstream's `--concurrent-serviceaccount-syncs` is 5.
const WORKERS: usize = 2;

pub struct ServiceAccountsController {
    client: Client,
    namespaces: Store<Namespace>,
    service_accounts: Store<ServiceAccount>,
}

/// Watch namespaces and service accounts and keep every namespace's `default`. Runs until
/// cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let (namespaces, service_accounts) = (informers.all::<Namespace>(), informers.all::<ServiceAccount>());
    let queue = WorkQueue::new();
    let controller = Arc::new(ServiceAccountsController {
        client: client.clone(),
        namespaces: namespaces.store(),
        service_accounts: service_accounts.store(),
    });
    namespaces.queue_changes(&queue, |ns| ns.name_any());
    service_accounts.queue_changes(&queue, |sa| sa.namespace().unwrap_or_default());
    let synced = async { namespaces.synced().await && service_accounts.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl Reconciler for ServiceAccountsController {
    /// A namespace's name.
    type Key = String;
    type Error = Error;
    const NAME: &'static str = "serviceaccount";

    async fn reconcile(&self, namespace: &String) -> Result<Action, Error> {
        let Some(ns) = self.namespaces.get(&ObjectRef::new(namespace)) else { return Ok(Action::Done) };
        let exists = self.service_accounts.get(&ObjectRef::new(DEFAULT_SERVICE_ACCOUNT).within(namespace)).is_some();
        if !needs_default(&ns, exists) {
            return Ok(Action::Done);
        }
        let sa = ServiceAccount {
            metadata: ObjectMeta { name: Some(DEFAULT_SERVICE_ACCOUNT.to_owned()), ..Default::default() },
            ..Default::default()
        };
        let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
        match Api::<ServiceAccount>::namespaced(self.client.clone(), namespace).create(&params, &sa).await {
            Ok(_) => Ok(Action::Done),
            Err(kube::Error::Api(s)) if s.is_already_exists() || is_namespace_terminating(&s) => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }

    fn error_policy(&self, _namespace: &String, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

/// Only an active namespace gets service accounts; a terminating one would refuse them.
fn needs_default(ns: &Namespace, default_exists: bool) -> bool {
    let active = ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Active");
    active && ns.metadata.deletion_timestamp.is_none() && !default_exists
}

/// Whether a create was refused because its namespace is being deleted (upstream's
/// `NamespaceTerminating` status cause, or failing that its message).
pub(crate) fn is_namespace_terminating(status: &kube::core::Status) -> bool {
    let cause = status.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating"));
    status.is_forbidden() && (cause || status.message.contains("because it is being terminated"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NamespaceStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn namespace(phase: &str, deleting: bool) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some("team".into()),
                deletion_timestamp: deleting.then(|| Time(jiff::Timestamp::now())),
                ..Default::default()
            },
            status: Some(NamespaceStatus { phase: Some(phase.into()), conditions: None }),
            ..Default::default()
        }
    }

    #[test]
    fn an_active_namespace_without_default_gets_one() {
        assert!(needs_default(&namespace("Active", false), false));
        assert!(!needs_default(&namespace("Active", false), true));
    }

    #[test]
    fn a_terminating_namespace_gets_none() {
        assert!(!needs_default(&namespace("Terminating", true), false));
        assert!(!needs_default(&namespace("Active", true), false));
        assert!(!needs_default(&Namespace::default(), false));
    }

    #[test]
    fn terminating_refusals_are_recognised() {
        let refused = kube::core::Status::failure(
            "serviceaccounts \"default\" is forbidden: unable to create new content in namespace team because it is being terminated",
            "Forbidden",
        )
        .with_code(403);
        assert!(is_namespace_terminating(&refused));
        let other =
            kube::core::Status::failure("serviceaccounts is forbidden: User cannot create", "Forbidden").with_code(403);
        assert!(!is_namespace_terminating(&other));
    }
}
