//! The [`Store`] contract as one test suite, run against every backend.
//!
//! Each case is an async function taking a [`Subject`]: a fresh, empty store plus the little a
//! case must know about its backend (the revision its first write gets, how much concurrent
//! load it is given). A backend's test module instantiates the whole suite with
//! [`contract_suite!`], which makes one `#[tokio::test]` per case, so a failure names both the
//! case and the backend. Tests of what only one backend has (SQLite's files and crash safety,
//! etcd's compaction record and shared clusters) stay in that backend's module.

pub(crate) mod concurrency;
pub(crate) mod reads;
pub(crate) mod watches;
pub(crate) mod writes;

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use crate::{Event, KeyValue, RangeRequest, Revision, Store, WatchStream};

/// A fresh store of one backend, and what the contract cases need to know about it.
pub(crate) struct Subject {
    pub store: Arc<dyn Store>,
    /// The revision a fresh store assigns to its first write: SQLite's is 1, etcd's 2 (the
    /// cluster's creation took revision 1). Every other revision is relative to it.
    pub first_revision: Revision,
    pub load: Load,
    /// What keeps the store alive (its directory, its etcd server). Declared after `store` so
    /// the store is dropped first.
    _backing: Box<dyn Any + Send>,
}

impl Subject {
    pub fn new(store: Arc<dyn Store>, first_revision: Revision, load: Load, backing: impl Any + Send) -> Self {
        Subject { store, first_revision, load, _backing: Box::new(backing) }
    }
}

/// How hard the concurrency cases push a backend: the embedded store takes far more than an
/// etcd whose every write is a network round trip and a sync.
pub(crate) struct Load {
    /// Concurrent callers in each concurrency case.
    pub writers: usize,
    /// Creates per caller when checking that revisions are unique and contiguous.
    pub creates_each: usize,
    /// Create-then-update pairs per caller while watchers follow.
    pub watched_pairs_each: usize,
    /// Compare-and-swap increments per caller of one shared counter.
    pub increments_each: usize,
}

/// Instantiates every contract case as a `#[tokio::test]` in the calling module, grouped in
/// `contract::<area>::<case>`. `$subject` is the path of an `async fn() -> Subject` giving a
/// fresh store of the backend under test.
macro_rules! contract_suite {
    ($subject:path) => {
        $crate::contract_tests::contract_suite!(@areas $subject;
            reads {
                prefix_range_with_limit_reports_more,
                range_at_a_past_revision_sees_the_state_then,
                future_and_compacted_revisions_fail,
            }
            writes {
                each_write_advances_the_revision_by_one_and_failed_writes_none,
                update_swaps_only_at_the_expected_revision,
                delete_with_and_without_expected_revision,
            }
            watches {
                replays_from_a_revision_then_follows_live_writes,
                watching_from_the_current_revision_sees_only_new_writes,
                concurrent_writers_are_seen_in_order_without_gaps_or_duplicates,
                watching_from_before_the_compacted_revision_fails_at_once,
            }
            concurrency {
                concurrent_creates_get_unique_contiguous_revisions,
                racing_creates_of_one_key_let_exactly_one_win,
                compare_and_swap_counter_loses_no_increment,
            }
        );
    };
    (@areas $subject:path; $($area:ident { $($case:ident),* $(,)? })*) => {
        mod contract {
            $(
                mod $area {
                    $(
                        // Multi-threaded so the concurrency cases really race; the rest do not mind.
                        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                        async fn $case() {
                            $crate::contract_tests::$area::$case($subject().await).await;
                        }
                    )*
                }
            )*
        }
    };
}
pub(crate) use contract_suite;

pub(crate) fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// The key at the current revision, if present.
pub(crate) async fn get(store: &dyn Store, key: &str) -> Option<KeyValue> {
    let req = RangeRequest { start: key.to_owned(), ..Default::default() };
    store.range(req).await.expect("range").kvs.into_iter().next()
}

/// The next event on a watch, failing the test if none comes within 10s or the stream errs.
pub(crate) async fn next_event(stream: &mut WatchStream) -> Event {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10s")
        .expect("the stream goes on")
        .expect("an event, not an error")
}

/// Asserts nothing arrives for a little while.
pub(crate) async fn assert_quiet(stream: &mut WatchStream) {
    let next = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(next.is_err(), "unexpected item: {next:?}");
}
