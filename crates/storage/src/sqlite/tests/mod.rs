//! Tests of [`SqliteStore`]: the shared [`Store`](crate::Store) contract suite, then what only this backend
//! has (its files, compaction of the log, crash safety, reopening, the watch broadcast).

mod compaction;
mod crash;
mod reopen;
mod watches;

use std::sync::Arc;

use tempfile::TempDir;

use super::SqliteStore;
use crate::contract_tests::{Load, Subject, contract_suite};

contract_suite!(crate::sqlite::tests::contract_subject);

/// A fresh store for the contract suite. An embedded store takes heavy concurrent load, which
/// is what exercises group commit.
async fn contract_subject() -> Subject {
    let (dir, store) = temp_store();
    let load = Load { writers: 8, creates_each: 400, watched_pairs_each: 100, increments_each: 25 };
    Subject::new(Arc::new(store), 1, load, dir)
}

/// A fresh store in its own temporary directory (dropped with the directory).
fn temp_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("state.db")).expect("open store");
    (dir, store)
}

/// Rows in the log table, read with a connection of its own.
fn log_rows(dir: &TempDir) -> i64 {
    let conn = rusqlite::Connection::open(dir.path().join("state.db")).expect("open db");
    conn.query_row("SELECT COUNT(*) FROM log", [], |row| row.get(0)).expect("count")
}
