//! The single writer: one thread owns the write connection and commits requests in groups.
//!
//! Callers queue requests on a channel. The thread takes every request queued at that
//! moment (up to [`MAX_BATCH`]), evaluates them in order inside one transaction (each
//! create or compare-and-swap sees the effect of the earlier requests of the batch),
//! commits once, which is one fsync, and only then updates the in-memory state, broadcasts
//! the events and answers each caller. While one batch is being fsynced the next one queues,
//! so throughput grows with the number of concurrent callers.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, mpsc};

use bytes::Bytes;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{broadcast, oneshot};

use super::state::State;
use super::{compact, schema};
use crate::{Error, Event, EventKind, KeyValue, Result, Revision};

/// The most requests committed in one transaction; bounds the latency of the first caller.
const MAX_BATCH: usize = 1024;

/// The events of one committed batch, in revision order.
pub(super) type Batch = Arc<[Event]>;

/// A change asked of the writer.
pub(super) enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        expected: Revision,
        value: Bytes,
    },
    /// `expected` 0: whatever the current revision is.
    Delete {
        key: String,
        expected: Revision,
    },
    Compact {
        revision: Revision,
    },
}

/// An [`Op`] and where to send its outcome: the new revision (for a compaction, the
/// compacted revision).
pub(super) struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Revision>>,
}

pub(super) struct Writer {
    pub conn: Connection,
    pub requests: mpsc::Receiver<Request>,
    pub state: Arc<RwLock<State>>,
    pub events: broadcast::Sender<Batch>,
}

impl Writer {
    /// Serves requests until every sender is gone.
    pub fn run(mut self) {
        while let Ok(first) = self.requests.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self.requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&mut self, batch: Vec<Request>) {
        let applied = {
            let state = self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            apply(&mut self.conn, &state, &batch)
        };
        match applied {
            Ok((changes, outcomes)) => {
                let compacted = changes.compacted.is_some();
                self.publish(changes);
                // Before answering, so that a finished compaction has given its space back.
                if compacted && let Err(e) = compact::reclaim_space(&self.conn) {
                    tracing::warn!(error = %e, "storage: reclaiming space after compaction failed");
                }
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    // A caller that stopped waiting no longer needs its answer.
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storage: write batch failed and was rolled back");
                for request in batch {
                    let _ = request.reply.send(Err(Error::Backend(e.to_string())));
                }
            }
        }
    }

    /// Makes a committed batch visible: memory first, so that readers see it by the time
    /// its callers are answered, then watchers.
    fn publish(&self, changes: Changes) {
        {
            let mut state = self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            for (key, kv) in changes.keys {
                match kv {
                    Some(kv) => state.kvs.insert(key, kv),
                    None => state.kvs.remove(&key),
                };
            }
            state.revision = changes.revision;
            if let Some(compacted) = changes.compacted {
                state.compacted = compacted;
            }
        }
        if !changes.events.is_empty() {
            // No receiver just means nobody watches.
            let _ = self.events.send(changes.events.into());
        }
    }
}

/// What a batch changed, relative to the committed state it started from.
struct Changes {
    /// The batch's writes by key; `None` marks a deletion.
    keys: HashMap<String, Option<KeyValue>>,
    /// The revision of the batch's last write (the starting revision if none succeeded).
    revision: Revision,
    compacted: Option<Revision>,
    events: Vec<Event>,
}

impl Changes {
    /// The key as the batch sees it so far.
    fn current(&self, state: &State, key: &str) -> Option<KeyValue> {
        match self.keys.get(key) {
            Some(kv) => kv.clone(),
            None => state.kvs.get(key).cloned(),
        }
    }

    fn next_revision(&mut self) -> Revision {
        self.revision += 1;
        self.revision
    }
}

/// Runs a batch in one transaction and commits it. The outer error is a backend failure
/// (nothing was written); the inner results are each request's own outcome.
fn apply(conn: &mut Connection, state: &State, batch: &[Request]) -> Result<(Changes, Vec<Result<Revision>>)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut changes = Changes { keys: HashMap::new(), revision: state.revision, compacted: None, events: Vec::new() };
    let mut outcomes = Vec::with_capacity(batch.len());
    for request in batch {
        outcomes.push(apply_op(&tx, state, &mut changes, &request.op)?);
    }
    tx.commit()?;
    Ok((changes, outcomes))
}

fn apply_op(tx: &Connection, state: &State, changes: &mut Changes, op: &Op) -> Result<Result<Revision>> {
    match op {
        Op::Create { key, value } => {
            if changes.current(state, key).is_some() {
                return Ok(Err(Error::AlreadyExists(key.clone())));
            }
            let revision = changes.next_revision();
            let kv =
                KeyValue { key: key.clone(), value: value.clone(), create_revision: revision, mod_revision: revision };
            schema::insert_row(tx, revision, &kv, 0, false)?;
            changes.keys.insert(key.clone(), Some(kv.clone()));
            changes.events.push(Event { kind: EventKind::Put, kv, prev: None });
            Ok(Ok(revision))
        }
        Op::Update { key, expected, value } => {
            let current = match check(changes.current(state, key), key, Some(*expected)) {
                Ok(current) => current,
                Err(e) => return Ok(Err(e)),
            };
            let revision = changes.next_revision();
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: current.create_revision,
                mod_revision: revision,
            };
            schema::insert_row(tx, revision, &kv, current.mod_revision, false)?;
            changes.keys.insert(key.clone(), Some(kv.clone()));
            changes.events.push(Event { kind: EventKind::Put, kv, prev: Some(current) });
            Ok(Ok(revision))
        }
        Op::Delete { key, expected } => {
            let expected = (*expected != 0).then_some(*expected);
            let current = match check(changes.current(state, key), key, expected) {
                Ok(current) => current,
                Err(e) => return Ok(Err(e)),
            };
            let revision = changes.next_revision();
            // The tombstone keeps the last value so a watch replaying it can report it.
            let tombstone = KeyValue { mod_revision: revision, ..current.clone() };
            schema::insert_row(tx, revision, &tombstone, current.mod_revision, true)?;
            changes.keys.insert(key.clone(), None);
            changes.events.push(Event { kind: EventKind::Delete, kv: tombstone, prev: Some(current) });
            Ok(Ok(revision))
        }
        Op::Compact { revision } => {
            let compacted = changes.compacted.unwrap_or(state.compacted);
            if *revision > changes.revision {
                return Ok(Err(Error::FutureRevision { requested: *revision, current: changes.revision }));
            }
            if *revision <= compacted {
                return Ok(Ok(compacted));
            }
            compact::remove_history(tx, *revision)?;
            changes.compacted = Some(*revision);
            Ok(Ok(*revision))
        }
    }
}

/// The compare-and-swap check of updates and deletes (`expected` `None`: any revision).
fn check(current: Option<KeyValue>, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
    match (current, expected) {
        (None, _) => Err(Error::NotFound(key.to_owned())),
        (Some(current), Some(expected)) if current.mod_revision != expected => {
            Err(Error::Conflict { key: key.to_owned(), expected, current: Box::new(current) })
        }
        (Some(current), _) => Ok(current),
    }
}
