//! Watch streams: replay of the log from a revision, then live events, without gap or
//! duplicate.
//!
//! A watcher subscribes to the writer's broadcast before it reads the log, so every change
//! committed after its read arrives live; live events at or before the last revision it
//! has accounted for are skipped. A watcher that falls behind the broadcast buffer goes back
//! to reading the log from where it was, which fails with [`Error::Compacted`] only if
//! that history is gone.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError};

use super::history::History;
use super::writer::Batch;
use crate::{Event, Result, Revision};

/// How many changes one log read returns; a long replay is read page by page.
const REPLAY_PAGE: usize = 512;

pub(super) struct Watcher {
    history: Arc<History>,
    live: broadcast::Receiver<Batch>,
    start: String,
    end: String,
    /// Every change up to this revision has been queued (or did not match).
    seen_through: Revision,
    queued: VecDeque<Event>,
    /// True while changes must come from the log rather than the broadcast.
    replaying: bool,
    /// Set after the stream ended with an error.
    failed: bool,
}

impl crate::EventSource for Watcher {
    async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(event) = self.queued.pop_front() {
                return Some(Ok(event));
            }
            if self.replaying {
                if let Err(e) = self.replay_page().await {
                    self.failed = true;
                    return Some(Err(e));
                }
                continue;
            }
            match self.live.recv().await {
                Ok(batch) => self.queue_live(&batch),
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(
                        missed,
                        after = self.seen_through,
                        "storage: watcher lagged; replaying from the log"
                    );
                    self.replaying = true;
                }
                // The store is gone.
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

impl Watcher {
    /// Starts a watch of `[start, end)` after revision `after`; `live` must have been
    /// subscribed already. Reads the first page of the log, so a compacted `after` fails here.
    pub async fn start(
        history: Arc<History>,
        live: broadcast::Receiver<Batch>,
        start: String,
        end: String,
        after: Revision,
    ) -> Result<Self> {
        let mut watcher = Self {
            history,
            live,
            start,
            end,
            seen_through: after,
            queued: VecDeque::new(),
            replaying: true,
            failed: false,
        };
        watcher.replay_page().await?;
        Ok(watcher)
    }

    async fn replay_page(&mut self) -> Result<()> {
        let page =
            self.history.changes_after(self.start.clone(), self.end.clone(), self.seen_through, REPLAY_PAGE).await?;
        if let Some(last) = page.events.last() {
            self.seen_through = last.kv.mod_revision;
        }
        if let Some(newest) = page.complete_through {
            self.seen_through = self.seen_through.max(newest);
            self.replaying = false;
        }
        self.queued.extend(page.events);
        Ok(())
    }

    fn queue_live(&mut self, batch: &Batch) {
        for event in batch.iter() {
            let revision = event.kv.mod_revision;
            if revision <= self.seen_through {
                continue;
            }
            self.seen_through = revision;
            if self.start.as_str() <= event.kv.key.as_str() && event.kv.key < self.end {
                self.queued.push_back(event.clone());
            }
        }
    }
}
