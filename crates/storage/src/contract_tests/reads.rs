//! Range reads: prefixes, limits, past revisions and their errors.

use super::{Subject, value};
use crate::{Error, RangeRequest, RangeResult};

fn keys(result: &RangeResult) -> Vec<&str> {
    result.kvs.iter().map(|kv| kv.key.as_str()).collect()
}

pub(crate) async fn prefix_range_with_limit_reports_more(subject: Subject) {
    let store = &*subject.store;
    for key in ["/pods/b", "/pods/a", "/pods/c", "/podsx", "/services/a", "/pod"] {
        store.create(key, value(key)).await.unwrap();
    }
    let current = store.current_revision().await.unwrap();
    assert_eq!(current, subject.first_revision + 5);
    let all = store.range(RangeRequest::prefix("/pods/")).await.unwrap();
    assert_eq!(keys(&all), ["/pods/a", "/pods/b", "/pods/c"]);
    assert!(!all.more);
    assert_eq!(all.revision, current);

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
    let missing = store.range(RangeRequest { start: "/po".to_owned(), ..Default::default() }).await.unwrap();
    assert!(missing.kvs.is_empty() && !missing.more);
}

pub(crate) async fn range_at_a_past_revision_sees_the_state_then(subject: Subject) {
    let store = &*subject.store;
    let r1 = store.create("/r/a", value("a1")).await.unwrap();
    let r2 = store.create("/r/b", value("b1")).await.unwrap();
    let r3 = store.update("/r/a", r1, value("a2")).await.unwrap();
    let r4 = store.delete("/r/b", 0).await.unwrap();
    let r5 = store.create("/r/c", value("c1")).await.unwrap();
    let first = subject.first_revision;
    assert_eq!([r1, r2, r3, r4, r5], [first, first + 1, first + 2, first + 3, first + 4]);

    let at = |revision, limit| RangeRequest { revision, limit, ..RangeRequest::prefix("/r/") };
    let then = store.range(at(r2, 0)).await.unwrap();
    assert_eq!(then.revision, r2);
    assert_eq!(keys(&then), ["/r/a", "/r/b"]);
    assert_eq!((then.kvs[0].value.clone(), then.kvs[0].mod_revision), (value("a1"), r1));

    let then = store.range(at(r3, 0)).await.unwrap();
    assert_eq!(
        then.kvs.iter().map(|kv| (kv.value.clone(), kv.create_revision)).collect::<Vec<_>>(),
        [(value("a2"), r1), (value("b1"), r2)]
    );
    assert_eq!(keys(&store.range(at(r4, 0)).await.unwrap()), ["/r/a"]);

    let limited = store.range(at(r5, 1)).await.unwrap();
    assert_eq!(keys(&limited), ["/r/a"]);
    assert!(limited.more);
    let past_limited = store.range(at(r3, 1)).await.unwrap();
    assert_eq!(keys(&past_limited), ["/r/a"]);
    assert!(past_limited.more);

    let single = RangeRequest { start: "/r/b".to_owned(), revision: r2, ..Default::default() };
    assert_eq!(keys(&store.range(single).await.unwrap()), ["/r/b"]);
}

pub(crate) async fn future_and_compacted_revisions_fail(subject: Subject) {
    let store = &*subject.store;
    let r1 = store.create("/a", value("1")).await.unwrap();
    let r2 = store.update("/a", r1, value("2")).await.unwrap();
    let r3 = store.update("/a", r2, value("3")).await.unwrap();

    match store.range(RangeRequest { revision: r3 + 1, ..RangeRequest::prefix("/") }).await.unwrap_err() {
        Error::FutureRevision { requested, current } => assert_eq!((requested, current), (r3 + 1, r3)),
        other => panic!("expected a future revision, got {other:?}"),
    }

    store.compact(r2).await.unwrap();
    match store.range(RangeRequest { revision: r1, ..RangeRequest::prefix("/") }).await.unwrap_err() {
        Error::Compacted { requested, compacted } => assert_eq!((requested, compacted), (r1, r2)),
        other => panic!("expected compacted, got {other:?}"),
    }
    // The compacted revision itself is still readable.
    let at_compacted = store.range(RangeRequest { revision: r2, ..RangeRequest::prefix("/") }).await.unwrap();
    assert_eq!(at_compacted.kvs[0].value, value("2"));
}
