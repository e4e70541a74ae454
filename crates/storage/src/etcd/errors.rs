//! Mapping etcd's failures onto [`Error`]: the two revision errors a caller must tell apart
//! (etcd's `ErrCompacted` and `ErrFutureRev`) and everything else as a backend failure.

use etcd_client::KvClient;

use super::{compact, range};
use crate::{Error, Revision};

/// etcd's `mvcc.ErrCompacted`, as its gRPC status message says it.
const COMPACTED: &str = "required revision has been compacted";
/// etcd's `mvcc.ErrFutureRev`.
const FUTURE_REVISION: &str = "required revision is a future revision";

/// What a failed etcd call means to the store.
pub(super) enum Failure {
    /// The revision asked for was compacted.
    Compacted,
    /// The revision asked for is newer than etcd's current one.
    FutureRevision,
    Other(Error),
}

pub(super) fn classify(e: etcd_client::Error) -> Failure {
    if let etcd_client::Error::GRpcStatus(status) = &e {
        if status.message().contains(COMPACTED) {
            return Failure::Compacted;
        }
        if status.message().contains(FUTURE_REVISION) {
            return Failure::FutureRevision;
        }
    }
    Failure::Other(backend(e))
}

pub(super) fn backend(e: etcd_client::Error) -> Error {
    Error::Backend(format!("etcd: {e}"))
}

/// The error for a call that asked for `requested` and failed with `e`, naming the compacted
/// or current revision as [`Error`] does (which takes one more read).
pub(super) async fn at_revision(kv: &mut KvClient, requested: Revision, e: etcd_client::Error) -> Error {
    let lookup = match classify(e) {
        Failure::Other(e) => return e,
        Failure::Compacted => {
            compact::compacted_revision(kv).await.map(|compacted| Error::Compacted { requested, compacted })
        }
        Failure::FutureRevision => {
            range::current_revision(kv).await.map(|current| Error::FutureRevision { requested, current })
        }
    };
    lookup.unwrap_or_else(|e| e)
}
