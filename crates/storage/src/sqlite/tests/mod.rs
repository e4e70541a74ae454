//! Tests of [`SqliteStore`] against the [`Store`] contract, split by concern.

mod compaction;
mod concurrency;
mod crash;
mod reads;
mod watches;
mod writes;

use bytes::Bytes;
use tempfile::TempDir;

use super::SqliteStore;
use crate::{KeyValue, RangeRequest, Store};

/// A fresh store in its own temporary directory (dropped with the directory).
fn temp_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("state.db")).expect("open store");
    (dir, store)
}

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// The key at the current revision, if present.
async fn get(store: &SqliteStore, key: &str) -> Option<KeyValue> {
    let req = RangeRequest { start: key.to_owned(), ..Default::default() };
    store.range(req).await.expect("range").kvs.into_iter().next()
}

/// Rows in the log table, read with a connection of its own.
fn log_rows(dir: &TempDir) -> i64 {
    let conn = rusqlite::Connection::open(dir.path().join("state.db")).expect("open db");
    conn.query_row("SELECT COUNT(*) FROM log", [], |row| row.get(0)).expect("count")
}
