//! The current state held in memory, so reads at the current revision never touch SQLite.
//!
//! Only the writer thread changes it, after a batch has committed and before the batch's
//! callers are answered: a read that starts after an acknowledgement sees that write.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::{KeyValue, RangeResult, Revision};

pub(super) struct State {
    /// Every live key at `revision`.
    pub kvs: BTreeMap<String, KeyValue>,
    /// The revision of the last committed write.
    pub revision: Revision,
    /// The revision of the last compaction; reads before it fail.
    pub compacted: Revision,
}

impl State {
    /// Keys in `[start, end)` at the current revision, at most `limit` (0: all).
    pub fn range(&self, start: &str, end: &str, limit: usize) -> RangeResult {
        let mut kvs = Vec::new();
        let mut more = false;
        if start < end {
            for (_, kv) in self.kvs.range::<str, _>((Bound::Included(start), Bound::Excluded(end))) {
                if limit != 0 && kvs.len() == limit {
                    more = true;
                    break;
                }
                kvs.push(kv.clone());
            }
        }
        RangeResult { kvs, more, revision: self.revision }
    }
}

/// The exclusive end of a range whose `end` may be empty, meaning "just `start`".
pub(super) fn range_end(start: &str, end: &str) -> String {
    if end.is_empty() { format!("{start}\0") } else { end.to_owned() }
}
