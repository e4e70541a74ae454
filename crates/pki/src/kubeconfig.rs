//! Kubeconfig files: the standard `kind: Config` YAML that kubectl and client libraries read, with the CA,
//! client certificate and key embedded as base64 data.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::files::{self, KEY_MODE};
use crate::{Pki, Result};

/// The name of the cluster (and of the context) in kubeconfigs Krust writes.
pub const CLUSTER_NAME: &str = "krust";
const ADMIN_USER: &str = "admin";

/// A kubeconfig with one cluster, one user and one context joining them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub clusters: Vec<NamedCluster>,
    pub users: Vec<NamedUser>,
    pub contexts: Vec<NamedContext>,
    pub current_context: String,
    #[serde(default)]
    pub preferences: Preferences,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    pub cluster: Cluster,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    pub server: String,
    /// The CA certificate PEM, base64-encoded.
    pub certificate_authority_data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedUser {
    pub name: String,
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct User {
    /// The client certificate PEM, base64-encoded.
    pub client_certificate_data: String,
    /// The client key PEM, base64-encoded.
    pub client_key_data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedContext {
    pub name: String,
    pub context: Context,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub cluster: String,
    pub user: String,
}

/// Always empty; written because kubectl's own files carry `preferences: {}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {}

impl Kubeconfig {
    /// A kubeconfig for `user_name` authenticating with a client certificate to the cluster `krust` at `server`;
    /// the context is also named `krust` and is the current one. All PEM arguments are given as PEM text.
    pub fn new(server: &str, ca_pem: &str, client_cert_pem: &str, client_key_pem: &str, user_name: &str) -> Self {
        Kubeconfig {
            api_version: "v1".to_string(),
            kind: "Config".to_string(),
            clusters: vec![NamedCluster {
                name: CLUSTER_NAME.to_string(),
                cluster: Cluster { server: server.to_string(), certificate_authority_data: STANDARD.encode(ca_pem) },
            }],
            users: vec![NamedUser {
                name: user_name.to_string(),
                user: User {
                    client_certificate_data: STANDARD.encode(client_cert_pem),
                    client_key_data: STANDARD.encode(client_key_pem),
                },
            }],
            contexts: vec![NamedContext {
                name: CLUSTER_NAME.to_string(),
                context: Context { cluster: CLUSTER_NAME.to_string(), user: user_name.to_string() },
            }],
            current_context: CLUSTER_NAME.to_string(),
            preferences: Preferences::default(),
        }
    }

    pub fn to_yaml(&self) -> Result<String> {
        Ok(yaml_serde::to_string(self)?)
    }

    pub fn from_yaml(yaml: &str) -> Result<Self> {
        Ok(yaml_serde::from_str(yaml)?)
    }

    /// Writes the kubeconfig to `path` with mode 0600 (it holds a private key), creating parent directories.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(files::io_error(parent))?;
        }
        files::write_atomic(path, self.to_yaml()?.as_bytes(), KEY_MODE)
    }
}

/// Writes the admin kubeconfig (user `admin`, group `system:masters`) for the API server at `server_url`.
pub fn write_admin(path: &Path, server_url: &str, pki: &Pki) -> Result<()> {
    let admin = pki.admin();
    Kubeconfig::new(server_url, pki.ca_pem(), &admin.cert_pem, &admin.key_pem, ADMIN_USER).write(path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::test_pki;

    fn decode(data: &str) -> String {
        String::from_utf8(STANDARD.decode(data).unwrap()).unwrap()
    }

    #[test]
    fn admin_kubeconfig_round_trips_with_embedded_credentials() {
        let (tmp, pki) = test_pki();
        let path = tmp.path().join("home/.kube/config");
        write_admin(&path, "https://127.0.0.1:6443", &pki).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("server: https://127.0.0.1:6443"), "{text}");
        for line in ["apiVersion: v1", "kind: Config", "current-context: krust", "certificate-authority-data: "] {
            assert!(text.contains(line), "{line} missing in {text}");
        }
        let config = Kubeconfig::from_yaml(&text).unwrap();
        assert_eq!(config.to_yaml().unwrap(), text);
        assert_eq!((config.api_version.as_str(), config.kind.as_str()), ("v1", "Config"));

        let cluster = &config.clusters[0];
        assert_eq!((cluster.name.as_str(), cluster.cluster.server.as_str()), ("krust", "https://127.0.0.1:6443"));
        assert_eq!(decode(&cluster.cluster.certificate_authority_data), pki.ca_pem());
        let user = &config.users[0];
        assert_eq!(user.name, "admin");
        assert_eq!(decode(&user.user.client_certificate_data), pki.admin().cert_pem);
        assert_eq!(decode(&user.user.client_key_data), pki.admin().key_pem);
        let context = &config.contexts[0];
        assert_eq!(
            (context.name.as_str(), context.context.cluster.as_str(), context.context.user.as_str()),
            ("krust", "krust", "admin")
        );
    }

    #[test]
    fn kubectl_style_yaml_parses() {
        let yaml = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    \
                    server: https://10.0.0.2:6443\n  name: krust\ncontexts:\n- context:\n    cluster: krust\n    \
                    user: bob\n  name: krust\ncurrent-context: krust\nusers:\n- name: bob\n  user:\n    \
                    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n";
        let parsed = Kubeconfig::from_yaml(yaml).unwrap();
        assert_eq!(parsed, Kubeconfig::new("https://10.0.0.2:6443", "CA", "CERT", "KEY", "bob"));
    }
}
