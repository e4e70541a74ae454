//! Two stores on one etcd, as two API servers: each sees the other's writes, conflicts and
//! watch events; prefixes keep clusters apart.

use futures::StreamExt;

use super::EtcdServer;
use crate::contract_tests::{get, next_event, value};
use crate::{Error, EventKind, RangeRequest, Store, prefix_end};

#[tokio::test]
async fn two_stores_see_each_others_writes_and_watches() {
    let etcd = EtcdServer::start().await;
    let (one, two) = (etcd.store().await, etcd.store().await);
    let base = one.current_revision().await.unwrap();
    let mut watch_on_two = two.watch("/registry/", &prefix_end("/registry/"), base).await.unwrap();

    let created = one.create("/registry/core/pods/ns/a", value("v1")).await.unwrap();
    assert_eq!(two.current_revision().await.unwrap(), created);
    assert_eq!(get(&two, "/registry/core/pods/ns/a").await.unwrap().value, value("v1"));
    assert!(matches!(two.create("/registry/core/pods/ns/a", value("again")).await, Err(Error::AlreadyExists(_))));

    let updated = two.update("/registry/core/pods/ns/a", created, value("v2")).await.unwrap();
    match one.update("/registry/core/pods/ns/a", created, value("lost")).await {
        Err(Error::Conflict { current, .. }) => {
            assert_eq!((current.value, current.mod_revision), (value("v2"), updated))
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let deleted = one.delete("/registry/core/pods/ns/a", updated).await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = next_event(&mut watch_on_two).await;
        seen.push((event.kind, event.kv.mod_revision, event.prev.map(|p| p.value)));
    }
    assert_eq!(
        seen,
        [
            (EventKind::Put, created, None),
            (EventKind::Put, updated, Some(value("v1"))),
            (EventKind::Delete, deleted, Some(value("v2")))
        ]
    );
    // A watch on the first store replays what the second did.
    let mut watch_on_one = one.watch("/registry/core/pods/ns/a", "", created).await.unwrap();
    assert_eq!(next_event(&mut watch_on_one).await.kv.mod_revision, updated);

    // Compaction by one is seen by the other.
    one.compact(updated).await.unwrap();
    assert_eq!(two.compacted_revision().await.unwrap(), updated);
    let stale = RangeRequest { revision: created, ..RangeRequest::prefix("/registry/") };
    assert!(matches!(two.range(stale).await, Err(Error::Compacted { compacted, .. }) if compacted == updated));
}

#[tokio::test]
async fn keys_live_under_the_prefix_and_prefixes_keep_clusters_apart() {
    let etcd = EtcdServer::start().await;
    let blue = etcd.store_with_prefix("/blue").await;
    let green = etcd.store_with_prefix("/green").await;
    let mut green_watch = green.watch("/registry/", &prefix_end("/registry/"), 0).await.unwrap();

    blue.create("/registry/core/pods/ns/x", value("blue")).await.unwrap();
    let raw = etcd.raw_client().await.get("/blue/registry/core/pods/ns/x", None).await.unwrap();
    assert_eq!(raw.kvs()[0].value(), b"blue");
    let listed = blue.range(RangeRequest::prefix("/registry/")).await.unwrap();
    assert_eq!(listed.kvs.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(), ["/registry/core/pods/ns/x"]);

    assert!(get(&green, "/registry/core/pods/ns/x").await.is_none());
    let green_created = green.create("/registry/core/pods/ns/x", value("green")).await.unwrap();
    let event = next_event(&mut green_watch).await;
    assert_eq!((event.kv.key.as_str(), event.kv.mod_revision), ("/registry/core/pods/ns/x", green_created));
    assert!(tokio::time::timeout(std::time::Duration::from_millis(200), green_watch.next()).await.is_err());
}
