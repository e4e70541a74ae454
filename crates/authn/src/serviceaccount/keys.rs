//! The service account signing key: an ECDSA P-256 key pair (ES256 tokens) kept in the
//! PKI directory as `sa.key` (PKCS#8 PEM, mode 0600) and `sa.pub` (SPKI PEM, mode 0644).
//!
//! kube-apiserver accepts RSA or ECDSA keys; ECDSA P-256 is what the cluster's other keys
//! use and what can be generated here without an RSA implementation. Key IDs (`kid`) are
//! derived as upstream does: the unpadded base64url SHA-256 of the DER public key.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData, SubjectPublicKeyInfo};
use sha2::{Digest, Sha256};

/// The private key's file name inside the PKI directory.
pub const KEY_FILE: &str = "sa.key";
/// The public key's file name inside the PKI directory.
pub const PUBLIC_KEY_FILE: &str = "sa.pub";

const DIR_MODE: u32 = 0o700;
const KEY_MODE: u32 = 0o600;
const PUBLIC_KEY_MODE: u32 = 0o644;

/// Why a key could not be created, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The PEM text is not a key this module can use.
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("generating the service account key: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A key that verifies service account tokens.
#[derive(Clone)]
pub struct PublicKey {
    key_id: String,
    pem: String,
    decoding: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) holding an ECDSA P-256 key.
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let invalid = |reason: String| KeyError::Invalid { what: "service account public key".into(), reason };
        let spki = SubjectPublicKeyInfo::from_pem(pem).map_err(|e| invalid(e.to_string()))?;
        if spki.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(invalid("only ECDSA P-256 keys are supported".into()));
        }
        Ok(PublicKey::new(&spki, pem.to_owned()))
    }

    fn new(key: &impl PublicKeyData, pem: String) -> PublicKey {
        let key_id = URL_SAFE_NO_PAD.encode(Sha256::digest(key.subject_public_key_info()));
        PublicKey { key_id, pem, decoding: DecodingKey::from_ec_der(key.der_bytes()) }
    }

    /// The key ID tokens signed by the matching private key carry in their `kid` header.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The key as PEM (what `sa.pub` holds).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

/// The private key that signs service account tokens, with its public half.
pub struct SigningKey {
    encoding: EncodingKey,
    public: PublicKey,
}

impl SigningKey {
    /// A new random key, kept only in memory.
    pub fn generate() -> Result<SigningKey, KeyError> {
        Ok(SigningKey::from_key_pair(&KeyPair::generate()?))
    }

    /// Parses a PKCS#8 PEM `PRIVATE KEY` holding an ECDSA P-256 key.
    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let invalid = |reason: String| KeyError::Invalid { what: "service account key".into(), reason };
        let pair = KeyPair::from_pem(pem).map_err(|e| invalid(e.to_string()))?;
        if pair.algorithm() != &PKCS_ECDSA_P256_SHA256 {
            return Err(invalid("only ECDSA P-256 keys are supported".into()));
        }
        Ok(SigningKey::from_key_pair(&pair))
    }

    fn from_key_pair(pair: &KeyPair) -> SigningKey {
        SigningKey {
            encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
            public: PublicKey::new(pair, pair.public_key_pem()),
        }
    }

    /// Loads `dir/sa.key`, creating the directory and a new key on first start, and
    /// (re)writes `dir/sa.pub` when it is missing or does not match the key.
    pub fn load_or_create(dir: &Path) -> Result<SigningKey, KeyError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|source| KeyError::Io { path: dir.to_path_buf(), source })?;
        let key_path = dir.join(KEY_FILE);
        let key = match read_optional(&key_path)? {
            Some(pem) => SigningKey::from_pem(&pem)
                .map_err(|e| KeyError::Invalid { what: key_path.display().to_string(), reason: e.to_string() })?,
            None => {
                let pair = KeyPair::generate()?;
                write_atomic(&key_path, pair.serialize_pem().as_bytes(), KEY_MODE)?;
                SigningKey::from_key_pair(&pair)
            }
        };
        let public_path = dir.join(PUBLIC_KEY_FILE);
        let current = read_optional(&public_path)?;
        if current.and_then(|pem| PublicKey::from_pem(&pem).ok()).is_none_or(|p| p.key_id != key.public.key_id) {
            write_atomic(&public_path, key.public.pem.as_bytes(), PUBLIC_KEY_MODE)?;
        }
        Ok(key)
    }

    /// The public half, for validators.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, KeyError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KeyError::Io { path: path.to_path_buf(), source }),
    }
}

/// Writes through a temporary file created with `mode`, so a crash never leaves a torn
/// key and the private key is never readable by others, even briefly.
fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn first_start_creates_private_key_and_restart_reuses_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let first = SigningKey::load_or_create(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&dir.join(PUBLIC_KEY_FILE)), 0o644);
        assert_eq!(fs::read_to_string(dir.join(PUBLIC_KEY_FILE)).unwrap(), first.public_key().pem());
        let second = SigningKey::load_or_create(&dir).unwrap();
        assert_eq!(first.public_key().key_id(), second.public_key().key_id());
        assert_eq!(first.public_key().key_id().len(), 43);
    }

    #[test]
    fn a_missing_or_foreign_public_key_is_rewritten_from_the_private_key() {
        let tmp = tempfile::tempdir().unwrap();
        let key = SigningKey::load_or_create(tmp.path()).unwrap();
        let other = SigningKey::generate().unwrap();
        fs::write(tmp.path().join(PUBLIC_KEY_FILE), other.public_key().pem()).unwrap();
        SigningKey::load_or_create(tmp.path()).unwrap();
        let public = PublicKey::from_pem(&fs::read_to_string(tmp.path().join(PUBLIC_KEY_FILE)).unwrap()).unwrap();
        assert_eq!(public.key_id(), key.public_key().key_id());
        fs::remove_file(tmp.path().join(PUBLIC_KEY_FILE)).unwrap();
        SigningKey::load_or_create(tmp.path()).unwrap();
        assert!(tmp.path().join(PUBLIC_KEY_FILE).exists());
    }

    #[test]
    fn unusable_keys_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(KEY_FILE), "not a key").unwrap();
        assert!(matches!(SigningKey::load_or_create(tmp.path()), Err(KeyError::Invalid { .. })));
        let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        assert!(SigningKey::from_pem(&p384.serialize_pem()).is_err());
        assert!(PublicKey::from_pem(&p384.public_key_pem()).is_err());
    }
}
