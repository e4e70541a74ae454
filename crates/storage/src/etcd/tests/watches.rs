//! Watches beyond the contract: a watcher overtaken by compaction, and a lost etcd.

use std::time::Duration;

use futures::StreamExt;

use super::etcd_store;
use crate::contract_tests::{next_event, value};
use crate::{Error, Store, prefix_end};

/// A watcher that does not read while much is written falls behind; etcd takes it off the
/// live path, and a compaction past it then ends its stream with `Compacted` after the
/// events it did get, in order.
#[tokio::test]
async fn a_watcher_overtaken_by_compaction_ends_with_compacted() {
    let (_etcd, store) = etcd_store().await;
    let created = store.create("/big", value("0")).await.unwrap();
    let mut stream = store.watch("/big", "", created - 1).await.unwrap();
    let big = bytes::Bytes::from(vec![b'x'; 256 * 1024]);
    let mut revision = created;
    for _ in 0..120 {
        revision = store.update("/big", revision, big.clone()).await.unwrap();
    }
    store.compact(revision).await.unwrap();

    let mut last = created - 1;
    let deadline = Duration::from_secs(20);
    loop {
        let item = tokio::time::timeout(deadline, stream.next()).await.expect("an item within 20s");
        match item.expect("the stream ends only after the error") {
            Ok(event) => {
                assert_eq!(event.kv.mod_revision, last + 1, "no event skipped");
                last = event.kv.mod_revision;
            }
            Err(Error::Compacted { requested, compacted }) => {
                assert_eq!((requested, compacted), (last, revision));
                assert!(last < revision, "the error comes before the end of history");
                break;
            }
            Err(other) => panic!("expected compacted, got {other:?}"),
        }
    }
    assert!(stream.next().await.is_none(), "the stream ends after the error");
}

#[tokio::test]
async fn the_stream_ends_with_an_error_when_etcd_goes_away() {
    let (etcd, store) = etcd_store().await;
    let mut stream = store.watch("/", &prefix_end("/"), 0).await.unwrap();
    store.create("/a", value("1")).await.unwrap();
    assert_eq!(next_event(&mut stream).await.kv.key, "/a");
    drop(etcd);
    let item = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("no hang");
    assert!(matches!(item, Some(Err(Error::Backend(_)))), "{item:?}");
    assert!(stream.next().await.is_none());
}
