//! Concurrent callers: unique revisions, one winner per racing create, no lost update.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{etcd_store, get, value};
use crate::{Error, RangeRequest, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_get_unique_contiguous_revisions() {
    let (_etcd, store) = etcd_store().await;
    let base = store.current_revision().await.unwrap();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut revisions = Vec::new();
                for i in 0..50 {
                    let key = format!("/c/{task:02}/{i:03}");
                    revisions.push(store.create(&key, value(&key)).await.unwrap());
                }
                revisions
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    for task in tasks {
        let revisions = task.await.unwrap();
        assert!(revisions.windows(2).all(|w| w[0] < w[1]), "one caller's writes are ordered");
        all.extend(revisions);
    }
    assert_eq!(all.into_iter().collect::<Vec<_>>(), (base + 1..=base + 400).collect::<Vec<_>>());
    assert_eq!(store.current_revision().await.unwrap(), base + 400);
    assert_eq!(store.range(RangeRequest::prefix("/c/")).await.unwrap().kvs.len(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_of_one_key_let_exactly_one_win() {
    let (_etcd, store) = etcd_store().await;
    let base = store.current_revision().await.unwrap();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.create("/race", value(&task.to_string())).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(revision) => {
                winners += 1;
                assert_eq!(revision, base + 1);
            }
            Err(Error::AlreadyExists(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.current_revision().await.unwrap(), base + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_swap_counter_loses_no_increment() {
    let (_etcd, store) = etcd_store().await;
    let store = Arc::new(store);
    let created = store.create("/counter", value("0")).await.unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for _ in 0..20 {
                    let mut kv = get(&store, "/counter").await.unwrap();
                    loop {
                        let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                        match store.update("/counter", kv.mod_revision, value(&(n + 1).to_string())).await {
                            Ok(_) => break,
                            Err(Error::Conflict { current, .. }) => kv = *current,
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let counter = get(&store, "/counter").await.unwrap();
    assert_eq!(counter.value, value("120"));
    // Only successful swaps took a revision.
    assert_eq!(counter.mod_revision, created + 120);
    assert_eq!(store.current_revision().await.unwrap(), created + 120);
}
