//! The embedded backend: a revision log in SQLite (kine's layout) behind one
//! group-committing writer, with the current state in memory.
//!
//! - Writes go through the writer thread ([`writer`]): a write is acknowledged only after
//!   the transaction holding it has been committed with `synchronous=FULL`.
//! - Reads at the current revision are served from memory ([`state`]); reads at a past
//!   revision and watch replays read the log ([`history`]).
//! - Watches ([`watch`]) replay the log, then follow the writer's broadcast.
//! - Compaction ([`compact`]) trims superseded history; [`spawn_compactor`] runs it
//!   periodically.

mod compact;
mod history;
mod schema;
mod state;
mod watch;
mod writer;

use std::path::Path;
use std::sync::{Arc, RwLock, mpsc};
use std::thread;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{broadcast, oneshot};

pub use compact::spawn_compactor;

use self::history::History;
use self::state::{State, range_end};
use self::watch::Watcher;
use self::writer::{Batch, Op, Request, Writer};
use crate::{Error, EventSource as _, RangeRequest, RangeResult, Result, Revision, Store, WatchStream};

/// How many committed batches the broadcast holds for slow watchers before they have to
/// catch up from the log.
const WATCH_BUFFER: usize = 1024;

/// A [`Store`] kept in one SQLite database file (plus its `-wal` and `-shm` files).
pub struct SqliteStore {
    /// Requests to the writer; `None` only while dropping.
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<thread::JoinHandle<()>>,
    state: Arc<RwLock<State>>,
    history: Arc<History>,
    events: broadcast::Sender<Batch>,
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` and rebuilds the current state from it.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_watch_buffer(path, WATCH_BUFFER)
    }

    fn open_with_watch_buffer(path: &Path, watch_buffer: usize) -> Result<Self> {
        let conn = schema::open_writer(path)?;
        let state = Arc::new(RwLock::new(schema::load_state(&conn)?));
        let (events, _) = broadcast::channel(watch_buffer);
        let (requests, receiver) = mpsc::channel();
        let writer = Writer { conn, requests: receiver, state: Arc::clone(&state), events: events.clone() };
        let writer = thread::Builder::new()
            .name("storage-writer".to_owned())
            .spawn(move || writer.run())
            .map_err(|e| Error::Backend(format!("starting the writer thread: {e}")))?;
        Ok(Self {
            requests: Some(requests),
            writer: Some(writer),
            state,
            history: Arc::new(History::new(path.to_owned())),
            events,
        })
    }

    /// Hands `op` to the writer and waits until it is durable (or refused).
    async fn submit(&self, op: Op) -> Result<Revision> {
        let closed = || Error::Backend("the storage writer has stopped".to_owned());
        let (reply, outcome) = oneshot::channel();
        self.requests.as_ref().ok_or_else(closed)?.send(Request { op, reply }).map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for SqliteStore {
    /// Closes the request channel and waits for the writer to finish its last batch, so the
    /// database is closed cleanly and can be reopened at once.
    fn drop(&mut self) {
        self.requests.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("storage: the writer thread panicked");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn range(&self, req: RangeRequest) -> Result<RangeResult> {
        let end = range_end(&req.start, &req.end);
        {
            let state = self.read_state();
            if req.revision == 0 || req.revision == state.revision {
                return Ok(state.range(&req.start, &end, req.limit));
            }
            if req.revision > state.revision {
                return Err(Error::FutureRevision { requested: req.revision, current: state.revision });
            }
            if req.revision < state.compacted {
                return Err(Error::Compacted { requested: req.revision, compacted: state.compacted });
            }
        }
        self.history.range_at(req.start, end, req.revision, req.limit).await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        self.submit(Op::Create { key: key.to_owned(), value }).await
    }

    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<Revision> {
        self.submit(Op::Update { key: key.to_owned(), expected, value }).await
    }

    async fn delete(&self, key: &str, expected: Revision) -> Result<Revision> {
        self.submit(Op::Delete { key: key.to_owned(), expected }).await
    }

    async fn watch(&self, start: &str, end: &str, after: Revision) -> Result<WatchStream> {
        // Subscribe before reading the log: whatever commits after the read arrives live.
        let live = self.events.subscribe();
        let end = range_end(start, end);
        let watcher = Watcher::start(Arc::clone(&self.history), live, start.to_owned(), end, after).await?;
        Ok(watcher.into_stream())
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.read_state().revision)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.submit(Op::Compact { revision }).await.map(drop)
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.read_state().compacted)
    }
}

#[cfg(test)]
mod tests;
