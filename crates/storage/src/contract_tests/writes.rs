//! Creates, compare-and-swap updates and deletes, and the revisions they assign.

use super::{Subject, get, value};
use crate::Error;

pub(crate) async fn each_write_advances_the_revision_by_one_and_failed_writes_none(subject: Subject) {
    let (store, first) = (&*subject.store, subject.first_revision);
    assert_eq!(store.current_revision().await.unwrap(), first - 1);
    assert_eq!(store.create("/a", value("1")).await.unwrap(), first);
    assert_eq!(store.create("/b", value("2")).await.unwrap(), first + 1);

    let err = store.create("/a", value("again")).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists(ref key) if key == "/a"), "{err:?}");
    let err = store.update("/a", 99, value("x")).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let err = store.delete("/missing", 0).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(ref key) if key == "/missing"), "{err:?}");
    let err = store.delete("/missing", 5).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(store.current_revision().await.unwrap(), first + 1);

    assert_eq!(store.create("/c", value("3")).await.unwrap(), first + 2);
    let kv = get(store, "/a").await.unwrap();
    assert_eq!((kv.value, kv.create_revision, kv.mod_revision), (value("1"), first, first));
}

pub(crate) async fn update_swaps_only_at_the_expected_revision(subject: Subject) {
    let store = &*subject.store;
    let created = store.create("/k", value("v1")).await.unwrap();
    let updated = store.update("/k", created, value("v2")).await.unwrap();
    assert_eq!(updated, created + 1);
    let kv = get(store, "/k").await.unwrap();
    assert_eq!((kv.value, kv.create_revision, kv.mod_revision), (value("v2"), created, updated));

    match store.update("/k", created, value("stale")).await.unwrap_err() {
        Error::Conflict { key, expected, current } => {
            assert_eq!((key.as_str(), expected), ("/k", created));
            assert_eq!((current.key.as_str(), current.value, current.mod_revision), ("/k", value("v2"), updated));
            assert_eq!(current.create_revision, created);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Revision 0 is no wildcard for updates: no key has it, and a missing key stays missing.
    assert!(matches!(store.update("/k", 0, value("x")).await, Err(Error::Conflict { .. })));
    assert!(matches!(store.update("/nope", 0, value("x")).await, Err(Error::NotFound(key)) if key == "/nope"));
    assert!(matches!(store.update("/nope", 1, value("x")).await, Err(Error::NotFound(key)) if key == "/nope"));
    assert!(get(store, "/nope").await.is_none());
    assert_eq!(get(store, "/k").await.unwrap().value, value("v2"));
}

pub(crate) async fn delete_with_and_without_expected_revision(subject: Subject) {
    let store = &*subject.store;
    let a = store.create("/a", value("a")).await.unwrap();
    let b = store.create("/b", value("b")).await.unwrap();

    match store.delete("/a", a + 100).await.unwrap_err() {
        Error::Conflict { current, .. } => assert_eq!((current.mod_revision, current.value), (a, value("a"))),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let deleted = store.delete("/a", a).await.unwrap();
    assert_eq!(deleted, b + 1);
    assert!(get(store, "/a").await.is_none());
    assert!(matches!(store.delete("/a", 0).await, Err(Error::NotFound(_))));
    assert!(matches!(store.delete("/a", a).await, Err(Error::NotFound(_))));

    assert_eq!(store.delete("/b", 0).await.unwrap(), b + 2);
    assert!(get(store, "/b").await.is_none());

    // A key created again starts a new life: a new create_revision.
    let again = store.create("/a", value("a2")).await.unwrap();
    let kv = get(store, "/a").await.unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision, kv.value), (again, again, value("a2")));
}
