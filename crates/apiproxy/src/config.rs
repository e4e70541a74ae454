//! Where the API server is and how to authenticate to it, found as kubectl finds it: the
//! `--kubeconfig` file, else the `KUBECONFIG` list, else `~/.kube/config`, else (inside a
//! pod) the mounted service-account token and CA with `KUBERNETES_SERVICE_HOST`/`PORT`.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::kubeconfig::Kubeconfig;

/// Where a pod's service-account credentials are mounted.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A kubeconfig or a file it names could not be read.
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// A kubeconfig is not valid YAML of the expected shape.
    #[error("parsing kubeconfig {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// Base64 data in a kubeconfig does not decode.
    #[error("decoding {field}: {source}")]
    Base64 { field: &'static str, source: base64::DecodeError },
    /// No kubeconfig and not inside a pod (kubectl's `ErrEmptyConfig`).
    #[error(
        "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable"
    )]
    Empty,
    /// Neither `--context` nor `current-context` names a context.
    #[error("invalid configuration: no current context is set")]
    NoContext,
    #[error("context was not found for specified context: {0}")]
    ContextNotFound(String),
    #[error("cluster {0:?} was not found")]
    ClusterNotFound(String),
    #[error("invalid configuration: no server found for cluster")]
    NoServer,
    /// The server is not an `http(s)://host[:port]` URL.
    #[error("invalid server URL {0:?}")]
    BadServer(String),
    /// Certificates are always verified: this proxy refuses to run without verification.
    #[error("insecure-skip-tls-verify is not supported: give the cluster's certificate-authority instead")]
    Insecure,
    /// Only one of a client certificate and its key was given.
    #[error("client-certificate and client-key must be given together")]
    HalfClientCert,
    /// In-cluster mode was chosen but the service environment variables are missing.
    #[error(
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"
    )]
    NotInCluster,
}

/// How a request proves who it is, besides a client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    None,
    Token(String),
    /// Re-read periodically, as service-account tokens rotate.
    TokenFile(PathBuf),
    Basic {
        username: String,
        password: String,
    },
}

/// A client certificate chain and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Everything needed to reach and authenticate to one API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterAccess {
    /// `https://host:port` (or `http://` for a plain server).
    pub server: http::Uri,
    /// The name to verify the server's certificate against, when not the server's host.
    pub tls_server_name: Option<String>,
    /// The CA bundle (PEM) that must have signed the server's certificate; `None` means
    /// the system's trusted roots.
    pub ca_pem: Option<Vec<u8>>,
    pub client_cert: Option<ClientCert>,
    pub credential: Credential,
}

impl ClusterAccess {
    /// Loads the configuration by kubectl's rules (see the module docs) from the process environment.
    pub fn load(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<ClusterAccess, ConfigError> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let merged = match kubeconfig {
            Some(path) => Kubeconfig::read(path)?,
            None => {
                let paths: Vec<PathBuf> = match std::env::var_os("KUBECONFIG") {
                    Some(list) => std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect(),
                    None => env("HOME").map(|home| Path::new(&home).join(".kube/config")).into_iter().collect(),
                };
                let mut merged = Kubeconfig::default();
                for path in paths.iter().filter(|p| p.exists()) {
                    merged = merged.merge(Kubeconfig::read(path)?);
                }
                merged
            }
        };
        if merged.is_empty() && kubeconfig.is_none() && context.is_none() {
            return match ClusterAccess::in_cluster(Path::new(SERVICE_ACCOUNT_DIR), &env) {
                Err(ConfigError::NotInCluster) => Err(ConfigError::Empty),
                other => other,
            };
        }
        ClusterAccess::from_kubeconfig(&merged, context)
    }

    /// The cluster and user of `context` (default: the current context) in `config`.
    pub fn from_kubeconfig(config: &Kubeconfig, context: Option<&str>) -> Result<ClusterAccess, ConfigError> {
        let (cluster, user) = config.resolve(context)?;
        if cluster.server.is_empty() {
            return Err(ConfigError::NoServer);
        }
        if cluster.insecure_skip_tls_verify {
            return Err(ConfigError::Insecure);
        }
        let cert = data_or_file("client-certificate-data", user.client_certificate_data, user.client_certificate)?;
        let key = data_or_file("client-key-data", user.client_key_data, user.client_key)?;
        let client_cert = match (cert, key) {
            (Some(cert_pem), Some(key_pem)) => Some(ClientCert { cert_pem, key_pem }),
            (None, None) => None,
            _ => return Err(ConfigError::HalfClientCert),
        };
        let credential = match (user.token.filter(|t| !t.is_empty()), user.token_file, user.username) {
            (Some(token), _, _) => Credential::Token(token),
            (None, Some(file), _) => Credential::TokenFile(file),
            (None, None, Some(username)) => Credential::Basic { username, password: user.password.unwrap_or_default() },
            (None, None, None) => Credential::None,
        };
        Ok(ClusterAccess {
            server: parse_server(&cluster.server)?,
            tls_server_name: cluster.tls_server_name.filter(|n| !n.is_empty()),
            ca_pem: data_or_file(
                "certificate-authority-data",
                cluster.certificate_authority_data,
                cluster.certificate_authority,
            )?,
            client_cert,
            credential,
        })
    }

    /// A pod's view: the service-account token and CA under `dir` (normally
    /// [`SERVICE_ACCOUNT_DIR`]) and the API server from `KUBERNETES_SERVICE_HOST`/`PORT`,
    /// looked up through `env`.
    pub fn in_cluster(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<ClusterAccess, ConfigError> {
        let (Some(host), Some(port)) = (env("KUBERNETES_SERVICE_HOST"), env("KUBERNETES_SERVICE_PORT")) else {
            return Err(ConfigError::NotInCluster);
        };
        let token = dir.join("token");
        // Fail now, as client-go does, rather than on the first request.
        std::fs::metadata(&token).map_err(|source| ConfigError::Read { path: token.clone(), source })?;
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        Ok(ClusterAccess {
            server: parse_server(&format!("https://{host}:{port}"))?,
            tls_server_name: None,
            ca_pem: Some(read(&dir.join("ca.crt"))?),
            client_cert: None,
            credential: Credential::TokenFile(token),
        })
    }
}

fn parse_server(server: &str) -> Result<http::Uri, ConfigError> {
    let bad = || ConfigError::BadServer(server.to_string());
    let uri: http::Uri = server.parse().map_err(|_| bad())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https" | "http"), Some(host)) if !host.is_empty() => Ok(uri),
        _ => Err(bad()),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Read { path: path.into(), source })
}

/// Inline base64 data wins over a file reference, as in client-go.
fn data_or_file(
    field: &'static str,
    data: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<Vec<u8>>, ConfigError> {
    match (data.filter(|d| !d.is_empty()), file.filter(|f| !f.as_os_str().is_empty())) {
        (Some(data), _) => {
            STANDARD.decode(data.trim()).map(Some).map_err(|source| ConfigError::Base64 { field, source })
        }
        (None, Some(file)) => read(&file).map(Some),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_env(name: &str) -> Option<String> {
        match name {
            "KUBERNETES_SERVICE_HOST" => Some("10.0.0.1".into()),
            "KUBERNETES_SERVICE_PORT" => Some("443".into()),
            _ => None,
        }
    }

    #[test]
    fn in_cluster_uses_the_mounted_token_and_ca_and_the_service_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "sa-token").unwrap();
        std::fs::write(dir.path().join("ca.crt"), "CA PEM").unwrap();
        std::fs::write(dir.path().join("namespace"), "default").unwrap();
        let access = ClusterAccess::in_cluster(dir.path(), &pod_env).unwrap();
        assert_eq!(access.server, "https://10.0.0.1:443/");
        assert_eq!(access.ca_pem.as_deref(), Some(&b"CA PEM"[..]));
        assert_eq!(access.credential, Credential::TokenFile(dir.path().join("token")));
        assert_eq!(access.client_cert, None);
    }

    #[test]
    fn in_cluster_brackets_ipv6_and_needs_env_and_token() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(ClusterAccess::in_cluster(dir.path(), &|_| None), Err(ConfigError::NotInCluster)));
        assert!(matches!(ClusterAccess::in_cluster(dir.path(), &pod_env), Err(ConfigError::Read { .. })));
        std::fs::write(dir.path().join("token"), "t").unwrap();
        std::fs::write(dir.path().join("ca.crt"), "c").unwrap();
        let v6 = |name: &str| match name {
            "KUBERNETES_SERVICE_HOST" => Some("fd00::1".to_string()),
            other => pod_env(other),
        };
        assert_eq!(ClusterAccess::in_cluster(dir.path(), &v6).unwrap().server, "https://[fd00::1]:443/");
    }

    #[test]
    fn kubeconfig_data_files_and_tokens() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "CA FROM FILE").unwrap();
        let path = dir.path().join("config");
        let yaml = format!(
            "current-context: c\nclusters:\n- name: k\n  cluster: {{server: 'https://127.0.0.1:6443', certificate-authority: ca.crt}}\n\
             users:\n- name: u\n  user: {{token: abc, client-certificate-data: {}, client-key-data: {}}}\n\
             contexts:\n- name: c\n  context: {{cluster: k, user: u}}\n",
            STANDARD.encode("CERT"),
            STANDARD.encode("KEY")
        );
        std::fs::write(&path, yaml).unwrap();
        let access = ClusterAccess::load(Some(&path), None).unwrap();
        assert_eq!(access.ca_pem.as_deref(), Some(&b"CA FROM FILE"[..]));
        assert_eq!(access.credential, Credential::Token("abc".into()));
        assert_eq!(access.client_cert, Some(ClientCert { cert_pem: b"CERT".to_vec(), key_pem: b"KEY".to_vec() }));
    }

    #[test]
    fn insecure_clusters_are_refused() {
        let config: Kubeconfig = yaml_serde::from_str(
            "current-context: c\nclusters:\n- name: k\n  cluster: {server: 'https://h:1', insecure-skip-tls-verify: true}\n\
             contexts:\n- name: c\n  context: {cluster: k, user: u}\n",
        )
        .unwrap();
        assert!(matches!(ClusterAccess::from_kubeconfig(&config, None), Err(ConfigError::Insecure)));
    }
}
