//! Watches: one etcd watch per stream, from `after + 1` with previous values.
//!
//! etcd replays history from the start revision and then follows live writes, in revision
//! order, on one gRPC stream. What this adds is the contract's failure modes:
//! - a start before the compacted revision fails at once: a read at `after` checks it first
//!   (etcd itself would only cancel the watch a moment after creating it);
//! - a compaction that overtakes the watch ends the stream with [`Error::Compacted`]:
//!   etcd cancels the watch with `compact_revision`, or, when the compaction lands exactly
//!   where the watch starts, an event comes without the previous value it needs;
//! - a broken or cancelled etcd stream ends the stream with an error, so the caller relists
//!   instead of waiting on a watch that will never deliver again.

use std::collections::VecDeque;

use etcd_client::{EventType, GetOptions, KvClient, WatchOptions, WatchResponse};

use super::compact::{self, COMPACT_REV_KEY};
use super::errors::{self, Failure};
use super::{EtcdStore, Keys};
use crate::{Error, Event, EventKind, EventSource as _, Result, Revision, WatchStream};

pub(super) async fn watch(store: &EtcdStore, start: &str, end: &str, after: Revision) -> Result<WatchStream> {
    let mut kv = store.kv();
    check_not_compacted(&mut kv, after).await?;
    let mut options = WatchOptions::new().with_start_revision(after + 1).with_prev_key();
    // An empty `end` watches `start` alone, as etcd does without a range end.
    if !end.is_empty() {
        options = options.with_range(store.keys.etcd_key(end));
    }
    let mut stream =
        store.watch.clone().watch(store.keys.etcd_key(start), Some(options)).await.map_err(errors::backend)?;
    // The first response confirms the watch (or says why etcd refused it).
    match stream.message().await.map_err(errors::backend)? {
        Some(response) if response.created() && !response.canceled() => {}
        Some(response) => return Err(refused(&mut kv, after, &response).await),
        None => return Err(Error::Backend("etcd closed the watch before creating it".to_owned())),
    }
    let watcher = Watcher { stream, kv, keys: store.keys.clone(), last: after, queued: VecDeque::new(), ending: None };
    Ok(watcher.into_stream())
}

/// Fails with [`Error::Compacted`] when history after `after` is no longer whole. A read at
/// `after` fails exactly when `after` is older than etcd's compaction point (etcd's first
/// revision, 1, holds no write, so `after = 0` is checked there).
async fn check_not_compacted(kv: &mut KvClient, after: Revision) -> Result<()> {
    let options = GetOptions::new().with_revision(after.max(1)).with_count_only();
    match kv.get(COMPACT_REV_KEY, Some(options)).await {
        Ok(_) => Ok(()),
        Err(e) => match errors::classify(e) {
            Failure::Compacted => Err(compacted(kv, after, None).await),
            // A watch from the future waits for it, as etcd's own does.
            Failure::FutureRevision => Ok(()),
            Failure::Other(e) => Err(e),
        },
    }
}

/// [`Error::Compacted`] for a watcher that needs history after `requested`; `known` is the
/// compaction point when etcd said it.
async fn compacted(kv: &mut KvClient, requested: Revision, known: Option<Revision>) -> Error {
    let compacted = match known {
        Some(revision) => Ok(revision),
        None => compact::compacted_revision(kv).await,
    };
    match compacted {
        Ok(compacted) => Error::Compacted { requested, compacted },
        Err(e) => e,
    }
}

/// Why etcd cancelled a watch: its history was compacted away, or another reason it gave.
async fn refused(kv: &mut KvClient, requested: Revision, response: &WatchResponse) -> Error {
    if response.compact_revision() > 0 {
        return compacted(kv, requested, Some(response.compact_revision())).await;
    }
    Error::Backend(format!("etcd cancelled the watch: {}", response.cancel_reason()))
}

struct Watcher {
    /// Holds the request half too: dropping it would close the watch on etcd's side.
    stream: etcd_client::WatchStream,
    kv: KvClient,
    keys: Keys,
    /// The revision of the last event delivered (or the watch's `after`).
    last: Revision,
    queued: VecDeque<Event>,
    /// Set when the stream must end: the error to deliver once `queued` is drained, then `None`.
    ending: Option<Option<Error>>,
}

impl crate::EventSource for Watcher {
    async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some(Ok(event));
            }
            if let Some(ending) = &mut self.ending {
                return ending.take().map(Err);
            }
            let failure = match self.stream.message().await {
                Ok(Some(response)) => self.receive(&response).await,
                Ok(None) => Some(Error::Backend("the etcd watch stream ended".to_owned())),
                Err(e) => Some(errors::backend(e)),
            };
            if let Some(e) = failure {
                self.ending = Some(Some(e));
            }
        }
    }
}

impl Watcher {
    /// Queues a response's events; returns the error that ends the stream, if any.
    async fn receive(&mut self, response: &WatchResponse) -> Option<Error> {
        if response.canceled() || response.compact_revision() > 0 {
            return Some(refused(&mut self.kv, self.last, response).await);
        }
        for event in response.events() {
            match self.convert(event) {
                Ok(Some(event)) => {
                    self.last = event.kv.mod_revision;
                    self.queued.push_back(event);
                }
                // The previous value was compacted away: the history is no longer whole.
                Ok(None) => return Some(compacted(&mut self.kv, self.last, None).await),
                Err(e) => return Some(e),
            }
        }
        None
    }

    /// The store's event for etcd's, or `None` when etcd could not give the previous value
    /// that an update or a delete must carry.
    fn convert(&self, event: &etcd_client::Event) -> Result<Option<Event>> {
        let kv = event.kv().ok_or_else(|| Error::Backend("etcd watch event without a key".to_owned()))?;
        let kv = self.keys.key_value(kv)?;
        if kv.mod_revision < self.last {
            return Err(Error::Backend(format!(
                "etcd watch went back from revision {} to {} for {:?}",
                self.last, kv.mod_revision, kv.key
            )));
        }
        let prev = event.prev_kv().map(|prev| self.keys.key_value(prev)).transpose()?;
        Ok(match event.event_type() {
            EventType::Put if kv.create_revision == kv.mod_revision => Some(Event { kind: EventKind::Put, kv, prev }),
            EventType::Put => prev.map(|prev| Event { kind: EventKind::Put, kv, prev: Some(prev) }),
            // etcd's deletion carries only the key and the deleting revision; the contract's
            // carries the last value and its create revision too.
            EventType::Delete => prev.map(|prev| Event {
                kind: EventKind::Delete,
                kv: crate::KeyValue { mod_revision: kv.mod_revision, ..prev.clone() },
                prev: Some(prev),
            }),
        })
    }
}
