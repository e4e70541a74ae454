//! Concurrent callers: unique contiguous revisions, one winner per racing create, no lost
//! update. On SQLite these also exercise group commit: checks within one batch must see the
//! batch's earlier writes.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Subject, get, value};
use crate::{Error, RangeRequest, Revision};

pub(crate) async fn concurrent_creates_get_unique_contiguous_revisions(subject: Subject) {
    let Subject { store, first_revision, load, .. } = &subject;
    let creates_each = load.creates_each;
    let tasks: Vec<_> = (0..load.writers)
        .map(|task| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let mut revisions = Vec::new();
                for i in 0..creates_each {
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
    let total = load.writers * creates_each;
    let last = first_revision + total as Revision - 1;
    assert_eq!(all.len(), total);
    assert_eq!(all.into_iter().collect::<Vec<_>>(), (*first_revision..=last).collect::<Vec<_>>());
    assert_eq!(store.current_revision().await.unwrap(), last);
    assert_eq!(store.range(RangeRequest::prefix("/c/")).await.unwrap().kvs.len(), total);
}

pub(crate) async fn racing_creates_of_one_key_let_exactly_one_win(subject: Subject) {
    let Subject { store, first_revision, .. } = &subject;
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.create("/race", value(&task.to_string())).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(revision) => {
                winners += 1;
                assert_eq!(revision, *first_revision);
            }
            Err(Error::AlreadyExists(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(store.current_revision().await.unwrap(), *first_revision);
}

pub(crate) async fn compare_and_swap_counter_loses_no_increment(subject: Subject) {
    let Subject { store, load, .. } = &subject;
    let increments_each = load.increments_each;
    let created = store.create("/counter", value("0")).await.unwrap();
    assert_eq!(created, subject.first_revision);
    let tasks: Vec<_> = (0..load.writers)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                for _ in 0..increments_each {
                    let mut kv = get(&*store, "/counter").await.unwrap();
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
    let total = load.writers * increments_each;
    let counter = get(&**store, "/counter").await.unwrap();
    assert_eq!(counter.value, value(&total.to_string()));
    // Only successful swaps took a revision.
    assert_eq!(counter.mod_revision, created + total as Revision);
    assert_eq!(store.current_revision().await.unwrap(), created + total as Revision);
}
