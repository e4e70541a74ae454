//! The status conditions a terminating namespace reports (upstream's
//! `namespaceConditionUpdater`): each of five types is either a failure found in this pass
//! (`True`) or its "ok" variant (`False`), and only a change of status moves its
//! `lastTransitionTime`.

use k8s_openapi::api::core::v1::{NamespaceCondition, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

pub const DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
pub const GROUP_VERSION_PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
pub const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
pub const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
pub const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// Every maintained type with its "ok" reason and message.
const OK: [(&str, &str, &str); 5] = [
    (DISCOVERY_FAILURE, "ResourcesDiscovered", "All resources successfully discovered"),
    (GROUP_VERSION_PARSING_FAILURE, "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    (CONTENT_FAILURE, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    (CONTENT_REMAINING, "ContentRemoved", "All content successfully removed"),
    (FINALIZERS_REMAINING, "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
];

/// What one deletion pass over a namespace's content found.
#[derive(Debug, Default)]
pub struct Findings {
    pub discovery_error: Option<String>,
    /// One message per resource whose content could not be deleted or listed.
    pub delete_errors: Vec<String>,
    /// Objects left per `resource.group` (`configmaps.`, `deployments.apps`).
    pub remaining: BTreeMap<String, usize>,
    /// Objects left per finalizer they carry.
    pub finalizers: BTreeMap<String, usize>,
}

impl Findings {
    /// The failure conditions (status `True`) this pass found.
    pub fn failures(&self, now: &Time) -> Vec<NamespaceCondition> {
        let failure = |type_: &str, reason: &str, message: String| NamespaceCondition {
            type_: type_.to_owned(),
            status: "True".to_owned(),
            last_transition_time: Some(now.clone()),
            reason: Some(reason.to_owned()),
            message: Some(message),
        };
        let mut failures = Vec::new();
        if let Some(e) = &self.discovery_error {
            failures.push(failure(DISCOVERY_FAILURE, "DiscoveryFailed", e.clone()));
        }
        if !self.delete_errors.is_empty() {
            let mut errors = self.delete_errors.clone();
            errors.sort();
            let message =
                format!("Failed to delete all resource types, {} remaining: {}", errors.len(), errors.join(", "));
            failures.push(failure(CONTENT_FAILURE, "ContentDeletionFailed", message));
        }
        let counted = |counts: &BTreeMap<String, usize>, format: &dyn Fn(&str, usize) -> String| {
            counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format(k, *n)).collect::<Vec<_>>()
        };
        let remaining = counted(&self.remaining, &|r, n| format!("{r} has {n} resource instances"));
        if !remaining.is_empty() {
            let message = format!("Some resources are remaining: {}", remaining.join(", "));
            failures.push(failure(CONTENT_REMAINING, "SomeResourcesRemain", message));
        }
        let finalizers = counted(&self.finalizers, &|f, n| format!("{f} in {n} resource instances"));
        if !finalizers.is_empty() {
            let message = format!("Some content in the namespace has finalizers remaining: {}", finalizers.join(", "));
            failures.push(failure(FINALIZERS_REMAINING, "SomeFinalizersRemain", message));
        }
        failures
    }
}

/// Set every maintained condition on `status` from `failures` (absent types are ok);
/// returns whether anything changed.
pub fn update(status: &mut NamespaceStatus, failures: &[NamespaceCondition], now: &Time) -> bool {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for (type_, ok_reason, ok_message) in OK {
        let new = failures.iter().find(|c| c.type_ == type_).cloned().unwrap_or_else(|| NamespaceCondition {
            type_: type_.to_owned(),
            status: "False".to_owned(),
            last_transition_time: Some(now.clone()),
            reason: Some(ok_reason.to_owned()),
            message: Some(ok_message.to_owned()),
        });
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            None => {
                conditions.push(new);
                changed = true;
            }
            Some(old) if old.status != new.status || old.reason != new.reason || old.message != new.message => {
                if old.status != new.status {
                    old.last_transition_time = Some(now.clone());
                }
                old.status = new.status;
                old.reason = new.reason;
                old.message = new.message;
                changed = true;
            }
            Some(_) => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    #[test]
    fn remaining_content_reads_like_upstream() {
        let findings = Findings {
            remaining: BTreeMap::from([("configmaps.".into(), 2), ("deployments.apps".into(), 1)]),
            finalizers: BTreeMap::from([("example.com/hold".into(), 1)]),
            ..Default::default()
        };
        let failures = findings.failures(&at("2025-01-01T00:00:00Z"));
        assert_eq!(failures.len(), 2);
        assert_eq!(failures[0].type_, CONTENT_REMAINING);
        assert_eq!(failures[0].reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            failures[0].message.as_deref(),
            Some(
                "Some resources are remaining: configmaps. has 2 resource instances, deployments.apps has 1 resource instances"
            )
        );
        assert_eq!(
            failures[1].message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        );
    }

    #[test]
    fn ok_conditions_fill_in_and_only_status_changes_move_the_transition_time() {
        let mut status = NamespaceStatus { phase: Some("Terminating".into()), conditions: None };
        let t0 = at("2025-01-01T00:00:00Z");
        let remaining = Findings { remaining: BTreeMap::from([("configmaps.".into(), 1)]), ..Default::default() };
        assert!(update(&mut status, &remaining.failures(&t0), &t0));
        let conditions = status.conditions.as_ref().unwrap();
        assert_eq!(conditions.len(), 5);
        let find = |s: &NamespaceStatus, t: &str| s.conditions.as_ref().unwrap().iter().find(|c| c.type_ == t).cloned();
        assert_eq!(find(&status, CONTENT_REMAINING).unwrap().status, "True");
        assert_eq!(find(&status, DISCOVERY_FAILURE).unwrap().reason.as_deref(), Some("ResourcesDiscovered"));

        let t1 = at("2025-01-01T00:01:00Z");
        assert!(!update(&mut status, &remaining.failures(&t1), &t1), "the same findings change nothing");
        assert!(update(&mut status, &[], &t1));
        let cleared = find(&status, CONTENT_REMAINING).unwrap();
        assert_eq!((cleared.status.as_str(), cleared.last_transition_time), ("False", Some(t1)));
        assert_eq!(find(&status, CONTENT_FAILURE).unwrap().last_transition_time, Some(t0));
    }
}
