//! Watches beyond the contract: a watcher lagging behind the broadcast catches up from the log
//! (or ends with `Compacted`), and a dropped store ends its streams.

use std::time::Duration;

use futures::StreamExt;

use super::temp_store;
use crate::contract_tests::{assert_quiet, next_event, value};
use crate::sqlite::SqliteStore;
use crate::{Error, Revision, Store, prefix_end};

#[tokio::test]
async fn a_lagging_watcher_catches_up_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with_watch_buffer(&dir.path().join("state.db"), 4).unwrap();
    let mut stream = store.watch("/lag/", &prefix_end("/lag/"), 0).await.unwrap();
    let mut revision: Revision = store.create("/lag/k", value("0")).await.unwrap();
    for i in 1..50 {
        store.create(&format!("/skip/{i}"), value("x")).await.unwrap();
        revision = store.update("/lag/k", revision, value(&i.to_string())).await.unwrap();
    }
    // The broadcast kept only the last 4 batches; the rest comes from the log.
    for i in 0..50 {
        let event = next_event(&mut stream).await;
        assert_eq!(event.kv.value, value(&i.to_string()));
        assert_eq!(event.kv.mod_revision, if i == 0 { 1 } else { 2 * i + 1 });
    }
    store.update("/lag/k", revision, value("live")).await.unwrap();
    assert_eq!(next_event(&mut stream).await.kv.value, value("live"));
    assert_quiet(&mut stream).await;
}

#[tokio::test]
async fn a_lagging_watcher_whose_history_was_compacted_ends_with_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_with_watch_buffer(&dir.path().join("state.db"), 2).unwrap();
    let mut stream = store.watch("/", &prefix_end("/"), 0).await.unwrap();
    let mut revision = store.create("/k", value("0")).await.unwrap();
    for i in 1..10 {
        revision = store.update("/k", revision, value(&i.to_string())).await.unwrap();
    }
    store.compact(revision).await.unwrap();
    let item = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap();
    assert!(matches!(item, Err(Error::Compacted { requested: 0, compacted: 10 })), "{item:?}");
    assert!(stream.next().await.is_none(), "the stream ends after the error");
}

#[tokio::test]
async fn the_stream_ends_when_the_store_is_dropped() {
    let (_dir, store) = temp_store();
    let mut stream = store.watch("/", &prefix_end("/"), 0).await.unwrap();
    drop(store);
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap();
    assert!(end.is_none());
}
