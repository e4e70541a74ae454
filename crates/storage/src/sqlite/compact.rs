//! Compaction: dropping history no reader may ask for any more, and giving the space back.
//!
//! After compacting at revision C the state at C (and later) stays readable: for every key
//! the newest row at or before C is kept unless it is a deletion. Older rows of the key and
//! deletions at or before C are removed.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::SqliteStore;
use crate::{Result, Revision, Store};

/// Removes the history at and before `revision` and records it as compacted. Runs inside
/// the writer's transaction.
pub(super) fn remove_history(tx: &Connection, revision: Revision) -> Result<usize> {
    let removed = tx.execute(
        "DELETE FROM log WHERE revision <= ?1 AND (
             deleted = 1 OR EXISTS (
                 SELECT 1 FROM log newer
                 WHERE newer.key = log.key AND newer.revision > log.revision AND newer.revision <= ?1))",
        [revision],
    )?;
    tx.execute("UPDATE meta SET value = ?1 WHERE name = 'compacted_revision'", [revision])?;
    tracing::debug!(revision, removed, "storage: compacted");
    Ok(removed)
}

/// Returns freed pages to the file system: `incremental_vacuum` moves them to the end of
/// the database and truncates it (in WAL mode, when the checkpoint copies that back), and a
/// truncating checkpoint empties the WAL.
pub(super) fn reclaim_space(conn: &Connection) -> Result<()> {
    // Both pragmas report rows, which have to be stepped through for them to run.
    for pragma in ["PRAGMA incremental_vacuum", "PRAGMA wal_checkpoint(TRUNCATE)"] {
        let mut stmt = conn.prepare(pragma)?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
    }
    Ok(())
}

/// Compacts `store` every `interval` to its current revision minus `keep` (as kine does),
/// so history, and the file, stop growing. The task ends once the store has been dropped
/// (the task itself does not keep it alive).
pub fn spawn_compactor(store: Arc<SqliteStore>, interval: Duration, keep: i64) -> JoinHandle<()> {
    let store = Arc::downgrade(&store);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(store) = store.upgrade() else { return };
            if let Err(e) = compact_keeping(&store, keep).await {
                tracing::warn!(error = %e, "storage: periodic compaction failed");
            }
        }
    })
}

async fn compact_keeping(store: &SqliteStore, keep: i64) -> Result<()> {
    let target = store.current_revision().await? - keep;
    if target > store.compacted_revision().await? {
        store.compact(target).await?;
    }
    Ok(())
}
