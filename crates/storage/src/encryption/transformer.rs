//! The value transformers of one resource rule: an ordered list of providers where the
//! first one encrypts and every one may decrypt, recognised by the prefix it writes.
//!
//! The stored form is upstream's, so a value written here reads the same way in a
//! kube-apiserver given the same keys: `k8s:enc:aesgcm:v1:<key name>:` then a random
//! 12-byte nonce then the AES-GCM ciphertext and tag. The storage key is the additional
//! authenticated data, so a ciphertext copied under another key does not decrypt.

use std::fmt;

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// What every encrypted value starts with, whatever the provider.
pub(super) const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";

/// One AES-GCM key, as named in the configuration.
pub(super) struct AesGcmKey {
    name: String,
    /// `k8s:enc:aesgcm:v1:<name>:`
    prefix: Vec<u8>,
    key: LessSafeKey,
}

impl AesGcmKey {
    /// A key from its raw bytes: 16 (AES-128) or 32 (AES-256) of them.
    pub(super) fn new(name: &str, secret: &[u8]) -> Option<Self> {
        let algorithm = match secret.len() {
            16 => &AES_128_GCM,
            32 => &AES_256_GCM,
            _ => return None,
        };
        let key = LessSafeKey::new(UnboundKey::new(algorithm, secret).ok()?);
        Some(Self { name: name.to_owned(), prefix: format!("k8s:enc:aesgcm:v1:{name}:").into_bytes(), key })
    }

    fn seal(&self, plain: &[u8], storage_key: &str) -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| "the system random source failed".to_owned())?;
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(storage_key.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| format!("AES-GCM encryption with key {:?} failed", self.name))?;
        let mut out = Vec::with_capacity(self.prefix.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts `sealed` (the bytes after this key's prefix).
    fn open(&self, sealed: &[u8], storage_key: &str) -> Result<Vec<u8>, String> {
        let failed = || {
            format!(
                "AES-GCM decryption with key {:?} failed: the value was altered, is bound to another key, \
                 or the key's secret changed",
                self.name
            )
        };
        if sealed.len() < NONCE_LEN + self.key.algorithm().tag_len() {
            return Err(failed());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
        let mut buffer = ciphertext.to_vec();
        let plain_len =
            self.key.open_in_place(nonce, Aad::from(storage_key.as_bytes()), &mut buffer).map_err(|_| failed())?.len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }
}

/// One entry of a rule's `providers` list.
pub(super) enum Provider {
    /// Keys in order: the first encrypts.
    AesGcm(Vec<AesGcmKey>),
    /// Values stored as they are.
    Identity,
}

/// The providers of one resource rule, in configuration order.
pub(super) struct Transformer {
    providers: Vec<Provider>,
}

impl Transformer {
    pub(super) fn new(providers: Vec<Provider>) -> Self {
        Self { providers }
    }

    /// Storing values as they are; what keys no rule names get.
    pub(super) fn identity() -> Self {
        Self { providers: vec![Provider::Identity] }
    }

    /// The stored form of `plain` under `storage_key`, by the first provider.
    pub(super) fn encrypt(&self, plain: &[u8], storage_key: &str) -> Result<Vec<u8>, String> {
        match self.providers.first() {
            Some(Provider::AesGcm(keys)) => match keys.first() {
                Some(key) => key.seal(plain, storage_key),
                None => Err("the aesgcm provider has no keys".to_owned()),
            },
            Some(Provider::Identity) | None => Ok(plain.to_vec()),
        }
    }

    /// The plain value of `stored`, by the provider whose prefix it carries. A plain value
    /// reads as-is only when `identity` is listed; a value encrypted with a key no longer
    /// configured is an error, never returned as it is.
    pub(super) fn decrypt(&self, stored: &[u8], storage_key: &str) -> Result<Vec<u8>, String> {
        for provider in &self.providers {
            match provider {
                Provider::AesGcm(keys) => {
                    if let Some(key) = keys.iter().find(|k| stored.starts_with(&k.prefix)) {
                        return key.open(&stored[key.prefix.len()..], storage_key);
                    }
                }
                Provider::Identity if !stored.starts_with(ENCRYPTED_PREFIX) => return Ok(stored.to_vec()),
                Provider::Identity => {}
            }
        }
        if stored.starts_with(ENCRYPTED_PREFIX) {
            Err(format!(
                "the value is encrypted ({}) with a provider or key that is not in the encryption configuration",
                describe_prefix(stored)
            ))
        } else {
            Err("the value is not encrypted and the identity provider is not configured for it".to_owned())
        }
    }
}

/// `k8s:enc:<provider>:<version>:<key name>:`, or as much of it as the value has.
fn describe_prefix(stored: &[u8]) -> String {
    let mut colons = 0;
    let end = stored
        .iter()
        .position(|&b| {
            colons += usize::from(b == b':');
            colons == 5
        })
        .map_or(stored.len().min(64), |i| i + 1);
    String::from_utf8_lossy(&stored[..end]).into_owned()
}

impl fmt::Debug for Transformer {
    /// Names providers and keys, never secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for provider in &self.providers {
            match provider {
                Provider::AesGcm(keys) => {
                    list.entry(&format_args!("aesgcm{:?}", keys.iter().map(|k| &k.name).collect::<Vec<_>>()))
                }
                Provider::Identity => list.entry(&format_args!("identity")),
            };
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "/registry/core/secrets/default/s1";

    fn aesgcm(names: &[(&str, u8)]) -> Provider {
        Provider::AesGcm(names.iter().map(|(name, fill)| AesGcmKey::new(name, &[*fill; 32]).unwrap()).collect())
    }

    #[test]
    fn aesgcm_writes_upstream_format_and_round_trips() {
        let t = Transformer::new(vec![aesgcm(&[("key1", 1)]), Provider::Identity]);
        let stored = t.encrypt(b"top secret", KEY).unwrap();
        assert!(stored.starts_with(b"k8s:enc:aesgcm:v1:key1:"));
        let body = &stored[b"k8s:enc:aesgcm:v1:key1:".len()..];
        assert_eq!(body.len(), NONCE_LEN + b"top secret".len() + 16);
        assert!(!stored.windows(10).any(|w| w == b"top secret"));
        assert_eq!(t.decrypt(&stored, KEY).unwrap(), b"top secret");
    }

    #[test]
    fn nonces_differ_between_writes() {
        let t = Transformer::new(vec![aesgcm(&[("key1", 1)])]);
        assert_ne!(t.encrypt(b"same", KEY).unwrap(), t.encrypt(b"same", KEY).unwrap());
    }

    #[test]
    fn aes128_keys_work() {
        let t = Transformer::new(vec![Provider::AesGcm(vec![AesGcmKey::new("k", &[7; 16]).unwrap()])]);
        assert_eq!(t.decrypt(&t.encrypt(b"v", KEY).unwrap(), KEY).unwrap(), b"v");
        assert!(AesGcmKey::new("k", &[7; 24]).is_none());
    }

    #[test]
    fn tampered_or_moved_values_fail() {
        let t = Transformer::new(vec![aesgcm(&[("key1", 1)]), Provider::Identity]);
        let mut stored = t.encrypt(b"top secret", KEY).unwrap();
        assert!(t.decrypt(&stored, "/registry/core/secrets/default/other").unwrap_err().contains("key1"));
        let last = stored.len() - 1;
        stored[last] ^= 1;
        assert!(t.decrypt(&stored, KEY).unwrap_err().contains("decryption with key \"key1\" failed"));
        assert!(t.decrypt(b"k8s:enc:aesgcm:v1:key1:short", KEY).is_err());
    }

    #[test]
    fn rotation_reads_every_key_and_writes_with_the_first() {
        let old = Transformer::new(vec![aesgcm(&[("key1", 1)])]);
        let rotated = Transformer::new(vec![aesgcm(&[("key2", 2), ("key1", 1)])]);
        let written_before = old.encrypt(b"old", KEY).unwrap();
        assert_eq!(rotated.decrypt(&written_before, KEY).unwrap(), b"old");
        assert!(rotated.encrypt(b"new", KEY).unwrap().starts_with(b"k8s:enc:aesgcm:v1:key2:"));
    }

    #[test]
    fn identity_reads_plain_values_only_when_listed() {
        let with = Transformer::new(vec![aesgcm(&[("key1", 1)]), Provider::Identity]);
        let without = Transformer::new(vec![aesgcm(&[("key1", 1)])]);
        assert_eq!(with.decrypt(b"{\"plain\":1}", KEY).unwrap(), b"{\"plain\":1}");
        assert!(without.decrypt(b"{\"plain\":1}", KEY).unwrap_err().contains("identity provider is not configured"));
    }

    #[test]
    fn identity_first_writes_plain_and_still_reads_encrypted() {
        let t = Transformer::new(vec![Provider::Identity, aesgcm(&[("key1", 1)])]);
        assert_eq!(t.encrypt(b"v", KEY).unwrap(), b"v");
        let encrypted = Transformer::new(vec![aesgcm(&[("key1", 1)])]).encrypt(b"v", KEY).unwrap();
        assert_eq!(t.decrypt(&encrypted, KEY).unwrap(), b"v");
    }

    #[test]
    fn unknown_key_names_are_errors_not_plain_text() {
        let stored = Transformer::new(vec![aesgcm(&[("gone", 1)])]).encrypt(b"v", KEY).unwrap();
        let t = Transformer::new(vec![aesgcm(&[("key1", 1)]), Provider::Identity]);
        let err = t.decrypt(&stored, KEY).unwrap_err();
        assert!(err.contains("(k8s:enc:aesgcm:v1:gone:)"), "{err}");
        assert!(Transformer::identity().decrypt(&stored, KEY).is_err());
    }

    #[test]
    fn debug_shows_key_names_not_secrets() {
        let t = Transformer::new(vec![aesgcm(&[("key1", 1)]), Provider::Identity]);
        assert_eq!(format!("{t:?}"), "[aesgcm[\"key1\"], identity]");
    }
}
