//! Compaction: what it removes and keeps, the periodic compactor, and the file size.

use std::sync::Arc;
use std::time::Duration;

use super::{log_rows, temp_store};
use crate::contract_tests::{get, value};
use crate::sqlite::spawn_compactor;
use crate::{Error, RangeRequest, Store};

#[tokio::test]
async fn compaction_drops_superseded_rows_and_tombstones_only() {
    let (dir, store) = temp_store();
    let a = store.create("/a", value("1")).await.unwrap(); // 1
    store.update("/a", a, value("2")).await.unwrap(); // 2
    store.create("/b", value("b")).await.unwrap(); // 3
    store.delete("/b", 0).await.unwrap(); // 4
    store.create("/c", value("c")).await.unwrap(); // 5
    store.update("/c", 5, value("c2")).await.unwrap(); // 6
    assert_eq!(log_rows(&dir), 6);

    store.compact(5).await.unwrap();
    // Kept: /a@2 (latest at 5), /c@5 (latest at 5), /c@6 (after 5).
    assert_eq!(log_rows(&dir), 3);
    assert_eq!(store.compacted_revision().await.unwrap(), 5);
    let at5 = store.range(RangeRequest { revision: 5, ..RangeRequest::prefix("/") }).await.unwrap();
    let at5: Vec<_> = at5.kvs.iter().map(|kv| (kv.key.as_str(), kv.mod_revision)).collect();
    assert_eq!(at5, [("/a", 2), ("/c", 5)]);
    assert_eq!(get(&store, "/c").await.unwrap().value, value("c2"));

    // Compacting again at or below is a no-op; beyond the current revision is an error.
    store.compact(3).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), 5);
    assert!(matches!(store.compact(7).await, Err(Error::FutureRevision { requested: 7, current: 6 })));
}

#[tokio::test]
async fn compaction_shrinks_the_file() {
    let (dir, store) = temp_store();
    let files_size = || {
        ["state.db", "state.db-wal"]
            .iter()
            .map(|name| std::fs::metadata(dir.path().join(name)).map(|m| m.len()).unwrap_or(0))
            .sum::<u64>()
    };
    let conn = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |row| row.get(0)).unwrap();
    assert_eq!(auto_vacuum, 2, "auto_vacuum should be INCREMENTAL");
    drop(conn);

    let big = bytes::Bytes::from(vec![7u8; 64 * 1024]);
    let mut revision = store.create("/big", big.clone()).await.unwrap();
    for _ in 0..100 {
        revision = store.update("/big", revision, big.clone()).await.unwrap();
    }
    let before = files_size();
    store.compact(revision).await.unwrap();
    let after = files_size();
    assert!(after * 4 < before, "files should shrink: {before} bytes before, {after} after");
    assert_eq!(get(&store, "/big").await.unwrap().value, big);
}

#[tokio::test]
async fn the_compactor_keeps_the_newest_revisions() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let mut revision = store.create("/k", value("0")).await.unwrap();
    for i in 1..30 {
        revision = store.update("/k", revision, value(&i.to_string())).await.unwrap();
    }
    let compactor = spawn_compactor(Arc::clone(&store), Duration::from_millis(20), 10);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.compacted_revision().await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the compactor never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(store.compacted_revision().await.unwrap(), revision - 10);

    // The compactor does not keep the store alive, and stops once it is gone.
    let weak = Arc::downgrade(&store);
    drop(store);
    tokio::time::timeout(Duration::from_secs(5), compactor).await.expect("compactor stops").unwrap();
    assert!(weak.upgrade().is_none());
}
