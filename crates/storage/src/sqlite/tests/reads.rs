//! Range reads: prefixes, limits, past revisions and their errors.

use super::{temp_store, value};
use crate::{Error, RangeRequest, Store};

fn keys(result: &crate::RangeResult) -> Vec<&str> {
    result.kvs.iter().map(|kv| kv.key.as_str()).collect()
}

#[tokio::test]
async fn prefix_range_with_limit_reports_more() {
    let (_dir, store) = temp_store();
    for key in ["/pods/b", "/pods/a", "/pods/c", "/podsx", "/services/a", "/pod"] {
        store.create(key, value(key)).await.unwrap();
    }
    let all = store.range(RangeRequest::prefix("/pods/")).await.unwrap();
    assert_eq!(keys(&all), ["/pods/a", "/pods/b", "/pods/c"]);
    assert!(!all.more);
    assert_eq!(all.revision, 6);

    let first = store.range(RangeRequest { limit: 2, ..RangeRequest::prefix("/pods/") }).await.unwrap();
    assert_eq!(keys(&first), ["/pods/a", "/pods/b"]);
    assert!(first.more);
    // The next page starts just after the last key returned.
    let next = RangeRequest { start: "/pods/b\0".to_owned(), limit: 2, ..RangeRequest::prefix("/pods/") };
    let next = store.range(next).await.unwrap();
    assert_eq!(keys(&next), ["/pods/c"]);
    assert!(!next.more);

    let exact = store.range(RangeRequest { limit: 3, ..RangeRequest::prefix("/pods/") }).await.unwrap();
    assert!(!exact.more);

    let single = store.range(RangeRequest { start: "/pod".to_owned(), ..Default::default() }).await.unwrap();
    assert_eq!(keys(&single), ["/pod"]);
    assert_eq!(single.kvs[0].value, value("/pod"));
}

#[tokio::test]
async fn range_at_a_past_revision_sees_the_state_then() {
    let (_dir, store) = temp_store();
    let a = store.create("/r/a", value("a1")).await.unwrap(); // 1
    store.create("/r/b", value("b1")).await.unwrap(); // 2
    store.update("/r/a", a, value("a2")).await.unwrap(); // 3
    store.delete("/r/b", 0).await.unwrap(); // 4
    store.create("/r/c", value("c1")).await.unwrap(); // 5

    let at = |revision, limit| RangeRequest { revision, limit, ..RangeRequest::prefix("/r/") };
    let r2 = store.range(at(2, 0)).await.unwrap();
    assert_eq!(r2.revision, 2);
    assert_eq!(keys(&r2), ["/r/a", "/r/b"]);
    assert_eq!((r2.kvs[0].value.clone(), r2.kvs[0].mod_revision), (value("a1"), 1));

    let r3 = store.range(at(3, 0)).await.unwrap();
    assert_eq!(
        r3.kvs.iter().map(|kv| (kv.value.clone(), kv.create_revision)).collect::<Vec<_>>(),
        [(value("a2"), 1), (value("b1"), 2)]
    );

    let r4 = store.range(at(4, 0)).await.unwrap();
    assert_eq!(keys(&r4), ["/r/a"]);

    let r5 = store.range(at(5, 1)).await.unwrap();
    assert_eq!(keys(&r5), ["/r/a"]);
    assert!(r5.more);
    let past_limited = store.range(at(3, 1)).await.unwrap();
    assert_eq!(keys(&past_limited), ["/r/a"]);
    assert!(past_limited.more);

    let single = RangeRequest { start: "/r/b".to_owned(), revision: 2, ..Default::default() };
    assert_eq!(keys(&store.range(single).await.unwrap()), ["/r/b"]);
}

#[tokio::test]
async fn future_and_compacted_revisions_fail() {
    let (_dir, store) = temp_store();
    let a = store.create("/a", value("1")).await.unwrap();
    let a = store.update("/a", a, value("2")).await.unwrap();
    store.update("/a", a, value("3")).await.unwrap();

    match store.range(RangeRequest { revision: 4, ..RangeRequest::prefix("/") }).await.unwrap_err() {
        Error::FutureRevision { requested, current } => assert_eq!((requested, current), (4, 3)),
        other => panic!("expected a future revision, got {other:?}"),
    }

    store.compact(2).await.unwrap();
    match store.range(RangeRequest { revision: 1, ..RangeRequest::prefix("/") }).await.unwrap_err() {
        Error::Compacted { requested, compacted } => assert_eq!((requested, compacted), (1, 2)),
        other => panic!("expected compacted, got {other:?}"),
    }
    // The compacted revision itself is still readable.
    let at_compacted = store.range(RangeRequest { revision: 2, ..RangeRequest::prefix("/") }).await.unwrap();
    assert_eq!(at_compacted.kvs[0].value, value("2"));
}
