//! The on-disk layout (kine's): a log with one row per revision, and a meta table holding
//! the compacted revision. Also the connection settings every connection shares, and the
//! rebuild of the in-memory current state from the log when a store opens.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, params};

use super::state::State;
use crate::{KeyValue, Result, Revision};

/// How long a connection waits on SQLite's file locks (a checkpoint, another process) before
/// reporting `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the connection the writer thread owns, creating the database if needed.
///
/// `auto_vacuum` must be chosen before the first table exists, so it is set before the
/// schema is created; on a database that already has tables it is left as it is.
pub(super) fn open_writer(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    // WAL: readers never block the writer. FULL: every commit is fsynced before it returns,
    // so an acknowledged write survives a crash of the process or the machine.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS log (
             revision INTEGER PRIMARY KEY,
             key TEXT NOT NULL,
             value BLOB NOT NULL,
             create_revision INTEGER NOT NULL,
             prev_revision INTEGER NOT NULL,
             deleted INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
         CREATE TABLE IF NOT EXISTS meta (
             name TEXT PRIMARY KEY,
             value INTEGER NOT NULL
         );
         INSERT OR IGNORE INTO meta (name, value) VALUES ('compacted_revision', 0);",
    )?;
    Ok(conn)
}

/// Opens a connection for reading history (past revisions, watch replay).
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// The compacted revision as recorded in the database (0: never compacted).
pub(super) fn compacted_revision(conn: &Connection) -> Result<Revision> {
    Ok(conn.query_row("SELECT value FROM meta WHERE name = 'compacted_revision'", [], |row| row.get(0))?)
}

/// Rebuilds the current state: the latest row of every key that is not a deletion.
pub(super) fn load_state(conn: &Connection) -> Result<State> {
    let compacted = compacted_revision(conn)?;
    // A compaction may have removed the newest row (a deletion at the compacted revision),
    // so the revision counter is the larger of the newest row and the compacted revision.
    let newest: Revision = conn.query_row("SELECT COALESCE(MAX(revision), 0) FROM log", [], |row| row.get(0))?;
    let mut stmt = conn.prepare(
        "SELECT l.key, l.value, l.create_revision, l.revision
         FROM log l JOIN (SELECT MAX(revision) AS revision FROM log GROUP BY key) latest
           ON l.revision = latest.revision
         WHERE l.deleted = 0",
    )?;
    let mut kvs = BTreeMap::new();
    let rows = stmt.query_map([], |row| {
        Ok(KeyValue {
            key: row.get(0)?,
            value: Bytes::from(row.get::<_, Vec<u8>>(1)?),
            create_revision: row.get(2)?,
            mod_revision: row.get(3)?,
        })
    })?;
    for kv in rows {
        let kv = kv?;
        kvs.insert(kv.key.clone(), kv);
    }
    Ok(State { kvs, revision: newest.max(compacted), compacted })
}

/// Appends one row to the log.
pub(super) fn insert_row(
    tx: &Connection,
    revision: Revision,
    kv: &KeyValue,
    prev_revision: Revision,
    deleted: bool,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO log (revision, key, value, create_revision, prev_revision, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    stmt.execute(params![revision, kv.key, &kv.value[..], kv.create_revision, prev_revision, deleted])?;
    Ok(())
}
