//! Watches: replay then live, key filtering, concurrent writers, lag and compaction.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::{temp_store, value};
use crate::sqlite::SqliteStore;
use crate::{Error, Event, EventKind, Revision, Store, WatchStream, prefix_end};

async fn next_event(stream: &mut WatchStream) -> Event {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10s")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

/// Asserts nothing arrives for a little while.
async fn assert_quiet(stream: &mut WatchStream) {
    let next = tokio::time::timeout(Duration::from_millis(100), stream.next()).await;
    assert!(next.is_err(), "unexpected item: {next:?}");
}

#[tokio::test]
async fn replays_from_a_revision_then_follows_live_writes() {
    let (_dir, store) = temp_store();
    let a = store.create("/w/a", value("a1")).await.unwrap(); // 1
    store.create("/other", value("x")).await.unwrap(); // 2
    let a2 = store.update("/w/a", a, value("a2")).await.unwrap(); // 3
    store.create("/w/b", value("b1")).await.unwrap(); // 4

    let mut stream = store.watch("/w/", &prefix_end("/w/"), 1).await.unwrap();
    let update = next_event(&mut stream).await;
    assert_eq!(update.kind, EventKind::Put);
    assert_eq!((update.kv.value.clone(), update.kv.mod_revision, update.kv.create_revision), (value("a2"), 3, 1));
    assert_eq!(update.prev.map(|p| (p.value, p.mod_revision)), Some((value("a1"), 1)));
    let create = next_event(&mut stream).await;
    assert_eq!((create.kv.key.as_str(), create.kv.mod_revision), ("/w/b", 4));
    assert!(create.prev.is_none());

    store.create("/elsewhere", value("y")).await.unwrap(); // 5
    store.delete("/w/a", a2).await.unwrap(); // 6
    let delete = next_event(&mut stream).await;
    assert_eq!(delete.kind, EventKind::Delete);
    assert_eq!((delete.kv.key.as_str(), delete.kv.value.clone(), delete.kv.mod_revision), ("/w/a", value("a2"), 6));
    assert_eq!(delete.prev.map(|p| (p.value, p.mod_revision)), Some((value("a2"), 3)));
    assert_quiet(&mut stream).await;

    // Replaying the same history reports the deletion the same way.
    let mut replay = store.watch("/w/a", "", 5).await.unwrap();
    let replayed = next_event(&mut replay).await;
    assert_eq!(replayed.kind, EventKind::Delete);
    assert_eq!((replayed.kv.value, replayed.kv.mod_revision, replayed.kv.create_revision), (value("a2"), 6, 1));
    assert_eq!(replayed.prev.map(|p| p.mod_revision), Some(3));
}

#[tokio::test]
async fn watching_from_the_current_revision_sees_only_new_writes() {
    let (_dir, store) = temp_store();
    store.create("/k/old", value("1")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    let mut stream = store.watch("/k/", &prefix_end("/k/"), current).await.unwrap();
    assert_quiet(&mut stream).await;
    store.create("/k/new", value("2")).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!((event.kv.key.as_str(), event.kv.mod_revision), ("/k/new", current + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_are_seen_in_order_without_gaps_or_duplicates() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let writers: Vec<_> = (0..8)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..100 {
                    let key = format!("/cw/{task}/{i}");
                    let revision = store.create(&key, value("v")).await.unwrap();
                    store.update(&key, revision, value("v2")).await.unwrap();
                }
            })
        })
        .collect();
    // Start watchers while the writers run: one replaying from the start, one from wherever
    // the store is now.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut from_start = store.watch("/cw/", &prefix_end("/cw/"), 0).await.unwrap();
    let midway = store.current_revision().await.unwrap();
    let mut from_midway = store.watch("/cw/", &prefix_end("/cw/"), midway).await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    for (stream, after) in [(&mut from_start, 0), (&mut from_midway, midway)] {
        let mut expected = after;
        while expected < 1600 {
            let event = next_event(stream).await;
            expected += 1;
            assert_eq!(event.kv.mod_revision, expected, "events arrive once each, in revision order");
        }
        assert_quiet(stream).await;
    }
}

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
async fn watching_from_before_the_compacted_revision_fails_at_once() {
    let (_dir, store) = temp_store();
    let mut revision = store.create("/k", value("0")).await.unwrap();
    for i in 1..5 {
        revision = store.update("/k", revision, value(&i.to_string())).await.unwrap();
    }
    store.compact(3).await.unwrap();
    match store.watch("/", &prefix_end("/"), 2).await {
        Err(Error::Compacted { requested, compacted }) => assert_eq!((requested, compacted), (2, 3)),
        Err(other) => panic!("expected compacted, got {other:?}"),
        Ok(_) => panic!("expected compacted, got a stream"),
    }
    // From the compacted revision on, history is whole.
    let mut stream = store.watch("/", &prefix_end("/"), 3).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!((event.kv.mod_revision, event.prev.map(|p| p.mod_revision)), (4, Some(3)));
}

#[tokio::test]
async fn the_stream_ends_when_the_store_is_dropped() {
    let (_dir, store) = temp_store();
    let mut stream = store.watch("/", &prefix_end("/"), 0).await.unwrap();
    drop(store);
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap();
    assert!(end.is_none());
}
