//! Watches: replay then live, key filtering, concurrent writers, compaction.

use std::sync::Arc;
use std::time::Duration;

use super::{Subject, assert_quiet, next_event, value};
use crate::{Error, EventKind, prefix_end};

pub(crate) async fn replays_from_a_revision_then_follows_live_writes(subject: Subject) {
    let store = &*subject.store;
    let r1 = store.create("/w/a", value("a1")).await.unwrap();
    store.create("/other", value("x")).await.unwrap();
    let r3 = store.update("/w/a", r1, value("a2")).await.unwrap();
    let r4 = store.create("/w/b", value("b1")).await.unwrap();

    let mut stream = store.watch("/w/", &prefix_end("/w/"), r1).await.unwrap();
    let update = next_event(&mut stream).await;
    assert_eq!(update.kind, EventKind::Put);
    assert_eq!((update.kv.value.clone(), update.kv.mod_revision, update.kv.create_revision), (value("a2"), r3, r1));
    assert_eq!(update.prev.map(|p| (p.value, p.mod_revision)), Some((value("a1"), r1)));
    let create = next_event(&mut stream).await;
    assert_eq!((create.kv.key.as_str(), create.kv.mod_revision), ("/w/b", r4));
    assert!(create.prev.is_none());

    store.create("/elsewhere", value("y")).await.unwrap();
    let r6 = store.delete("/w/a", r3).await.unwrap();
    assert_eq!(r6, subject.first_revision + 5);
    let delete = next_event(&mut stream).await;
    assert_eq!(delete.kind, EventKind::Delete);
    assert_eq!((delete.kv.key.as_str(), delete.kv.value.clone(), delete.kv.mod_revision), ("/w/a", value("a2"), r6));
    assert_eq!(delete.prev.map(|p| (p.value, p.mod_revision)), Some((value("a2"), r3)));
    assert_quiet(&mut stream).await;

    // Replaying the same history reports the deletion the same way; an empty end is one key.
    let mut replay = store.watch("/w/a", "", r6 - 1).await.unwrap();
    let replayed = next_event(&mut replay).await;
    assert_eq!(replayed.kind, EventKind::Delete);
    assert_eq!((replayed.kv.value, replayed.kv.mod_revision, replayed.kv.create_revision), (value("a2"), r6, r1));
    assert_eq!(replayed.prev.map(|p| p.mod_revision), Some(r3));
    store.create("/w/ab", value("not this key")).await.unwrap();
    assert_quiet(&mut replay).await;
}

pub(crate) async fn watching_from_the_current_revision_sees_only_new_writes(subject: Subject) {
    let store = &*subject.store;
    store.create("/k/old", value("1")).await.unwrap();
    let current = store.current_revision().await.unwrap();
    let mut stream = store.watch("/k/", &prefix_end("/k/"), current).await.unwrap();
    assert_quiet(&mut stream).await;
    store.create("/k/new", value("2")).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!((event.kv.key.as_str(), event.kv.mod_revision), ("/k/new", current + 1));
}

pub(crate) async fn concurrent_writers_are_seen_in_order_without_gaps_or_duplicates(subject: Subject) {
    let Subject { store, first_revision, load, .. } = &subject;
    let pairs_each = load.watched_pairs_each;
    let writers: Vec<_> = (0..load.writers)
        .map(|task| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                for i in 0..pairs_each {
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
    let before_first = first_revision - 1;
    let last = before_first + (2 * load.writers * pairs_each) as i64;
    for (stream, after) in [(&mut from_start, before_first), (&mut from_midway, midway)] {
        let mut expected = after;
        while expected < last {
            let event = next_event(stream).await;
            expected += 1;
            assert_eq!(event.kv.mod_revision, expected, "events arrive once each, in revision order");
        }
        assert_quiet(stream).await;
    }
}

pub(crate) async fn watching_from_before_the_compacted_revision_fails_at_once(subject: Subject) {
    let store = &*subject.store;
    let mut revisions = vec![store.create("/k", value("0")).await.unwrap()];
    for i in 1..5 {
        revisions.push(store.update("/k", revisions[i - 1], value(&i.to_string())).await.unwrap());
    }
    let point = revisions[2];
    store.compact(point).await.unwrap();
    for after in [0, point - 1] {
        match store.watch("/", &prefix_end("/"), after).await {
            Err(Error::Compacted { requested, compacted }) => assert_eq!((requested, compacted), (after, point)),
            Err(other) => panic!("expected compacted, got {other:?}"),
            Ok(_) => panic!("expected compacted, got a stream"),
        }
    }
    // From the compacted revision on, history is whole, previous values included.
    let mut stream = store.watch("/", &prefix_end("/"), point).await.unwrap();
    let event = next_event(&mut stream).await;
    assert_eq!((event.kv.mod_revision, event.prev.map(|p| p.mod_revision)), (revisions[3], Some(point)));
}
