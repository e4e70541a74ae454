//! The distributed backend: the [`Store`] contract on etcd v3, so that several API servers
//! share one cluster state the way kube-apiservers share etcd.
//!
//! Each method is one etcd call, with three exceptions: a watch first checks with a read that
//! its history is still whole, a compaction records its point before compacting, and an error
//! that must name a revision (the compacted or the current one) reads it:
//! - writes ([`txn`]) are `Txn`s comparing the key's `create_revision` or `mod_revision`,
//!   reading the current value in the `else` branch to report a conflict;
//! - reads ([`range`]) are ranges at a revision with a limit;
//! - watches ([`watch`]) are etcd watches from `after + 1` with previous values;
//! - compaction ([`compact`]) records the compaction point in upstream's `compact_rev_key`,
//!   then compacts etcd; [`spawn_compactor`] runs upstream's periodic compactor.
//!
//! Keys are stored as `prefix + key` (kube-apiserver's `--etcd-prefix`). Krust's keys already
//! start with `/registry/`, so with the empty prefix etcd holds `/registry/core/pods/ns/name`
//! just as the API server names it; a non-empty prefix puts a second cluster in the same etcd.

mod compact;
mod errors;
mod range;
mod txn;
mod watch;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{Client, ConnectOptions, KvClient, WatchClient};

pub use compact::{COMPACT_REV_KEY, spawn_compactor};

use self::errors::backend;
use crate::{Error, KeyValue, RangeRequest, RangeResult, Result, Revision, Store, WatchStream};

/// Largest response accepted from etcd: a list of every object of a kind, or one watch
/// response replaying many revisions, easily exceeds gRPC's 4 MiB default. Upstream's
/// client allows `math.MaxInt32` too.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;
/// HTTP/2 keep-alive, as upstream's etcd client sets it (`DialKeepAliveTime`/`Timeout`):
/// a dead connection fails calls and ends watches instead of hanging them.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`] kept in an etcd v3 cluster.
#[derive(Clone)]
pub struct EtcdStore {
    kv: KvClient,
    watch: WatchClient,
    keys: Keys,
}

impl EtcdStore {
    /// Connects to the etcd cluster at `endpoints` (`http://host:port`, as for
    /// `--etcd-servers`) and checks that it answers. Every key lives under `prefix`.
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<EtcdStore> {
        if endpoints.is_empty() {
            return Err(Error::Backend("no etcd endpoints given".to_owned()));
        }
        let options = ConnectOptions::new()
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_connect_timeout(CONNECT_TIMEOUT)
            // Calls fail rather than wait on a member cut off from its cluster (upstream
            // sets this on watches, which would otherwise hang on such a member).
            .with_require_leader(true);
        let client = Client::connect(endpoints, Some(options)).await.map_err(backend)?;
        let store = EtcdStore {
            kv: client.kv_client().max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client.watch_client().max_decoding_message_size(MAX_RESPONSE_BYTES),
            keys: Keys { prefix: prefix.to_owned() },
        };
        store.current_revision().await?;
        Ok(store)
    }

    /// A KV client for one call (the client's calls take `&mut self`; clones share the channel).
    fn kv(&self) -> KvClient {
        self.kv.clone()
    }
}

/// Maps the store's keys to etcd's and back.
#[derive(Clone, Debug)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn etcd_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The store's view of a key-value pair read from etcd.
    fn key_value(&self, kv: &etcd_client::KeyValue) -> Result<KeyValue> {
        let key = std::str::from_utf8(kv.key())
            .ok()
            .and_then(|key| key.strip_prefix(self.prefix.as_str()))
            .ok_or_else(|| Error::Backend(format!("etcd returned a key outside {:?}: {:?}", self.prefix, kv.key())))?;
        Ok(KeyValue {
            key: key.to_owned(),
            value: Bytes::copy_from_slice(kv.value()),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
        })
    }
}

/// The revision in a response's header (every etcd response carries one).
fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
    header.map(|h| h.revision()).ok_or_else(|| Error::Backend("etcd response without a header".to_owned()))
}

#[async_trait]
impl Store for EtcdStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResult> {
        range::range(self, req).await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        txn::create(self, key, value).await
    }

    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<Revision> {
        txn::update(self, key, expected, value).await
    }

    async fn delete(&self, key: &str, expected: Revision) -> Result<Revision> {
        txn::delete(self, key, expected).await
    }

    async fn watch(&self, start: &str, end: &str, after: Revision) -> Result<WatchStream> {
        watch::watch(self, start, end, after).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        range::current_revision(&mut self.kv()).await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        compact::compact(&mut self.kv(), revision).await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        compact::compacted_revision(&mut self.kv()).await
    }
}

#[cfg(test)]
mod tests;
