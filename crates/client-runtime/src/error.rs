//! Why a component's client could not be built: the one fallible step of this crate (a
//! reconciler's failures are its own type, see [`crate::runner::Reconciler::Error`]).

/// Why [`crate::client::component_client`] could not build a client for `user`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster CA could not issue the certificate, or its kubeconfig could not be written.
    #[error("issuing the client certificate of {user}: {source}")]
    Certificate {
        user: String,
        #[source]
        source: pki::Error,
    },
    /// The kubeconfig holding the certificate could not be loaded.
    #[error("loading the kubeconfig of {user}: {source}")]
    Kubeconfig {
        user: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// kube-rs could not make a client of the configuration.
    #[error("creating the API client of {user}: {source}")]
    Client {
        user: String,
        #[source]
        source: kube::Error,
    },
}
