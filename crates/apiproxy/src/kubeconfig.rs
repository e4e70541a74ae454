//! Reading kubeconfig files the way kubectl does: several files merge with the first
//! definition of a name winning, and file references are relative to the file naming them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::ConfigError;

/// The parts of one or more merged kubeconfig files that reach and authenticate to a cluster.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    #[serde(default)]
    pub clusters: Option<Vec<NamedCluster>>,
    #[serde(default)]
    pub users: Option<Vec<NamedUser>>,
    #[serde(default)]
    pub contexts: Option<Vec<NamedContext>>,
    #[serde(default)]
    pub current_context: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamedCluster {
    pub name: String,
    #[serde(default)]
    pub cluster: Cluster,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    #[serde(default)]
    pub server: String,
    pub certificate_authority: Option<PathBuf>,
    pub certificate_authority_data: Option<String>,
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    pub tls_server_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamedUser {
    pub name: String,
    #[serde(default)]
    pub user: User,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct User {
    pub client_certificate: Option<PathBuf>,
    pub client_certificate_data: Option<String>,
    pub client_key: Option<PathBuf>,
    pub client_key_data: Option<String>,
    pub token: Option<String>,
    #[serde(rename = "tokenFile")]
    pub token_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamedContext {
    pub name: String,
    #[serde(default)]
    pub context: Context,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub user: String,
}

impl Kubeconfig {
    /// Parses one file, making its file references absolute against the file's directory.
    pub fn read(path: &Path) -> Result<Kubeconfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        let mut config: Kubeconfig = if text.trim().is_empty() {
            Kubeconfig::default()
        } else {
            yaml_serde::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let absolute = |p: &mut Option<PathBuf>| {
            if let Some(file) = p.as_mut().filter(|f| f.is_relative() && !f.as_os_str().is_empty()) {
                *file = dir.join(&*file);
            }
        };
        for named in config.clusters.iter_mut().flatten() {
            absolute(&mut named.cluster.certificate_authority);
        }
        for named in config.users.iter_mut().flatten() {
            absolute(&mut named.user.client_certificate);
            absolute(&mut named.user.client_key);
            absolute(&mut named.user.token_file);
        }
        Ok(config)
    }

    /// Merges `next` under `self`: names and the current context already set here win.
    pub fn merge(mut self, next: Kubeconfig) -> Kubeconfig {
        fn append<T>(base: &mut Option<Vec<T>>, next: Option<Vec<T>>, name: impl Fn(&T) -> &str) {
            let base = base.get_or_insert_with(Vec::new);
            for item in next.into_iter().flatten() {
                if !base.iter().any(|b| name(b) == name(&item)) {
                    base.push(item);
                }
            }
        }
        if self.current_context.as_deref().is_none_or(str::is_empty) {
            self.current_context = next.current_context;
        }
        append(&mut self.clusters, next.clusters, |c| &c.name);
        append(&mut self.users, next.users, |u| &u.name);
        append(&mut self.contexts, next.contexts, |c| &c.name);
        self
    }

    /// True when nothing was configured: kubectl then falls back to the in-cluster config.
    pub fn is_empty(&self) -> bool {
        self.clusters.as_ref().is_none_or(Vec::is_empty)
            && self.users.as_ref().is_none_or(Vec::is_empty)
            && self.contexts.as_ref().is_none_or(Vec::is_empty)
            && self.current_context.as_deref().is_none_or(str::is_empty)
    }

    /// The cluster and user of `context` (or of the current context).
    pub fn resolve(&self, context: Option<&str>) -> Result<(Cluster, User), ConfigError> {
        let name = context.filter(|c| !c.is_empty()).or(self.current_context.as_deref()).unwrap_or_default();
        if name.is_empty() {
            return Err(ConfigError::NoContext);
        }
        let context = self
            .contexts
            .iter()
            .flatten()
            .find(|c| c.name == name)
            .ok_or_else(|| ConfigError::ContextNotFound(name.to_string()))?;
        let cluster = self
            .clusters
            .iter()
            .flatten()
            .find(|c| c.name == context.context.cluster)
            .ok_or_else(|| ConfigError::ClusterNotFound(context.context.cluster.clone()))?;
        let user = self.users.iter().flatten().find(|u| u.name == context.context.user).map(|u| u.user.clone());
        Ok((cluster.cluster.clone(), user.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: &str = "
current-context: a
clusters:
- name: one
  cluster: {server: 'https://one:6443', certificate-authority: pki/ca.crt}
users:
- name: u
  user: {tokenFile: token, client-key: /abs/key}
contexts:
- name: a
  context: {cluster: one, user: u}
";
    const SECOND: &str = "
current-context: b
clusters:
- name: one
  cluster: {server: 'https://ignored:1'}
- name: two
  cluster: {server: 'https://two:6443'}
contexts:
- name: b
  context: {cluster: two, user: nobody}
";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn relative_references_resolve_against_the_file_and_first_definition_wins() {
        let dir = tempfile::tempdir().unwrap();
        let first = Kubeconfig::read(&write(dir.path(), "first", FIRST)).unwrap();
        let second = Kubeconfig::read(&write(dir.path(), "second", SECOND)).unwrap();
        let merged = first.merge(second);
        let (cluster, user) = merged.resolve(None).unwrap();
        assert_eq!(cluster.server, "https://one:6443");
        assert_eq!(cluster.certificate_authority.unwrap(), dir.path().join("pki/ca.crt"));
        assert_eq!(user.token_file.unwrap(), dir.path().join("token"));
        assert_eq!(user.client_key.unwrap(), PathBuf::from("/abs/key"));
        let (cluster, user) = merged.resolve(Some("b")).unwrap();
        assert_eq!(cluster.server, "https://two:6443");
        assert!(user.token.is_none(), "an unknown user authenticates with nothing");
    }

    #[test]
    fn missing_context_is_an_error_and_empty_files_are_empty() {
        let dir = tempfile::tempdir().unwrap();
        let empty = Kubeconfig::read(&write(dir.path(), "empty", "")).unwrap();
        assert!(empty.is_empty());
        assert!(matches!(empty.resolve(None), Err(ConfigError::NoContext)));
        let first = Kubeconfig::read(&write(dir.path(), "first", FIRST)).unwrap();
        assert!(!first.is_empty());
        assert!(matches!(first.resolve(Some("zzz")), Err(ConfigError::ContextNotFound(c)) if c == "zzz"));
    }
}
