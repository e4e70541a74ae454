//! Upstream's `EncryptionConfiguration` (`apiserver.config.k8s.io/v1`, the file given to
//! `--encryption-provider-config`): which resources are encrypted, by which providers.
//!
//! Each entry names resources (`secrets`, `deployments.apps`, `*.apps`, `*.` for the core
//! group, `*.*` for everything) and an ordered provider list. A resource takes the first
//! entry that names it; keys of resources no entry names are stored as they are.
//! Supported providers: `aesgcm` (16- or 32-byte keys) and `identity`.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;

use super::transformer::{AesGcmKey, Provider, Transformer};

/// Where [`EncryptionConfig::load_or_create_default`] keeps the generated configuration,
/// relative to the data directory.
pub const DEFAULT_CONFIG_PATH: &str = "pki/encryption-config.yaml";

const API_VERSION: &str = "apiserver.config.k8s.io/v1";
const KIND: &str = "EncryptionConfiguration";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("error while parsing encryption provider configuration: {0}")]
    Parse(#[from] yaml_serde::Error),
    /// A field with a bad value, named by its path (`resources[0].providers[0].aesgcm.keys[0].secret`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("encryption provider configuration {}: {source}", path.display())]
    InFile { path: PathBuf, source: Box<ConfigError> },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.into(), message: message.into() }
}

/// A parsed and validated encryption configuration.
#[derive(Debug)]
pub struct EncryptionConfig {
    rules: Vec<Rule>,
    /// For keys no rule names: plain values, and an error for encrypted ones.
    unmatched: Transformer,
}

#[derive(Debug)]
struct Rule {
    /// Storage key prefixes, e.g. `/registry/core/secrets/`.
    prefixes: Vec<String>,
    transformer: Transformer,
}

impl EncryptionConfig {
    /// Parses an `EncryptionConfiguration` document.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let file: ConfigFile = yaml_serde::from_str(text)?;
        if file.api_version != API_VERSION || file.kind != KIND {
            return Err(invalid(
                "kind",
                format!("expected {KIND} of apiVersion {API_VERSION}, got {} of {}", file.kind, file.api_version),
            ));
        }
        if file.resources.is_empty() {
            return Err(invalid("resources", "Required value: at least one resources is required"));
        }
        let rules = file.resources.iter().enumerate().map(|(i, entry)| entry.to_rule(i)).collect::<Result<_, _>>()?;
        Ok(Self { rules, unmatched: Transformer::identity() })
    }

    /// Reads and parses the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
        Self::from_yaml(&text).map_err(|e| ConfigError::InFile { path: path.to_owned(), source: Box::new(e) })
    }

    /// The configuration used when none is given: `DATA_DIR/pki/encryption-config.yaml`,
    /// written on first start with a fresh random AES-256 key (`aesgcm` `key1`, then
    /// `identity` so Secrets stored before encryption was on stay readable) and read
    /// unchanged ever after, since losing the key loses every Secret.
    pub fn load_or_create_default(data_dir: &Path) -> Result<Self, ConfigError> {
        let path = Self::default_path(data_dir);
        if !path.exists() {
            write_default(&path)?;
        }
        Self::load(&path)
    }

    /// `DATA_DIR/pki/encryption-config.yaml`.
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join(DEFAULT_CONFIG_PATH)
    }

    /// The providers that apply to the storage key `key`.
    pub(super) fn transformer_for(&self, key: &str) -> &Transformer {
        self.rules
            .iter()
            .find(|rule| rule.prefixes.iter().any(|p| key.starts_with(p.as_str())))
            .map_or(&self.unmatched, |rule| &rule.transformer)
    }
}

/// The default configuration document around a base64 key.
fn default_yaml(secret: &str) -> String {
    format!(
        "apiVersion: {API_VERSION}\nkind: {KIND}\nresources:\n  - resources:\n      - secrets\n    providers:\n      \
         - aesgcm:\n          keys:\n            - name: key1\n              secret: {secret}\n      - identity: {{}}\n"
    )
}

/// Writes the default configuration with a new key, readable by its owner only. The file
/// appears whole or not at all, and an existing one is never replaced.
fn write_default(path: &Path) -> Result<(), ConfigError> {
    let io_error = |source| ConfigError::Io { path: path.to_owned(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error)?;
    let mut secret = [0u8; 32];
    SystemRandom::new().fill(&mut secret).map_err(|_| io_error(io::Error::other("the system random source failed")))?;
    let staged = path.with_extension("yaml.tmp");
    match fs::remove_file(&staged) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_error(e)),
        _ => {}
    }
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&staged).map_err(io_error)?;
    file.write_all(default_yaml(&STANDARD.encode(secret)).as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    // A hard link, unlike a rename, fails when the target exists: a concurrent first
    // start keeps its key instead of losing it to ours.
    match fs::hard_link(&staged, path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(io_error(e)),
        _ => {}
    }
    fs::remove_file(&staged).map_err(io_error)?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_error)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    resources: Vec<ResourceEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceEntry {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    providers: Vec<ProviderEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderEntry {
    aesgcm: Option<KeysEntry>,
    aescbc: Option<yaml_serde::Value>,
    secretbox: Option<yaml_serde::Value>,
    kms: Option<yaml_serde::Value>,
    identity: Option<yaml_serde::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysEntry {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
}

impl ResourceEntry {
    fn to_rule(&self, index: usize) -> Result<Rule, ConfigError> {
        let field = format!("resources[{index}]");
        if self.resources.is_empty() {
            return Err(invalid(format!("{field}.resources"), "Required value: at least one resource is required"));
        }
        if self.providers.is_empty() {
            return Err(invalid(format!("{field}.providers"), "Required value: at least one provider is required"));
        }
        let prefixes = self
            .resources
            .iter()
            .enumerate()
            .map(|(i, name)| resource_prefix(name).map_err(|m| invalid(format!("{field}.resources[{i}]"), m)))
            .collect::<Result<_, _>>()?;
        let providers = self
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| p.to_provider(&format!("{field}.providers[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Rule { prefixes, transformer: Transformer::new(providers) })
    }
}

impl ProviderEntry {
    fn to_provider(&self, field: &str) -> Result<Provider, ConfigError> {
        let named = [
            ("aesgcm", self.aesgcm.is_some()),
            ("aescbc", self.aescbc.is_some()),
            ("secretbox", self.secretbox.is_some()),
            ("kms", self.kms.is_some()),
            ("identity", self.identity.is_some()),
        ];
        let present: Vec<&str> = named.iter().filter(|(_, set)| *set).map(|(name, _)| *name).collect();
        match present.as_slice() {
            [] => Err(invalid(
                field,
                "provider does not contain any of the expected providers: KMS, AESGCM, AESCBC, Secretbox, Identity",
            )),
            ["identity"] => Ok(Provider::Identity),
            ["aesgcm"] => {
                let keys = self.aesgcm.as_ref().map_or(&[][..], |k| &k.keys);
                aesgcm_keys(keys, &format!("{field}.aesgcm.keys")).map(Provider::AesGcm)
            }
            [unsupported] => Err(invalid(
                format!("{field}.{unsupported}"),
                format!("the {unsupported} provider is not supported; use aesgcm or identity"),
            )),
            _ => Err(invalid(
                field,
                "more than one provider specified in a single element, should split into different list elements",
            )),
        }
    }
}

fn aesgcm_keys(keys: &[KeyEntry], field: &str) -> Result<Vec<AesGcmKey>, ConfigError> {
    if keys.is_empty() {
        return Err(invalid(field, "Required value: at least one keys is required"));
    }
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let field = format!("{field}[{i}]");
            if key.name.is_empty() {
                return Err(invalid(format!("{field}.name"), "Required value: name is a mandatory field for a key"));
            }
            if key.name.contains(':') {
                return Err(invalid(format!("{field}.name"), format!("Invalid value: {:?}: must not contain ':'", key.name)));
            }
            if key.secret.is_empty() {
                return Err(invalid(format!("{field}.secret"), "Required value: secret is a mandatory field for a key"));
            }
            let secret = STANDARD.decode(key.secret.trim()).map_err(|_| {
                invalid(format!("{field}.secret"), "Invalid value: \"REDACTED\": secrets must be base64 encoded")
            })?;
            AesGcmKey::new(&key.name, &secret).ok_or_else(|| {
                invalid(
                    format!("{field}.secret"),
                    format!(
                        "Invalid value: \"REDACTED\": secret is not of the expected length, got {}, expected one of [16 32]",
                        secret.len()
                    ),
                )
            })
        })
        .collect()
}

/// The storage key prefix of a configured resource name: `secrets` →
/// `/registry/core/secrets/`, `deployments.apps` → `/registry/apps/deployments/`,
/// `*.apps` → `/registry/apps/`, `*.` → `/registry/core/`, `*.*` → `/registry/`.
fn resource_prefix(name: &str) -> Result<String, String> {
    match name {
        "*.*" => return Ok("/registry/".to_owned()),
        "*" => {
            return Err(
                "Invalid value: \"*\": use '*.' to encrypt all the resources of the core group or '*.*' for all"
                    .to_owned(),
            );
        }
        _ => {}
    }
    let (resource, group) = name.split_once('.').unwrap_or((name, ""));
    let group = if group.is_empty() { "core" } else { group };
    let lowercase_name = |s: &str, extra: &[char]| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || extra.contains(&c))
    };
    if !lowercase_name(group, &['.']) {
        return Err(format!("Invalid value: {name:?}: not a resource name, resource.group or wildcard"));
    }
    match resource {
        "*" => Ok(format!("/registry/{group}/")),
        _ if lowercase_name(resource, &[]) => Ok(format!("/registry/{group}/{resource}/")),
        _ => Err(format!("Invalid value: {name:?}: not a resource name, resource.group or wildcard")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="; // 32 bytes of 0x01

    fn config(resources: &str, providers: &str) -> String {
        format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: {resources}\n  \
             providers: {providers}\n"
        )
    }

    fn error(resources: &str, providers: &str) -> String {
        EncryptionConfig::from_yaml(&config(resources, providers)).unwrap_err().to_string()
    }

    #[test]
    fn parses_upstream_document() {
        let text = format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      \
             - secrets\n      - configmaps\n    providers:\n      - aesgcm:\n          keys:\n            - name: key1\n\
             \x20             secret: {KEY1}\n      - identity: {{}}\n  - resources: ['*.apps']\n    providers:\n      \
             - identity: {{}}\n"
        );
        let cfg = EncryptionConfig::from_yaml(&text).unwrap();
        assert_eq!(format!("{:?}", cfg.transformer_for("/registry/core/secrets/ns/a")), "[aesgcm[\"key1\"], identity]");
        assert_eq!(
            format!("{:?}", cfg.transformer_for("/registry/core/configmaps/ns/a")),
            "[aesgcm[\"key1\"], identity]"
        );
        assert_eq!(format!("{:?}", cfg.transformer_for("/registry/apps/deployments/ns/a")), "[identity]");
        assert_eq!(format!("{:?}", cfg.transformer_for("/registry/core/pods/ns/a")), "[identity]");
    }

    #[test]
    fn resource_names_map_to_key_prefixes() {
        assert_eq!(resource_prefix("secrets").unwrap(), "/registry/core/secrets/");
        assert_eq!(resource_prefix("secrets.").unwrap(), "/registry/core/secrets/");
        assert_eq!(resource_prefix("deployments.apps").unwrap(), "/registry/apps/deployments/");
        assert_eq!(resource_prefix("ingresses.networking.k8s.io").unwrap(), "/registry/networking.k8s.io/ingresses/");
        assert_eq!(resource_prefix("*.apps").unwrap(), "/registry/apps/");
        assert_eq!(resource_prefix("*.").unwrap(), "/registry/core/");
        assert_eq!(resource_prefix("*.*").unwrap(), "/registry/");
        assert!(resource_prefix("*").unwrap_err().contains("use '*.'"));
        assert!(resource_prefix("Secrets").is_err());
        assert!(resource_prefix("secrets/status").is_err());
    }

    #[test]
    fn first_matching_entry_wins() {
        let text = format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n\
             - resources: [secrets]\n  providers: [identity: {{}}]\n\
             - resources: ['*.*']\n  providers: [aesgcm: {{keys: [{{name: k, secret: {KEY1}}}]}}]\n"
        );
        let cfg = EncryptionConfig::from_yaml(&text).unwrap();
        assert_eq!(format!("{:?}", cfg.transformer_for("/registry/core/secrets/ns/a")), "[identity]");
        assert_eq!(format!("{:?}", cfg.transformer_for("/registry/core/configmaps/ns/a")), "[aesgcm[\"k\"]]");
    }

    #[test]
    fn bad_base64_is_reported_without_the_secret() {
        let err = error("[secrets]", "[aesgcm: {keys: [{name: key1, secret: 'not base64!'}]}]");
        assert_eq!(
            err,
            "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": secrets must be base64 encoded"
        );
    }

    #[test]
    fn wrong_key_length_is_reported() {
        let err = error("[secrets]", "[aesgcm: {keys: [{name: key1, secret: cGFzc3dvcmQ=}]}]");
        assert_eq!(
            err,
            "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": \
             secret is not of the expected length, got 8, expected one of [16 32]"
        );
    }

    #[test]
    fn unknown_and_unsupported_providers_are_reported() {
        assert!(error("[secrets]", "[rot13: {}]").contains("unknown field `rot13`, expected one of"));
        assert_eq!(
            error("[secrets]", "[identity: {}, aescbc: {keys: []}]"),
            "resources[0].providers[1].aescbc: the aescbc provider is not supported; use aesgcm or identity"
        );
        assert!(error("[secrets]", "[{identity: {}, aesgcm: {keys: []}}]").contains("more than one provider"));
        assert!(error("[secrets]", "[aesgcm: {keys: []}]").contains("aesgcm.keys: Required value"));
        assert!(error("[secrets]", "[aesgcm: {keys: [{secret: x}]}]").contains("keys[0].name: Required value"));
        assert!(error("[secrets]", "[]").contains("resources[0].providers: Required value"));
        assert!(error("[]", "[identity: {}]").contains("resources[0].resources: Required value"));
    }

    #[test]
    fn wrong_kind_is_reported() {
        let err = EncryptionConfig::from_yaml("apiVersion: v1\nkind: ConfigMap\nresources: []\n").unwrap_err();
        assert!(err.to_string().contains("expected EncryptionConfiguration of apiVersion apiserver.config.k8s.io/v1"));
    }

    #[test]
    fn default_is_created_private_once_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = EncryptionConfig::load_or_create_default(dir.path()).unwrap();
        let path = dir.path().join("pki/encryption-config.yaml");
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(text.starts_with("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"));
        assert!(!dir.path().join("pki/encryption-config.yaml.tmp").exists());

        let second = EncryptionConfig::load_or_create_default(dir.path()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "the key must never be regenerated");
        let key = "/registry/core/secrets/ns/s";
        let sealed = first.transformer_for(key).encrypt(b"v", key).unwrap();
        assert_eq!(second.transformer_for(key).decrypt(&sealed, key).unwrap(), b"v");
        assert!(sealed.starts_with(b"k8s:enc:aesgcm:v1:key1:"));
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enc.yaml");
        fs::write(&path, "kind: [").unwrap();
        let err = EncryptionConfig::load(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("encryption provider configuration {}: ", path.display())), "{err}");
        assert!(EncryptionConfig::load(&dir.path().join("missing.yaml")).is_err());
    }
}
