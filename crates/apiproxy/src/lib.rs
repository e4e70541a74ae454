//! `krust proxy`: the `kubectl proxy` of this project. It serves plain HTTP on a local
//! address and forwards every request to the API server with the credentials of a
//! kubeconfig or, inside a pod, of the mounted service account, so that
//! `curl localhost:8001/api/v1/pods` needs none (the ambassador pattern).
//!
//! Start with [`run`] and [`ProxyFlags`]; [`config`] finds the cluster, [`upstream`]
//! connects to it, [`filter`] decides what may pass and [`server`] forwards.

pub mod config;
pub mod filter;
pub mod kubeconfig;
pub mod server;
pub mod upstream;

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::ClusterAccess;
use crate::filter::Filter;
use crate::server::Proxy;
use crate::upstream::Upstream;

/// kubectl proxy's flags, with its defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyFlags {
    /// The port on which to run the proxy. Set to 0 to pick a random port.
    #[arg(short, long, default_value_t = 8001)]
    pub port: u16,
    /// The IP address on which to serve on.
    #[arg(long, default_value = "127.0.0.1")]
    pub address: String,
    /// Prefix to serve the proxied API under.
    #[arg(long, default_value = "/")]
    pub api_prefix: String,
    /// Regular expression for hosts that the proxy should accept.
    #[arg(long, default_value = filter::DEFAULT_ACCEPT_HOSTS)]
    pub accept_hosts: String,
    /// Regular expression for paths that the proxy should accept.
    #[arg(long, default_value = filter::DEFAULT_ACCEPT_PATHS)]
    pub accept_paths: String,
    /// Regular expression for paths that the proxy should reject. Paths specified here will be rejected even
    /// accepted by --accept-paths.
    #[arg(long, default_value = filter::DEFAULT_REJECT_PATHS)]
    pub reject_paths: String,
    /// Regular expression for HTTP methods that the proxy should reject (example --reject-methods='POST,PUT,PATCH').
    #[arg(long, default_value = filter::DEFAULT_REJECT_METHODS)]
    pub reject_methods: String,
    /// If true, disable request filtering in the proxy. This is dangerous, and can leave you vulnerable to XSRF
    /// attacks, when used with an accessible port.
    #[arg(long)]
    pub disable_filter: bool,
    /// Path to the kubeconfig file to use [default: $KUBECONFIG, ~/.kube/config, else the pod's service account].
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The name of the kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Setup(#[from] upstream::SetupError),
    /// A filter flag is not a valid regular expression.
    #[error("error compiling re: {0}")]
    Regex(#[from] regex::Error),
    /// The listening address could not be bound, or accepting failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the proxy: loads the cluster access, binds, prints `Starting to serve on ADDR`
/// (the real port when `--port 0`) on stdout, and serves until the process ends.
pub async fn run(flags: ProxyFlags) -> Result<(), Error> {
    let access = ClusterAccess::load(flags.kubeconfig.as_deref(), flags.context.as_deref())?;
    let filter = if flags.disable_filter {
        tracing::warn!("Request filter disabled, your proxy is vulnerable to XSRF attacks, please be cautious");
        None
    } else {
        Some(Filter::new(&flags.accept_paths, &flags.reject_paths, &flags.accept_hosts, &flags.reject_methods)?)
    };
    let proxy = Arc::new(Proxy::new(Upstream::new(&access)?, &flags.api_prefix, filter));
    let listener = tokio::net::TcpListener::bind((flags.address.as_str(), flags.port)).await?;
    println!("Starting to serve on {}", listener.local_addr()?);
    proxy.serve(listener).await?;
    Ok(())
}
