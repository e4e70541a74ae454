//! The controller manager: Kubernetes controllers that run as ordinary API clients of the
//! Krust API server (they never touch its store).
//!
//! Every controller is a [`client_runtime::runner::Reconciler`] fed by the shared
//! [`client_runtime::runner`] loop (shared [`client_runtime::informers`] (one watch and
//! cache per type for all controllers) → de-duplicating, rate-limited
//! [`client_runtime::queue::WorkQueue`] → workers):
//! - [`garbagecollector`]: ownerReferences, the `orphan` and `foregroundDeletion`
//!   finalizers, and deleting objects whose owners are gone;
//! - [`namespace`]: empties a deleted namespace and removes its `kubernetes` finalizer;
//! - [`serviceaccount`]: every active namespace has a `default` ServiceAccount;
//! - [`root_ca_publisher`]: every namespace has the `kube-root-ca.crt` ConfigMap;
//! - [`serviceaccount_token`]: legacy token Secrets get their token, CA and namespace;
//! - [`clusterrole_aggregation`]: ClusterRoles with an `aggregationRule` hold the rules of
//!   the roles they select;
//! - [`replicaset`]: ReplicaSets and ReplicationControllers keep their number of pods;
//! - [`deployment`]: Deployments roll out through ReplicaSets;
//! - [`job`]: Jobs run pods to completion, and finished Jobs expire after their TTL;
//! - [`cronjob`]: CronJobs start Jobs on a cron schedule;
//! - [`node_lifecycle`]: silent nodes go `Unknown` and get tainted; [`taint_eviction`]
//!   removes the pods that do not tolerate a `NoExecute` taint;
//! - [`disruption`]: PodDisruptionBudget status;
//! - [`podgc`]: deletes pods of vanished nodes and excess finished pods;
//! - [`statefulset`]: StatefulSets keep ordered pods with stable names and claims;
//! - [`daemonset`]: DaemonSets run one pod on every eligible node;
//! - [`endpoints`], [`endpointslice`]: a selecting Service's Endpoints and EndpointSlices;
//! - [`node_ipam`]: every node gets a pod range from the cluster CIDR;
//! - [`local_path`]: the default StorageClass `local-path` and its volumes on nodes.
//!
//! Start with [`client`], [`Context`] and [`run`].

pub mod clusterrole_aggregation;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod discovery;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod garbagecollector;
pub mod history;
pub mod job;
pub mod local_path;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod ownership;
pub mod podgc;
pub mod replicaset;
pub mod root_ca_publisher;
pub mod serviceaccount;
pub mod serviceaccount_token;
pub mod statefulset;
pub mod taint_eviction;

use client_runtime::informers;
use std::future::Future;
use std::path::PathBuf;

/// The user the API server knows the controller manager as.
pub const USER: &str = "system:kube-controller-manager";
/// The field manager of the controllers' writes, as upstream's user agent makes it.
pub const FIELD_MANAGER: &str = "kube-controller-manager";

/// A client for the API server at `server_url` (`https://host:port`), authenticated as
/// [`USER`] with a certificate freshly issued by `pki`'s CA, trusting that CA.
pub async fn client(pki: &pki::Pki, server_url: &str) -> Result<kube::Client, Error> {
    Ok(client_runtime::client::component_client(pki, server_url, USER, &[]).await?)
}

/// Why a controller could not finish a step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error("building the controller manager's client: {0}")]
    Client(#[from] client_runtime::Error),
    #[error("unable to find a served resource for {api_version}, Kind={kind}")]
    UnknownKind { api_version: String, kind: String },
    #[error("{0}")]
    Content(String),
    #[error("loading the service account signing key: {0}")]
    SigningKey(#[from] authn::serviceaccount::KeyError),
    #[error(transparent)]
    Mint(#[from] authn::serviceaccount::MintError),
}

/// What the controllers need besides the API: the cluster's CA and where its keys are.
#[derive(Clone)]
pub struct Context {
    pub client: kube::Client,
    /// The cluster CA certificate (PEM), published to namespaces and token Secrets.
    pub root_ca_pem: String,
    /// The PKI directory, where the API server's service account signing key is.
    pub pki_dir: PathBuf,
    /// The range node pod ranges come from (`--cluster-cidr`).
    pub cluster_cidr: node_ipam::ClusterCidr,
    /// How long a node's kubelet may be silent before the node goes `Unknown`.
    pub node_monitor_grace_period: std::time::Duration,
    /// The shared watches and caches of the controllers; [`run`] gives each run fresh ones.
    pub informers: informers::Informers,
}

impl Context {
    /// The context of a controller manager using `client` in the cluster of `pki`.
    pub fn new(client: kube::Client, pki: &pki::Pki) -> Context {
        Context {
            root_ca_pem: pki.ca_pem().to_owned(),
            pki_dir: pki.dir().to_path_buf(),
            cluster_cidr: node_ipam::ClusterCidr::default(),
            node_monitor_grace_period: node_lifecycle::DEFAULT_GRACE_PERIOD,
            informers: informers::Informers::new(client.clone()),
            client,
        }
    }
}

/// Starts one controller on a copy of the context.
type Start = fn(Context) -> futures::future::BoxFuture<'static, Result<(), Error>>;

/// Every controller, by its upstream name (kube-controller-manager's `--controllers` names).
pub const CONTROLLERS: &[(&str, Start)] = &[
    ("garbage-collector-controller", |c| Box::pin(garbagecollector::run(c.client))),
    ("namespace-controller", |c| Box::pin(namespace::run(c.client, c.informers))),
    ("serviceaccount-controller", |c| Box::pin(serviceaccount::run(c.client, c.informers))),
    ("root-ca-certificate-publisher-controller", |c| {
        Box::pin(root_ca_publisher::run(c.client, c.informers, c.root_ca_pem))
    }),
    ("serviceaccount-token-controller", |c| {
        Box::pin(async move { serviceaccount_token::run(c.client, c.informers, &c.root_ca_pem, &c.pki_dir).await })
    }),
    ("clusterrole-aggregation-controller", |c| Box::pin(clusterrole_aggregation::run(c.client, c.informers))),
    ("node-lifecycle-controller", |c| {
        Box::pin(node_lifecycle::run(c.client, c.informers, c.node_monitor_grace_period))
    }),
    ("disruption-controller", |c| Box::pin(disruption::run(c.client, c.informers))),
    ("pod-garbage-collector-controller", |c| {
        Box::pin(podgc::run(c.client, c.informers, podgc::TERMINATED_POD_THRESHOLD))
    }),
    ("deployment-controller", |c| Box::pin(deployment::run(c.client, c.informers))),
    ("job-controller", |c| Box::pin(job::run(c.client, c.informers))),
    ("cronjob-controller", |c| Box::pin(cronjob::run(c.client, c.informers))),
    ("endpoints-controller", |c| Box::pin(endpoints::run(c.client, c.informers))),
    ("endpointslice-controller", |c| Box::pin(endpointslice::run(c.client, c.informers))),
    ("node-ipam-controller", |c| Box::pin(node_ipam::run(c.client, c.informers, c.cluster_cidr))),
    ("statefulset-controller", |c| Box::pin(statefulset::run(c.client, c.informers))),
    ("daemonset-controller", |c| Box::pin(daemonset::run(c.client, c.informers))),
    ("replicaset-controller", |c| {
        Box::pin(replicaset::run::<k8s_openapi::api::apps::v1::ReplicaSet>(c.client, c.informers))
    }),
    ("local-path-provisioner", |c| Box::pin(local_path::run(c.client, c.informers))),
    ("replicationcontroller-controller", |c| {
        Box::pin(replicaset::run::<k8s_openapi::api::core::v1::ReplicationController>(c.client, c.informers))
    }),
];

/// The upstream name of the controller a user means by `name`: either that name or it
/// without the `-controller` suffix (`deployment` for `deployment-controller`).
pub fn controller_named(name: &str) -> Option<&'static str> {
    CONTROLLERS
        .iter()
        .map(|(known, _)| *known)
        .find(|known| *known == name || known.strip_suffix("-controller") == Some(name))
}

/// Run every controller not in `disabled` (upstream names) until `shutdown` resolves (or
/// one of them fails to start). Each runs as a task of its own: joined in one task, their
/// futures overflow a worker's stack. The controllers share one set of informers, which
/// stops with them.
pub async fn run(mut context: Context, disabled: &[String], shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    context.informers = informers::Informers::new(context.client.clone());
    let mut controllers = tokio::task::JoinSet::new();
    for (name, start) in CONTROLLERS {
        if !disabled.iter().any(|d| d == name) {
            controllers.spawn(start(context.clone()));
        }
    }
    let first_failure = async {
        while let Some(joined) = controllers.join_next().await {
            match joined {
                Ok(Err(error)) => return Err(error),
                Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
                _ => {}
            }
        }
        Ok(())
    };
    tokio::select! {
        result = first_failure => result,
        () = shutdown => Ok(()),
    }
}
