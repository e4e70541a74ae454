//! Which store the API server keeps its state in: the embedded SQLite store in the data
//! dir (the default), or etcd when `--etcd-servers` names one (several API servers can then
//! share it). Either way it is wrapped for encryption at rest and for metrics.

use crate::Config;
use crate::metrics::{InstrumentedStore, Metrics};
use anyhow::Context as _;
use std::sync::Arc;
use std::time::Duration;
use storage::Store;

/// How often the store's history is compacted (kube-apiserver's `--etcd-compaction-interval`).
const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);
/// Revisions the embedded store keeps behind the current one when it compacts.
const EMBEDDED_HISTORY: i64 = 1000;

/// Open the configured store, start its compactor, and wrap it.
pub async fn open(config: &Config, metrics: Arc<Metrics>) -> anyhow::Result<Arc<dyn Store>> {
    let backend: Arc<dyn Store> = if config.etcd_servers.is_empty() {
        let db_path = config.data_dir.join("db").join("state.db");
        std::fs::create_dir_all(db_path.parent().expect("db path has a parent"))?;
        let sqlite = Arc::new(storage::sqlite::SqliteStore::open(&db_path).context("opening the state store")?);
        storage::sqlite::spawn_compactor(sqlite.clone(), COMPACTION_INTERVAL, EMBEDDED_HISTORY);
        sqlite
    } else {
        let etcd = storage::etcd::EtcdStore::connect(&config.etcd_servers, &config.etcd_prefix)
            .await
            .with_context(|| format!("connecting to etcd at {}", config.etcd_servers.join(",")))?;
        let etcd = Arc::new(etcd);
        storage::etcd::spawn_compactor(etcd.clone(), COMPACTION_INTERVAL);
        etcd
    };
    let encryption = match &config.encryption_provider_config {
        Some(path) => storage::encryption::EncryptionConfig::load(path),
        None => storage::encryption::EncryptionConfig::load_or_create_default(&config.data_dir),
    }
    .context("loading the encryption provider configuration")?;
    let encrypted = Arc::new(storage::encryption::EncryptingStore::new(backend, encryption));
    Ok(Arc::new(InstrumentedStore { inner: encrypted, metrics }))
}
