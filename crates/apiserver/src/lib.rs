//! The Kubernetes API server: REST over HTTPS on the storage contract.
//!
//! A request goes [`server::serve`] (TLS, HTTP/2 or HTTP/1.1, client certificate →
//! user) → [`server::dispatch`] (parse [`request_info`], [`auth`]orize, route) →
//! a handler in [`handlers`] → the generic store in [`registry`], which asks the
//! resource's strategy (the `resources` crate) and writes through the `storage` crate.
//! Errors become `Status` objects only in [`status`].
//!
//! Start with [`Config`] and [`run`].

pub mod admission;
pub mod audit;
pub mod auth;
pub mod backend;
pub mod bootstrap;
pub mod handlers;
pub mod kubelet_client;
pub mod metrics;
pub mod negotiate;
pub mod registry;
pub mod request_info;
pub mod selectors;
pub mod server;
pub mod services;
pub mod status;

use anyhow::Context as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// How `krust server` runs the API server.
#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind_address: IpAddr,
    pub secure_port: u16,
    /// The Service cluster-IP range (`10.0.0.0/16`: the `kubernetes` Service is 10.0.0.1).
    pub service_cidr: String,
    /// Where to write the admin kubeconfig besides `<data-dir>/kubeconfig`.
    pub write_kubeconfig: Option<PathBuf>,
    /// Where to append the audit log (none: no audit log).
    pub audit_log_path: Option<PathBuf>,
    /// An `EncryptionConfiguration` file; none: Secrets are encrypted with a key
    /// generated into the data dir on first start.
    pub encryption_provider_config: Option<PathBuf>,
    /// Static bearer tokens (kube-apiserver's `--token-auth-file` CSV).
    pub token_auth_file: Option<PathBuf>,
    /// etcd endpoints to keep state in; empty: the embedded store in the data dir.
    pub etcd_servers: Vec<String>,
    /// The prefix of every key in etcd (`--etcd-prefix`).
    pub etcd_prefix: String,
}

/// A started API server.
pub struct Running {
    /// The address it listens on (with the real port when 0 was asked).
    pub address: SocketAddr,
    pub kubeconfig: PathBuf,
    pub state: Arc<server::ApiServer>,
    /// The cluster CA, for issuing the in-process components' client certificates.
    pub pki: pki::Pki,
}

/// The address clients use: the bind address, or loopback when bound to all.
fn client_address(bind: IpAddr) -> IpAddr {
    if bind.is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { bind }
}

/// Open the store, the PKI and the listener, bootstrap, and start serving.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let range = services::Cidr::parse(&config.service_cidr).map_err(anyhow::Error::msg)?;
    let service_ip = IpAddr::V4(range.nth(1));
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let pki_opts = pki::ServingOptions { service_ip, extra_ips: vec![config.bind_address], ..Default::default() };
    let pki = pki::Pki::load_or_create(&config.data_dir.join("pki"), &pki_opts).context("loading the cluster PKI")?;
    let metrics = Arc::new(metrics::Metrics::default());
    let store = backend::open(config, metrics.clone()).await?;

    let allocator = Arc::new(services::ServiceAllocator::new(range, store.clone()));
    let policy = Arc::new(auth::policy::PolicyStore::default());
    let registry = registry::Registry::new(store)
        .with_hooks("", "services", allocator.clone())
        .with_admission(Arc::new(admission::Chain::default_plugins(policy.clone())));
    if let Some(def) = resources::find("", "v1", "services") {
        let existing = registry.list(def, "", &registry::ListOptions::default()).await?;
        allocator.restore(&existing.items).await.context("restoring the Service allocations")?;
    }

    let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.bind_address, config.secure_port))
        .await
        .with_context(|| format!("binding {}:{}", config.bind_address, config.secure_port))?;
    let address = listener.local_addr()?;
    let client_ip = client_address(config.bind_address);
    let server_url = format!("https://{}", SocketAddr::new(client_ip, address.port()));
    let signing_key =
        authn::serviceaccount::SigningKey::load_or_create(pki.dir()).context("loading the service account key")?;
    let issuer = authn::serviceaccount::Issuer::new(authn::serviceaccount::DEFAULT_ISSUER, signing_key);
    let token_file = match &config.token_auth_file {
        Some(path) => Some(authn::TokenFile::load(path).with_context(|| format!("reading {}", path.display()))?),
        None => None,
    };
    let authenticator = auth::authenticate::Authenticator { token_file, service_accounts: issuer.validator() };
    let mut state = server::ApiServer::new(
        registry,
        authenticator,
        policy,
        issuer,
        metrics,
        SocketAddr::new(client_ip, address.port()).to_string(),
        kubelet_client::KubeletClient::new(pki.kubelet_client_tls_config()?),
    );
    if let Some(path) = &config.audit_log_path {
        state.audit =
            Some(audit::AuditLog::open(path).with_context(|| format!("opening audit log {}", path.display()))?);
    }
    let state = Arc::new(state);

    let kubeconfig = config.data_dir.join("kubeconfig");
    pki::kubeconfig::write_admin(&kubeconfig, &server_url, &pki)?;
    if let Some(extra) = &config.write_kubeconfig {
        pki::kubeconfig::write_admin(extra, &server_url, &pki)?;
    }

    let tls = Arc::new(pki.server_tls_config()?);
    tokio::spawn(server::serve(listener, tls, state.clone()));
    bootstrap::run(&state.registry, client_ip, address.port(), service_ip).await?;
    auth::policy::PolicyStore::bootstrap(&state.registry).await?;
    state.policy.reload(&state.registry).await?;
    state.policy.spawn_sync(state.registry.clone());
    state.nodes.start_sync(state.registry.clone()).await?;
    state.set_bootstrapped();
    Ok(Running { address, kubeconfig, state, pki })
}
