//! Compaction, and knowing where it stands.
//!
//! etcd does not say how far it has been compacted, so the point is recorded where upstream's
//! compactor (k8s.io/apiserver/pkg/storage/etcd3/compact.go) records it: the key
//! [`COMPACT_REV_KEY`], whose value is the revision last compacted to (decimal) and whose
//! `version` serves the API servers sharing the etcd as a logical clock. Like compaction, it
//! is etcd-wide, so it lives outside the store's prefix (upstream's key exactly).
//!
//! [`compact`] records the point with a compare-and-swap on that version, then compacts
//! etcd; [`compacted_revision`] reads the record and checks it with a read at that
//! revision, so a compaction done by anyone else (etcdctl, etcd's own auto-compaction) is
//! found too: a bisection between the record and the current revision pins it down.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{CompactionOptions, Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp, TxnOpResponse};
use tokio::task::JoinHandle;

use super::errors::{self, Failure};
use super::{EtcdStore, header_revision};
use crate::{Error, Result, Revision};

/// Where the compaction point is recorded (upstream's `compactRevKey`).
pub const COMPACT_REV_KEY: &str = "compact_rev_key";

/// The record: the revision last compacted to and the key's version (0, 0 when absent).
struct Record {
    revision: Revision,
    version: i64,
}

impl Record {
    fn parse(kv: Option<&etcd_client::KeyValue>) -> Result<Record> {
        let Some(kv) = kv else { return Ok(Record { revision: 0, version: 0 }) };
        let revision = std::str::from_utf8(kv.value())
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| Error::Backend(format!("{COMPACT_REV_KEY} holds no revision: {:?}", kv.value())))?;
        Ok(Record { revision, version: kv.version() })
    }
}

/// Compacts etcd at `revision` unless it already is at or beyond it. Fails with
/// [`Error::FutureRevision`] beyond the current revision. Recording the point is itself a
/// write, so it advances the revision by one (as upstream's compactor does).
pub(super) async fn compact(kv: &mut KvClient, revision: Revision) -> Result<()> {
    loop {
        let read = kv.get(COMPACT_REV_KEY, None).await.map_err(errors::backend)?;
        let current = header_revision(read.header())?;
        if revision > current {
            return Err(Error::FutureRevision { requested: revision, current });
        }
        let record = Record::parse(read.kvs().first())?;
        if revision <= record.revision {
            // Already recorded: make sure etcd got there too (a no-op when it did), in case
            // the compaction after an earlier record failed.
            return compact_etcd(kv, record.revision).await;
        }
        let txn = Txn::new()
            .when([Compare::version(COMPACT_REV_KEY, CompareOp::Equal, record.version)])
            .and_then([TxnOp::put(COMPACT_REV_KEY, revision.to_string(), None)]);
        if kv.txn(txn).await.map_err(errors::backend)?.succeeded() {
            return compact_etcd(kv, revision).await;
        }
        // Another store recorded a compaction meanwhile: look again.
    }
}

/// etcd's compaction, waiting until it is applied (`physical`). Compacting at or below
/// where etcd already is is no error here: the history is gone either way.
async fn compact_etcd(kv: &mut KvClient, revision: Revision) -> Result<()> {
    if revision <= 0 {
        return Ok(());
    }
    match kv.compact(revision, Some(CompactionOptions::new().with_physical())).await {
        Ok(_) => Ok(()),
        Err(e) => match errors::classify(e) {
            Failure::Compacted => Ok(()),
            Failure::FutureRevision => Err(Error::Backend(format!("etcd: compaction at future revision {revision}"))),
            Failure::Other(e) => Err(e),
        },
    }
}

/// The oldest revision still readable: the recorded point, or beyond it if etcd was
/// compacted further by something that did not record it.
pub(super) async fn compacted_revision(kv: &mut KvClient) -> Result<Revision> {
    let read = kv.get(COMPACT_REV_KEY, None).await.map_err(errors::backend)?;
    let current = header_revision(read.header())?;
    let recorded = Record::parse(read.kvs().first())?.revision;
    // etcd's first revision is 1; a read there works until the first compaction past it.
    let mut unreadable = recorded.max(1);
    if readable_at(kv, unreadable).await? {
        return Ok(recorded);
    }
    // Bisect: `unreadable` fails, `current` is always readable.
    let mut readable = current;
    while readable - unreadable > 1 {
        let middle = unreadable + (readable - unreadable) / 2;
        if readable_at(kv, middle).await? {
            readable = middle;
        } else {
            unreadable = middle;
        }
    }
    Ok(readable)
}

/// Whether etcd still serves reads at `revision`.
async fn readable_at(kv: &mut KvClient, revision: Revision) -> Result<bool> {
    let options = GetOptions::new().with_revision(revision).with_count_only();
    match kv.get(COMPACT_REV_KEY, Some(options)).await {
        Ok(_) => Ok(true),
        Err(e) => match errors::classify(e) {
            Failure::Compacted => Ok(false),
            Failure::FutureRevision => Ok(true),
            Failure::Other(e) => Err(e),
        },
    }
}

/// Upstream's periodic compactor: every `interval`, compact to the revision seen one
/// interval earlier, so clients keep at least `interval` of history to resume watches from.
/// API servers sharing the etcd coordinate through [`COMPACT_REV_KEY`]'s version: only the
/// one whose view of it is current wins a round, so etcd is compacted about once per
/// interval however many run. The task ends once the store has been dropped.
pub fn spawn_compactor(store: Arc<EtcdStore>, interval: Duration) -> JoinHandle<()> {
    let store = Arc::downgrade(&store);
    tokio::spawn(async move {
        // The record's version this compactor saw last, and the revision it saw then.
        let (mut seen_version, mut seen_revision) = (0, 0);
        loop {
            tokio::time::sleep(interval).await;
            let Some(store) = store.upgrade() else { return };
            match compactor_round(&mut store.kv(), seen_version, seen_revision).await {
                Ok((version, revision)) => (seen_version, seen_revision) = (version, revision),
                Err(e) => tracing::warn!(error = %e, "storage: etcd compaction failed"),
            }
        }
    })
}

/// One round of upstream's compactor: if nobody touched the record since this compactor saw
/// it at `version`, record and compact to `revision` (the one seen then). Returns the
/// record's version and the current revision, the next round's inputs.
async fn compactor_round(kv: &mut KvClient, version: i64, revision: Revision) -> Result<(i64, Revision)> {
    let txn = Txn::new()
        .when([Compare::version(COMPACT_REV_KEY, CompareOp::Equal, version)])
        .and_then([TxnOp::put(COMPACT_REV_KEY, revision.to_string(), None)])
        .or_else([TxnOp::get(COMPACT_REV_KEY, None)]);
    let response = kv.txn(txn).await.map_err(errors::backend)?;
    let current = header_revision(response.header())?;
    if !response.succeeded() {
        let version = match response.op_responses().first() {
            Some(TxnOpResponse::Get(get)) => Record::parse(get.kvs().first())?.version,
            other => return Err(Error::Backend(format!("etcd txn: expected {COMPACT_REV_KEY}'s read, got {other:?}"))),
        };
        return Ok((version, current));
    }
    // The first round only starts the clock (upstream does not compact on bootstrap).
    compact_etcd(kv, revision).await?;
    Ok((version + 1, current))
}
