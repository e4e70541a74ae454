//! Compaction: the recorded point, compactions done by others, and the periodic compactor.

use std::sync::Arc;
use std::time::Duration;

use super::{EtcdServer, etcd_store};
use crate::contract_tests::{get, value};
use crate::etcd::{COMPACT_REV_KEY, spawn_compactor};
use crate::{Error, RangeRequest, Store};

#[tokio::test]
async fn compaction_is_recorded_where_upstream_records_it() {
    let (etcd, store) = etcd_store().await;
    assert_eq!(store.compacted_revision().await.unwrap(), 0);
    let mut revision = store.create("/a", value("0")).await.unwrap();
    for i in 1..5 {
        revision = store.update("/a", revision, value(&i.to_string())).await.unwrap();
    }
    store.compact(revision - 1).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), revision - 1);
    let record = etcd.raw_client().await.get(COMPACT_REV_KEY, None).await.unwrap();
    assert_eq!(record.kvs()[0].value(), (revision - 1).to_string().as_bytes());
    // Recording is a write of its own.
    assert_eq!(store.current_revision().await.unwrap(), revision + 1);
    assert_eq!(get(&store, "/a").await.unwrap().value, value("4"));

    // Compacting again at or below is a no-op; beyond the current revision is an error.
    store.compact(revision - 3).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), revision - 1);
    match store.compact(revision + 5).await {
        Err(Error::FutureRevision { requested, current }) => {
            assert_eq!((requested, current), (revision + 5, revision + 1))
        }
        other => panic!("expected a future revision, got {other:?}"),
    }
    // Old values are gone from etcd itself, not just hidden.
    let old = RangeRequest { revision: revision - 2, ..RangeRequest::prefix("/") };
    assert!(matches!(store.range(old).await, Err(Error::Compacted { .. })));
}

#[tokio::test]
async fn a_compaction_done_outside_the_store_is_found() {
    let (etcd, store) = etcd_store().await;
    let mut revision = store.create("/k", value("0")).await.unwrap();
    for i in 1..40 {
        revision = store.update("/k", revision, value(&i.to_string())).await.unwrap();
    }
    store.compact(revision - 30).await.unwrap();
    // As etcdctl compaction or etcd's --auto-compaction would: no record.
    etcd.raw_client().await.compact(revision - 7, None).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), revision - 7);
    match store.range(RangeRequest { revision: revision - 8, ..RangeRequest::prefix("/") }).await {
        Err(Error::Compacted { requested, compacted }) => {
            assert_eq!((requested, compacted), (revision - 8, revision - 7))
        }
        other => panic!("expected compacted, got {other:?}"),
    }
    // Compacting below etcd's own point is no error, and moves nothing back.
    store.compact(revision - 10).await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), revision - 7);
}

#[tokio::test]
async fn compactors_of_two_stores_compact_and_stop_with_their_store() {
    let etcd = EtcdServer::start().await;
    let stores = [Arc::new(etcd.store().await), Arc::new(etcd.store().await)];
    let compactors = stores.clone().map(|store| spawn_compactor(store, Duration::from_millis(300)));
    let writer = &stores[0];
    let mut revision = writer.create("/k", value("0")).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while writer.compacted_revision().await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the compactors never compacted");
        revision = writer.update("/k", revision, value("v")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The point compacted to was seen at least one interval ago: recent history is kept.
    let compacted = writer.compacted_revision().await.unwrap();
    assert!(compacted < revision, "compacted {compacted}, current {revision}");

    // A compactor does not keep its store alive, and stops once it is gone.
    for (store, compactor) in stores.into_iter().zip(compactors) {
        let weak = Arc::downgrade(&store);
        drop(store);
        tokio::time::timeout(Duration::from_secs(5), compactor).await.expect("compactor stops").unwrap();
        assert!(weak.upgrade().is_none());
    }
}
