//! Reopening a database: every key, the revision counter and the compaction point survive.

use crate::Store;
use crate::contract_tests::{get, value};
use crate::sqlite::SqliteStore;

#[tokio::test]
async fn reopening_keeps_every_key_and_the_revision_counter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        let a = store.create("/a", value("1")).await.unwrap();
        store.update("/a", a, value("2")).await.unwrap();
        store.create("/b", value("3")).await.unwrap();
        store.create("/c", value("4")).await.unwrap();
        store.delete("/c", 0).await.unwrap();
        // The newest row (the deletion) is compacted away; the counter must not go back.
        store.compact(5).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 5);
    assert_eq!(store.compacted_revision().await.unwrap(), 5);
    let a = get(&store, "/a").await.unwrap();
    assert_eq!((a.value, a.create_revision, a.mod_revision), (value("2"), 1, 2));
    assert_eq!(get(&store, "/b").await.unwrap().mod_revision, 3);
    assert!(get(&store, "/c").await.is_none());
    assert_eq!(store.create("/d", value("5")).await.unwrap(), 6);
}
