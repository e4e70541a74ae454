//! [`EncryptingStore`] over a real [`SqliteStore`]: nothing in clear on disk, round trips,
//! watches, compare-and-swap, rotation, tampering and plain values from before.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tempfile::TempDir;

use super::{EncryptingStore, EncryptionConfig};
use crate::contract_tests::{next_event, value};
use crate::sqlite::SqliteStore;
use crate::{Error, EventKind, RangeRequest, Store, prefix_end};

const SECRET_KEY: &str = "/registry/core/secrets/default/db-password";
const PLAINTEXT: &str = r#"{"kind":"Secret","data":{"password":"aHVudGVyMg=="},"note":"plaintext-marker-7f3a"}"#;
/// 32 bytes of 0x01 and of 0x02, base64.
const KEY1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

fn config(providers: &str) -> EncryptionConfig {
    EncryptionConfig::from_yaml(&format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n\
         - resources: [secrets]\n  providers: {providers}\n"
    ))
    .expect("valid configuration")
}

fn key1_then_identity() -> EncryptionConfig {
    config(&format!("[aesgcm: {{keys: [{{name: key1, secret: {KEY1}}}]}}, identity: {{}}]"))
}

struct Fixture {
    dir: TempDir,
    sqlite: Arc<SqliteStore>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let sqlite = Arc::new(SqliteStore::open(&dir.path().join("state.db")).expect("open store"));
        Self { dir, sqlite }
    }

    fn encrypting(&self, config: EncryptionConfig) -> EncryptingStore {
        EncryptingStore::new(Arc::clone(&self.sqlite) as Arc<dyn Store>, config)
    }

    /// Whether `needle` occurs in the bytes of the database or its WAL.
    fn on_disk(&self, needle: &str) -> bool {
        ["state.db", "state.db-wal"].iter().any(|file| {
            let bytes = std::fs::read(self.dir.path().join(file)).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    }
}

async fn get(store: &dyn Store, key: &str) -> crate::Result<Bytes> {
    let kvs = store.range(RangeRequest { start: key.to_owned(), ..Default::default() }).await?.kvs;
    Ok(kvs.into_iter().next().expect("the key exists").value)
}

#[tokio::test]
async fn secrets_are_not_in_clear_on_disk_and_read_back() {
    let fx = Fixture::new();
    let store = fx.encrypting(key1_then_identity());
    let rev = store.create(SECRET_KEY, value(PLAINTEXT)).await.unwrap();
    let configmap = r#"{"kind":"ConfigMap","note":"configmap-marker-51c2"}"#;
    store.create("/registry/core/configmaps/default/cm", value(configmap)).await.unwrap();

    assert!(fx.on_disk("configmap-marker-51c2"), "the search does find values that are not encrypted");
    assert!(!fx.on_disk("plaintext-marker-7f3a"));
    assert!(!fx.on_disk("aHVudGVyMg=="));
    assert!(fx.on_disk("k8s:enc:aesgcm:v1:key1:"));

    assert_eq!(get(&store, SECRET_KEY).await.unwrap(), value(PLAINTEXT));
    let raw = get(fx.sqlite.as_ref(), SECRET_KEY).await.unwrap();
    assert!(raw.starts_with(b"k8s:enc:aesgcm:v1:key1:"));
    assert_eq!(get(fx.sqlite.as_ref(), "/registry/core/configmaps/default/cm").await.unwrap(), value(configmap));

    let listed = store.range(RangeRequest::prefix("/registry/")).await.unwrap();
    assert_eq!(listed.kvs.len(), 2);
    assert_eq!(listed.kvs[1].value, value(PLAINTEXT));
    assert_eq!(listed.kvs[1].mod_revision, rev);
}

#[tokio::test]
async fn updates_encrypt_and_compare_and_swap_is_unchanged() {
    let fx = Fixture::new();
    let store = fx.encrypting(key1_then_identity());
    let first = store.create(SECRET_KEY, value("v1-marker")).await.unwrap();
    let second = store.update(SECRET_KEY, first, value("v2-marker")).await.unwrap();
    assert_eq!(get(&store, SECRET_KEY).await.unwrap(), value("v2-marker"));
    assert!(!fx.on_disk("v1-marker") && !fx.on_disk("v2-marker"));

    match store.update(SECRET_KEY, first, value("v3")).await {
        Err(Error::Conflict { current, .. }) => {
            assert_eq!((current.value, current.mod_revision), (value("v2-marker"), second));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(store.create(SECRET_KEY, value("again")).await, Err(Error::AlreadyExists(_))));
    assert!(
        matches!(store.delete(SECRET_KEY, first).await, Err(Error::Conflict { current, .. }) if current.value == value("v2-marker"))
    );
    store.delete(SECRET_KEY, second).await.unwrap();
    assert!(matches!(store.update(SECRET_KEY, second, value("x")).await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn watch_events_are_decrypted() {
    let fx = Fixture::new();
    let store = fx.encrypting(key1_then_identity());
    let prefix = "/registry/core/secrets/";
    let start = store.current_revision().await.unwrap();
    let mut live = store.watch(prefix, &prefix_end(prefix), start).await.unwrap();

    let created = store.create(SECRET_KEY, value("one")).await.unwrap();
    let updated = store.update(SECRET_KEY, created, value("two")).await.unwrap();
    store.delete(SECRET_KEY, updated).await.unwrap();

    let mut replayed = store.watch(prefix, &prefix_end(prefix), start).await.unwrap();
    for stream in [&mut live, &mut replayed] {
        let put = next_event(stream).await;
        assert_eq!((put.kind, put.kv.value, put.prev.is_none()), (EventKind::Put, value("one"), true));
        let update = next_event(stream).await;
        assert_eq!((update.kv.value, update.prev.map(|p| p.value)), (value("two"), Some(value("one"))));
        let delete = next_event(stream).await;
        assert_eq!(delete.kind, EventKind::Delete);
        assert_eq!((delete.kv.value, delete.prev.map(|p| p.value)), (value("two"), Some(value("two"))));
    }
}

#[tokio::test]
async fn rotation_reads_old_values_and_writes_with_the_new_key() {
    let fx = Fixture::new();
    let before = fx.encrypting(key1_then_identity());
    let old_rev = before.create(SECRET_KEY, value("written-with-key1")).await.unwrap();

    let rotated = fx.encrypting(config(&format!(
        "[aesgcm: {{keys: [{{name: key2, secret: {KEY2}}}, {{name: key1, secret: {KEY1}}}]}}, identity: {{}}]"
    )));
    assert_eq!(get(&rotated, SECRET_KEY).await.unwrap(), value("written-with-key1"));
    rotated.update(SECRET_KEY, old_rev, value("written-with-key2")).await.unwrap();
    let raw = get(fx.sqlite.as_ref(), SECRET_KEY).await.unwrap();
    assert!(raw.starts_with(b"k8s:enc:aesgcm:v1:key2:"));
    assert_eq!(get(&rotated, SECRET_KEY).await.unwrap(), value("written-with-key2"));

    // Once key1 is dropped and the value rewritten, key1 alone can no longer read it.
    let err = get(&before, SECRET_KEY).await.unwrap_err();
    assert!(err.to_string().contains("k8s:enc:aesgcm:v1:key2:"), "{err}");
}

#[tokio::test]
async fn tampered_values_fail_instead_of_returning_garbage() {
    let fx = Fixture::new();
    let store = fx.encrypting(key1_then_identity());
    let rev = store.create(SECRET_KEY, value(PLAINTEXT)).await.unwrap();
    let mut raw = get(fx.sqlite.as_ref(), SECRET_KEY).await.unwrap().to_vec();
    let middle = raw.len() - 20;
    raw[middle] ^= 0x40;
    fx.sqlite.update(SECRET_KEY, rev, Bytes::from(raw)).await.unwrap();

    match get(&store, SECRET_KEY).await {
        Err(Error::Backend(message)) => {
            assert!(
                message.starts_with(&format!("decrypting {SECRET_KEY}: AES-GCM decryption with key \"key1\" failed"))
            );
        }
        other => panic!("expected a decryption error, got {other:?}"),
    }
    let prefix = "/registry/core/secrets/";
    let mut stream = store.watch(prefix, &prefix_end(prefix), rev).await.unwrap();
    let item = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap();
    assert!(matches!(item, Err(Error::Backend(_))));
}

#[tokio::test]
async fn plain_values_from_before_encryption_read_through_identity() {
    let fx = Fixture::new();
    fx.sqlite.create(SECRET_KEY, value("stored-before-encryption")).await.unwrap();

    let with_identity = fx.encrypting(key1_then_identity());
    assert_eq!(get(&with_identity, SECRET_KEY).await.unwrap(), value("stored-before-encryption"));

    let without_identity = fx.encrypting(config(&format!("[aesgcm: {{keys: [{{name: key1, secret: {KEY1}}}]}}]")));
    let err = get(&without_identity, SECRET_KEY).await.unwrap_err();
    assert!(err.to_string().contains("identity provider is not configured"), "{err}");
}

#[tokio::test]
async fn default_configuration_encrypts_secrets_across_restarts() {
    let fx = Fixture::new();
    let data_dir = fx.dir.path();
    let store = fx.encrypting(EncryptionConfig::load_or_create_default(data_dir).unwrap());
    store.create(SECRET_KEY, value(PLAINTEXT)).await.unwrap();
    assert!(!fx.on_disk("plaintext-marker-7f3a"));

    let restarted = fx.encrypting(EncryptionConfig::load_or_create_default(data_dir).unwrap());
    assert_eq!(get(&restarted, SECRET_KEY).await.unwrap(), value(PLAINTEXT));
}
