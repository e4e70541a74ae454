//! What can go wrong in the node agent, each variant saying which part failed.

use std::path::PathBuf;

/// Why the node agent could not do something.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("API request failed: {0}")]
    Api(#[from] kube::Error),
    /// A CRI call to containerd failed.
    #[error("CRI {call} failed: {status}")]
    Cri { call: &'static str, status: tonic::Status },
    /// containerd's socket could not be reached.
    #[error("connecting to the container runtime at {path}: {source}")]
    Connect { path: PathBuf, source: tonic::transport::Error },
    /// A file of the agent's could not be read or written.
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    /// containerd is not installed.
    #[error("containerd is not installed (apt-get install containerd runc containernetworking-plugins)")]
    NoContainerd,
    /// containerd did not come up.
    #[error("containerd did not start: {0}")]
    ContainerdStart(String),
    /// Importing an image archive failed.
    #[error("importing {path}: {message}")]
    Import { path: PathBuf, message: String },
    /// The kubelet API's TLS setup failed.
    #[error("the kubelet API's certificate: {0}")]
    Tls(#[from] pki::Error),
    /// The node's kubeconfig was not valid.
    #[error("building the node's client: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
}

impl Error {
    /// An I/O error on `path` while doing `what`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }

    /// A failed CRI `call`.
    pub fn cri(call: &'static str) -> impl FnOnce(tonic::Status) -> Error {
        move |status| Error::Cri { call, status }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
