//! Creates, compare-and-swap updates and deletes, and the revisions they assign.

use super::{get, temp_store, value};
use crate::{Error, Store};

#[tokio::test]
async fn revisions_start_at_one_and_failed_writes_consume_none() {
    let (_dir, store) = temp_store();
    assert_eq!(store.current_revision().await.unwrap(), 0);
    assert_eq!(store.create("/a", value("1")).await.unwrap(), 1);
    assert_eq!(store.create("/b", value("2")).await.unwrap(), 2);

    let err = store.create("/a", value("again")).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(ref key) if key == "/a"), "{err:?}");
    let err = store.update("/a", 99, value("x")).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let err = store.delete("/missing", 0).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(store.current_revision().await.unwrap(), 2);

    assert_eq!(store.create("/c", value("3")).await.unwrap(), 3);
    let kv = get(&store, "/a").await.unwrap();
    assert_eq!((kv.value, kv.create_revision, kv.mod_revision), (value("1"), 1, 1));
}

#[tokio::test]
async fn update_swaps_only_at_the_expected_revision() {
    let (_dir, store) = temp_store();
    let created = store.create("/k", value("v1")).await.unwrap();
    let updated = store.update("/k", created, value("v2")).await.unwrap();
    assert_eq!(updated, created + 1);
    let kv = get(&store, "/k").await.unwrap();
    assert_eq!((kv.value, kv.create_revision, kv.mod_revision), (value("v2"), created, updated));

    match store.update("/k", created, value("stale")).await.unwrap_err() {
        Error::Conflict { key, expected, current } => {
            assert_eq!((key.as_str(), expected), ("/k", created));
            assert_eq!((current.value, current.mod_revision), (value("v2"), updated));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Revision 0 is no wildcard for updates: no key has it.
    assert!(matches!(store.update("/k", 0, value("x")).await, Err(Error::Conflict { .. })));
    assert!(matches!(store.update("/nope", 1, value("x")).await, Err(Error::NotFound(key)) if key == "/nope"));
    assert_eq!(get(&store, "/k").await.unwrap().value, value("v2"));
}

#[tokio::test]
async fn delete_with_and_without_expected_revision() {
    let (_dir, store) = temp_store();
    let a = store.create("/a", value("a")).await.unwrap();
    store.create("/b", value("b")).await.unwrap();

    match store.delete("/a", a + 100).await.unwrap_err() {
        Error::Conflict { current, .. } => assert_eq!(current.mod_revision, a),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let deleted = store.delete("/a", a).await.unwrap();
    assert_eq!(deleted, 3);
    assert!(get(&store, "/a").await.is_none());
    assert!(matches!(store.delete("/a", 0).await, Err(Error::NotFound(_))));

    assert_eq!(store.delete("/b", 0).await.unwrap(), 4);
    assert!(get(&store, "/b").await.is_none());

    // A key created again starts a new life: a new create_revision.
    let again = store.create("/a", value("a2")).await.unwrap();
    let kv = get(&store, "/a").await.unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.value), (again, again, value("a2")));
}

#[tokio::test]
async fn reopening_keeps_every_key_and_the_revision_counter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = super::SqliteStore::open(&path).unwrap();
        let a = store.create("/a", value("1")).await.unwrap();
        store.update("/a", a, value("2")).await.unwrap();
        store.create("/b", value("3")).await.unwrap();
        store.create("/c", value("4")).await.unwrap();
        store.delete("/c", 0).await.unwrap();
        // The newest row (the deletion) is compacted away; the counter must not go back.
        store.compact(5).await.unwrap();
    }
    let store = super::SqliteStore::open(&path).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 5);
    assert_eq!(store.compacted_revision().await.unwrap(), 5);
    let a = get(&store, "/a").await.unwrap();
    assert_eq!((a.value, a.create_revision, a.mod_revision), (value("2"), 1, 2));
    assert_eq!(get(&store, "/b").await.unwrap().mod_revision, 3);
    assert!(get(&store, "/c").await.is_none());
    assert_eq!(store.create("/d", value("5")).await.unwrap(), 6);
}
