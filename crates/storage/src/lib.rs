//! The cluster state store, as the API server sees it.
//!
//! [`Store`] is the MVCC contract of etcd v3, narrowed to what an API server needs:
//! one cluster-wide revision that every write advances, compare-and-swap on a key's
//! `mod_revision`, range reads at a past revision, watches that replay history from any
//! revision not yet compacted, and compaction. Every method maps onto one etcd call (a
//! `Txn` for the conditional writes), so the etcd backend is a thin adapter.
//!
//! The embedded backend is [`sqlite::SqliteStore`]: a log of revisions in SQLite
//! (kine's layout), written through one group-committing writer so a write is only
//! acknowledged once it is durable on disk. The distributed backend is
//! [`etcd::EtcdStore`]: the same contract on an etcd v3 cluster, which several API servers
//! can share.
//!
//! Start at [`Store`]; the error type is [`Error`].

#[cfg(test)]
mod contract_tests;
pub mod encryption;
mod error;
pub mod etcd;
pub mod sqlite;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use error::{Error, Result};

/// A revision of the whole store. Every successful write advances it by one; it is what
/// the API calls `resourceVersion`. Revision 0 means "none" (no key has it).
pub type Revision = i64;

/// One key as stored at some revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// The revision at which this key was (last) created.
    pub create_revision: Revision,
    /// The revision of the last write to this key; the compare-and-swap token.
    pub mod_revision: Revision,
}

/// The result of a range read.
#[derive(Clone, Debug, Default)]
pub struct RangeResult {
    /// Keys in ascending order, at most `limit` of them when a limit was given.
    pub kvs: Vec<KeyValue>,
    /// True when more keys match beyond the last one returned.
    pub more: bool,
    /// The revision the read was served at (the store's current one when not asked for one).
    pub revision: Revision,
}

/// A range read: keys `>= start` and `< end` (`end` empty: just `start`), at `revision`
/// (0: current), at most `limit` keys (0: all).
#[derive(Clone, Debug, Default)]
pub struct RangeRequest {
    pub start: String,
    pub end: String,
    pub revision: Revision,
    pub limit: usize,
}

impl RangeRequest {
    /// Every key under `prefix` (which should end in `/`), at the current revision.
    pub fn prefix(prefix: &str) -> Self {
        Self { start: prefix.to_owned(), end: prefix_end(prefix), revision: 0, limit: 0 }
    }
}

/// The smallest key greater than every key starting with `prefix` (etcd's `GetPrefixRangeEnd`).
pub fn prefix_end(prefix: &str) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    while let Some(last) = bytes.pop() {
        if last < 0xff {
            bytes.push(last + 1);
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    // A prefix of all 0xff bytes: no upper bound. Keys are ASCII paths, so this is moot.
    "\u{10ffff}".to_owned()
}

/// What happened to a key, as a watch reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Created or updated: `kv` is the new value; `prev` the one before, if any.
    Put,
    /// Deleted: `kv` holds the key with `mod_revision` = the deleting revision and the
    /// last value; `prev` is that last value too.
    Delete,
}

#[derive(Clone, Debug)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
    pub prev: Option<KeyValue>,
}

/// A watch stream: events in revision order. It ends with `Err(Error::Compacted)` if the
/// watcher fell so far behind that the history it needs was compacted away.
pub type WatchStream = BoxStream<'static, Result<Event>>;

/// A backend's watcher, read one event at a time (`None`: the watch is over).
trait EventSource: Send + Sized + 'static {
    fn next(&mut self) -> impl Future<Output = Option<Result<Event>>> + Send;

    fn into_stream(self) -> WatchStream {
        use futures::StreamExt;
        futures::stream::unfold(self, |mut source| async move {
            let item = source.next().await?;
            Some((item, source))
        })
        .boxed()
    }
}

/// The store contract. Implementations must be linearizable: a read that starts after a
/// write was acknowledged sees it, and revisions are assigned in commit order.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Read keys, at the current revision or a past one still held.
    /// A past revision older than the compacted one fails with [`Error::Compacted`];
    /// one newer than the current fails with [`Error::FutureRevision`].
    async fn range(&self, req: RangeRequest) -> Result<RangeResult>;

    /// Create `key` if it does not exist. Returns the new revision.
    /// Fails with [`Error::AlreadyExists`] otherwise.
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision>;

    /// Replace `key` if its `mod_revision` is still `expected` (compare-and-swap).
    /// Returns the new revision. Fails with [`Error::NotFound`] if the key is gone, or
    /// [`Error::Conflict`] (carrying the current value) if it changed meanwhile.
    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<Revision>;

    /// Delete `key` if its `mod_revision` is still `expected` (0: whatever it is).
    /// Returns the deleting revision. Errors as for [`Store::update`].
    async fn delete(&self, key: &str, expected: Revision) -> Result<Revision>;

    /// Stream every change to keys in `[start, end)` made after revision `after`
    /// (so `after = current` sees only new writes). Fails at once with
    /// [`Error::Compacted`] when `after` is older than the compacted revision.
    async fn watch(&self, start: &str, end: &str, after: Revision) -> Result<WatchStream>;

    /// The current revision (the last committed write's).
    async fn current_revision(&self) -> Result<Revision>;

    /// Forget history at and before `revision`: superseded values and deletions up to it
    /// are dropped, and reads or watches from before it fail with [`Error::Compacted`].
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The oldest revision still readable: the last compaction point (0 before any).
    async fn compacted_revision(&self) -> Result<Revision>;
}
