//! Encryption at rest: a [`Store`] decorator that encrypts the values of configured
//! resources (Secrets by default) before they reach the backend and decrypts them on
//! every way out (range reads, watch events, the current value of a lost
//! compare-and-swap), so the backend never holds them in clear text.
//!
//! The configuration is upstream's `EncryptionConfiguration` ([`EncryptionConfig`]); the
//! stored form is upstream's too (`k8s:enc:aesgcm:v1:<key name>:` + nonce + ciphertext).
//! Keys, revisions and compare-and-swap pass through untouched: encryption changes only
//! the bytes of a value, never which write wins.

mod config;
mod transformer;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

pub use config::{ConfigError, DEFAULT_CONFIG_PATH, EncryptionConfig};

use crate::{Error, Event, KeyValue, RangeRequest, RangeResult, Result, Revision, Store, WatchStream};

/// A [`Store`] that encrypts values on the way in and decrypts them on the way out,
/// per key, as its [`EncryptionConfig`] says.
pub struct EncryptingStore {
    inner: Arc<dyn Store>,
    config: Arc<EncryptionConfig>,
}

impl EncryptingStore {
    pub fn new(inner: Arc<dyn Store>, config: EncryptionConfig) -> Self {
        Self { inner, config: Arc::new(config) }
    }

    fn encrypt(&self, key: &str, value: &[u8]) -> Result<Bytes> {
        self.config
            .transformer_for(key)
            .encrypt(value, key)
            .map(Bytes::from)
            .map_err(|reason| Error::Backend(format!("encrypting {key}: {reason}")))
    }
}

/// Decrypts values as they leave the store. Cloned into watch streams, which outlive
/// the call that opened them.
#[derive(Clone)]
struct Decrypter(Arc<EncryptionConfig>);

impl Decrypter {
    fn kv(&self, mut kv: KeyValue) -> Result<KeyValue> {
        let plain = self
            .0
            .transformer_for(&kv.key)
            .decrypt(&kv.value, &kv.key)
            .map_err(|reason| Error::Backend(format!("decrypting {}: {reason}", kv.key)))?;
        kv.value = Bytes::from(plain);
        Ok(kv)
    }

    fn event(&self, event: Event) -> Result<Event> {
        Ok(Event { kind: event.kind, kv: self.kv(event.kv)?, prev: event.prev.map(|kv| self.kv(kv)).transpose()? })
    }

    /// A lost compare-and-swap carries the current value: the caller sees it in clear.
    fn error(&self, error: Error) -> Error {
        match error {
            Error::Conflict { key, expected, current } => match self.kv(*current) {
                Ok(current) => Error::Conflict { key, expected, current: Box::new(current) },
                Err(e) => e,
            },
            other => other,
        }
    }
}

#[async_trait]
impl Store for EncryptingStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResult> {
        let mut result = self.inner.range(req).await?;
        let decrypter = Decrypter(Arc::clone(&self.config));
        result.kvs = result.kvs.into_iter().map(|kv| decrypter.kv(kv)).collect::<Result<_>>()?;
        Ok(result)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        let stored = self.encrypt(key, &value)?;
        self.inner.create(key, stored).await
    }

    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<Revision> {
        let stored = self.encrypt(key, &value)?;
        self.inner.update(key, expected, stored).await.map_err(|e| Decrypter(Arc::clone(&self.config)).error(e))
    }

    async fn delete(&self, key: &str, expected: Revision) -> Result<Revision> {
        self.inner.delete(key, expected).await.map_err(|e| Decrypter(Arc::clone(&self.config)).error(e))
    }

    async fn watch(&self, start: &str, end: &str, after: Revision) -> Result<WatchStream> {
        let events = self.inner.watch(start, end, after).await?;
        let decrypter = Decrypter(Arc::clone(&self.config));
        Ok(events.map(move |event| event.and_then(|e| decrypter.event(e))).boxed())
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.inner.current_revision().await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.inner.compact(revision).await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.inner.compacted_revision().await
    }
}

#[cfg(test)]
mod tests;
