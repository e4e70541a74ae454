//! Attempt to delete (upstream's `attemptToDeleteItem`): for one node, verify a virtual
//! owner exists, finish a foreground deletion once no blocking dependent is left, or look
//! up the object's owners and delete it when none of them remains.

use super::GarbageCollector;
use super::graph::{FOREGROUND_FINALIZER, Identity, ORPHAN_FINALIZER};
use crate::Error;
use client_runtime::runner::{Action, Reconciler, Retry};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DynamicObject, PropagationPolicy};
use std::sync::Arc;

pub struct AttemptToDelete {
    pub gc: Arc<GarbageCollector>,
}

/// What the owners of a live object are, by uid.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Owners {
    /// Exist and are not deleting in the foreground.
    pub solid: Vec<String>,
    /// Gone (or replaced by a namesake).
    pub dangling: Vec<String>,
    /// Being deleted in the foreground, waiting for their dependents.
    pub waiting: Vec<String>,
}

/// What to do with an object that has owners.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// It has a live owner and no stale references.
    Keep,
    /// It has a live owner: drop the references to owners that are gone or going.
    RemoveReferences(Vec<String>),
    /// Its owner waits for it, and it has dependents of its own: delete it in the
    /// foreground too, first unblocking the owner if one of those dependents waits on it.
    DeleteInForeground,
    /// No owner remains: delete it with its own propagation preference.
    Delete(PropagationPolicy),
}

/// Upstream's decision over classified owners.
pub fn decide(owners: &Owners, has_dependents: bool, finalizers: &[String]) -> Decision {
    if !owners.solid.is_empty() {
        let stale: Vec<String> = owners.dangling.iter().chain(&owners.waiting).cloned().collect();
        return if stale.is_empty() { Decision::Keep } else { Decision::RemoveReferences(stale) };
    }
    if !owners.waiting.is_empty() && has_dependents {
        return Decision::DeleteInForeground;
    }
    let has = |f: &str| finalizers.iter().any(|x| x == f);
    let policy = if has(ORPHAN_FINALIZER) {
        PropagationPolicy::Orphan
    } else if has(FOREGROUND_FINALIZER) {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    };
    Decision::Delete(policy)
}

impl Reconciler for AttemptToDelete {
    type Key = String;
    type Error = Error;
    const NAME: &'static str = "garbagecollector";

    async fn reconcile(&self, uid: &String) -> Result<Action, Error> {
        let gc = &self.gc;
        let Some(node) = gc.node(uid) else { return Ok(Action::Done) };
        let Some(latest) = gc.get_live(&node.identity).await? else {
            // Gone: the graph forgets it and its dependents get checked. A watched object's
            // own delete event does the same, so only virtual nodes are forgotten here.
            let work = gc.graph().forget_virtual(uid);
            gc.enqueue(work);
            return Ok(Action::Done);
        };
        if node.virtual_node {
            // It exists; its monitor reports it.
            return Ok(Action::Done);
        }
        let finalizers = latest.metadata.finalizers.clone().unwrap_or_default();
        if latest.metadata.deletion_timestamp.is_some() {
            if finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
                self.process_deleting_dependents(&node.identity).await?;
            }
            return Ok(Action::Done);
        }
        let references = latest.metadata.owner_references.clone().unwrap_or_default();
        if references.is_empty() {
            return Ok(Action::Done);
        }
        let owners = self.classify_owners(&latest, &references).await?;
        let has_dependents = !gc.graph().dependents(uid).is_empty();
        match decide(&owners, has_dependents, &finalizers) {
            Decision::Keep => {}
            Decision::RemoveReferences(stale) => {
                tracing::debug!(object = ?node.identity, ?stale, "removing references to deleted owners");
                gc.update_owner_references(&node.identity, |refs| refs.retain(|r| !stale.contains(&r.uid))).await?;
            }
            Decision::DeleteInForeground => {
                let blocks_owner = gc.graph().dependents(uid).iter().any(|d| d.deleting_dependents);
                if blocks_owner {
                    // Its dependent waits for it while it waits for its owner: let the owner go.
                    let waiting = owners.waiting.clone();
                    gc.update_owner_references(&node.identity, |refs| {
                        for r in refs.iter_mut().filter(|r| waiting.contains(&r.uid)) {
                            r.block_owner_deletion = Some(false);
                        }
                    })
                    .await?;
                }
                gc.delete(&node.identity, PropagationPolicy::Foreground).await?;
            }
            Decision::Delete(policy) => {
                tracing::debug!(object = ?node.identity, ?policy, "deleting an object whose owners are gone");
                gc.delete(&node.identity, policy).await?;
            }
        }
        Ok(Action::Done)
    }

    fn error_policy(&self, _uid: &String, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl AttemptToDelete {
    /// An owner deleting in the foreground: done once no dependent blocks it, else make
    /// sure every blocking dependent is on its way out.
    async fn process_deleting_dependents(&self, owner: &Identity) -> Result<(), Error> {
        let blocking: Vec<(String, bool)> = self
            .gc
            .graph()
            .blocking_dependents(&owner.uid)
            .iter()
            .map(|d| (d.identity.uid.clone(), d.deleting_dependents))
            .collect();
        if blocking.is_empty() {
            return self.gc.remove_finalizer(owner, FOREGROUND_FINALIZER).await;
        }
        for (dependent, deleting_dependents) in blocking {
            if !deleting_dependents {
                self.gc.attempt_to_delete.add(dependent);
            }
        }
        Ok(())
    }

    async fn classify_owners(&self, dependent: &DynamicObject, references: &[OwnerReference]) -> Result<Owners, Error> {
        let mut owners = Owners::default();
        for r in references {
            let identity = Identity {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
                namespace: dependent.metadata.namespace.clone(),
                name: r.name.clone(),
                uid: r.uid.clone(),
            };
            match self.gc.get_live(&identity).await? {
                None => owners.dangling.push(r.uid.clone()),
                Some(owner) => {
                    let deleting = owner.metadata.deletion_timestamp.is_some();
                    let foreground = owner.metadata.finalizers.iter().flatten().any(|f| f == FOREGROUND_FINALIZER);
                    if deleting && foreground { &mut owners.waiting } else { &mut owners.solid }.push(r.uid.clone());
                }
            }
        }
        Ok(owners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owners(solid: &[&str], dangling: &[&str], waiting: &[&str]) -> Owners {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect();
        Owners { solid: v(solid), dangling: v(dangling), waiting: v(waiting) }
    }

    #[test]
    fn a_live_owner_keeps_the_object_but_stale_references_go() {
        assert_eq!(decide(&owners(&["a"], &[], &[]), false, &[]), Decision::Keep);
        assert_eq!(
            decide(&owners(&["a"], &["b"], &["c"]), true, &[]),
            Decision::RemoveReferences(vec!["b".into(), "c".into()])
        );
    }

    #[test]
    fn without_live_owners_the_object_goes_with_its_own_policy() {
        assert_eq!(decide(&owners(&[], &["b"], &[]), true, &[]), Decision::Delete(PropagationPolicy::Background));
        assert_eq!(
            decide(&owners(&[], &["b"], &[]), false, &["orphan".into()]),
            Decision::Delete(PropagationPolicy::Orphan)
        );
        assert_eq!(
            decide(&owners(&[], &[], &["w"]), false, &["foregroundDeletion".into()]),
            Decision::Delete(PropagationPolicy::Foreground)
        );
    }

    #[test]
    fn a_waiting_owner_deletes_a_dependent_with_dependents_in_the_foreground() {
        assert_eq!(decide(&owners(&[], &["b"], &["w"]), true, &[]), Decision::DeleteInForeground);
    }
}
