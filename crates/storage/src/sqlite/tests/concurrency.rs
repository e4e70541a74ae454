//! Group commit under concurrent callers: unique, contiguous revisions and checks that
//! see earlier writes of the same batch.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{get, temp_store, value};
use crate::{Error, RangeRequest, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_get_unique_contiguous_revisions() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut revisions = Vec::new();
                for i in 0..200 {
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
    assert_eq!(all.len(), 3200);
    assert_eq!(all.iter().copied().collect::<Vec<_>>(), (1..=3200).collect::<Vec<_>>());
    assert_eq!(store.current_revision().await.unwrap(), 3200);
    assert_eq!(store.range(RangeRequest::prefix("/c/")).await.unwrap().kvs.len(), 3200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_of_one_key_let_exactly_one_win() {
    let (_dir, store) = temp_store();
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
                assert_eq!(revision, 1);
            }
            Err(Error::AlreadyExists(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.current_revision().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_swap_counter_loses_no_increment() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    store.create("/counter", value("0")).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..25 {
                    let mut kv = get(&store, "/counter").await.unwrap();
                    loop {
                        let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                        match store.update("/counter", kv.mod_revision, value(&(n + 1).to_string())).await {
                            Ok(_) => break,
                            Err(Error::Conflict { current, .. }) => {
                                conflicts += 1;
                                kv = *current;
                            }
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let counter = get(&store, "/counter").await.unwrap();
    assert_eq!(counter.value, value("200"));
    // Only successful swaps took a revision.
    assert_eq!(counter.mod_revision, 201);
    assert_eq!(store.current_revision().await.unwrap(), 201);
}
