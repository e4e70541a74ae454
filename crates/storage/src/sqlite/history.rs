//! Reads of the log in SQLite: ranges at a past revision and the change log a watch
//! replays. Each runs in one read transaction, so its compaction check and its rows come
//! from the same snapshot, on a pooled read connection off the async runtime.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rusqlite::{Connection, Row};

use super::schema;
use crate::{Error, Event, EventKind, KeyValue, RangeResult, Result, Revision};

/// Read connections, opened on demand and kept for reuse.
pub(super) struct History {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Changes of a range read from the log.
pub(super) struct LogPage {
    pub events: Vec<Event>,
    /// The newest revision the page's snapshot held, when the page holds every matching
    /// change up to it; `None` when the page was cut at its size limit.
    pub complete_through: Option<Revision>,
}

impl History {
    pub fn new(path: PathBuf) -> Self {
        Self { path, idle: Mutex::new(Vec::new()) }
    }

    /// Runs `read` on a read connection in a blocking thread.
    async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let history = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let idle = history.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => schema::open_reader(&history.path)?,
            };
            let result = read(&mut conn);
            history.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(conn);
            result
        })
        .await
        .map_err(|e| Error::Backend(format!("history read task failed: {e}")))?
    }

    /// Keys in `[start, end)` as they were at `revision`, at most `limit` (0: all).
    pub async fn range_at(
        self: &Arc<Self>,
        start: String,
        end: String,
        revision: Revision,
        limit: usize,
    ) -> Result<RangeResult> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            check_not_compacted(&tx, revision)?;
            // One row more than asked tells whether there are more.
            let fetch = if limit == 0 { -1 } else { limit as i64 + 1 };
            let mut stmt = tx.prepare_cached(
                "SELECT l.key, l.value, l.create_revision, l.revision
                 FROM log l JOIN (
                     SELECT MAX(revision) AS revision FROM log
                     WHERE key >= ?1 AND key < ?2 AND revision <= ?3 GROUP BY key
                 ) latest ON l.revision = latest.revision
                 WHERE l.deleted = 0
                 ORDER BY l.key LIMIT ?4",
            )?;
            let mut kvs = stmt
                .query_map(rusqlite::params![start, end, revision, fetch], |row| key_value(row, 0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = limit != 0 && kvs.len() > limit;
            kvs.truncate(if more { limit } else { kvs.len() });
            Ok(RangeResult { kvs, more, revision })
        })
        .await
    }

    /// Up to `page` changes to keys in `[start, end)` after revision `after`, oldest first.
    /// Fails with [`Error::Compacted`] when changes after `after` may have been compacted.
    pub async fn changes_after(
        self: &Arc<Self>,
        start: String,
        end: String,
        after: Revision,
        page: usize,
    ) -> Result<LogPage> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            check_not_compacted(&tx, after)?;
            let newest: Revision = tx.query_row("SELECT COALESCE(MAX(revision), 0) FROM log", [], |row| row.get(0))?;
            let mut stmt = tx.prepare_cached(
                "SELECT l.key, l.value, l.create_revision, l.revision, l.deleted,
                        p.key, p.value, p.create_revision, p.revision
                 FROM log l LEFT JOIN log p ON p.revision = l.prev_revision AND p.deleted = 0
                 WHERE l.revision > ?1 AND l.key >= ?2 AND l.key < ?3
                 ORDER BY l.revision LIMIT ?4",
            )?;
            let events = stmt
                .query_map(rusqlite::params![after, start, end, page as i64], |row| {
                    let kv = key_value(row, 0)?;
                    let deleted: bool = row.get(4)?;
                    let prev = match row.get::<_, Option<String>>(5)? {
                        Some(_) => Some(key_value(row, 5)?),
                        None => None,
                    };
                    Ok(Event { kind: if deleted { EventKind::Delete } else { EventKind::Put }, kv, prev })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let complete_through = (events.len() < page).then_some(newest);
            Ok(LogPage { events, complete_through })
        })
        .await
    }
}

/// Fails when `revision` is older than the compacted revision of this snapshot.
fn check_not_compacted(tx: &Connection, revision: Revision) -> Result<()> {
    let compacted = schema::compacted_revision(tx)?;
    if revision < compacted {
        return Err(Error::Compacted { requested: revision, compacted });
    }
    Ok(())
}

/// Reads `key, value, create_revision, revision` starting at column `first`.
fn key_value(row: &Row<'_>, first: usize) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: row.get(first)?,
        value: Bytes::from(row.get::<_, Vec<u8>>(first + 1)?),
        create_revision: row.get(first + 2)?,
        mod_revision: row.get(first + 3)?,
    })
}
