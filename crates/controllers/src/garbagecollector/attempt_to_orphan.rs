//! Attempt to orphan (upstream's `attemptToOrphanWorker`): an owner deleted with
//! `propagationPolicy: Orphan` carries the `orphan` finalizer; its dependents lose their
//! references to it, then the finalizer goes and the API server removes the owner.

use super::GarbageCollector;
use super::graph::{Identity, ORPHAN_FINALIZER};
use crate::Error;
use client_runtime::runner::{Action, Reconciler, Retry};
use std::sync::Arc;

pub struct AttemptToOrphan {
    pub gc: Arc<GarbageCollector>,
}

impl Reconciler for AttemptToOrphan {
    type Key = String;
    type Error = Error;
    const NAME: &'static str = "garbagecollector-orphan";

    async fn reconcile(&self, uid: &String) -> Result<Action, Error> {
        let gc = &self.gc;
        let Some(owner) = gc.node(uid) else { return Ok(Action::Done) };
        let dependents: Vec<Identity> = gc.graph().dependents(uid).iter().map(|d| d.identity.clone()).collect();
        for dependent in &dependents {
            gc.update_owner_references(dependent, |refs| refs.retain(|r| r.uid != *uid)).await?;
        }
        gc.remove_finalizer(&owner.identity, ORPHAN_FINALIZER).await?;
        Ok(Action::Done)
    }

    fn error_policy(&self, _uid: &String, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}
