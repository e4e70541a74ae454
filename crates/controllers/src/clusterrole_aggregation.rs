//! The ClusterRole aggregation controller (upstream's `clusterrole-aggregation-controller`):
//! a ClusterRole with an `aggregationRule` holds the union of the rules of the ClusterRoles
//! its selectors match. Any ClusterRole change can change any aggregate, so every change
//! queues one key that settles them all ([`rbac::aggregate`]); each aggregate whose rules
//! differ is written with a server-side apply owning only `rules`, as upstream does.

use crate::Error;
use client_runtime::informers::Informers;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::sync::Arc;

/// The field manager of the aggregated rules.
pub const FIELD_MANAGER: &str = "clusterrole-aggregation-controller";

/// The one thing to settle: every aggregated ClusterRole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllAggregates;

pub struct ClusterRoleAggregationController {
    client: Client,
    cluster_roles: Store<ClusterRole>,
}

/// Watch ClusterRoles and keep the aggregated ones current. Runs until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let cluster_roles = informers.all::<ClusterRole>();
    let queue = WorkQueue::new();
    let controller =
        Arc::new(ClusterRoleAggregationController { client: client.clone(), cluster_roles: cluster_roles.store() });
    cluster_roles.queue_changes(&queue, |_| AllAggregates);
    run_workers_when_synced(controller, queue, 1, cluster_roles.synced()).await;
    Ok(())
}

impl Reconciler for ClusterRoleAggregationController {
    type Key = AllAggregates;
    type Error = Error;
    const NAME: &'static str = "clusterrole-aggregation";

    async fn reconcile(&self, _key: &AllAggregates) -> Result<Action, Error> {
        let roles: Vec<ClusterRole> = self.cluster_roles.state().iter().map(|r| (**r).clone()).collect();
        let api = Api::<ClusterRole>::all(self.client.clone());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let mut failures = Vec::new();
        for (name, rules) in stale_aggregates(&roles) {
            let patch = serde_json::json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name},
                "rules": rules,
            });
            match api.patch(&name, &params, &Patch::Apply(&patch)).await {
                Ok(_) => {}
                // Deleted meanwhile: nothing left to aggregate into.
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        if failures.is_empty() { Ok(Action::Done) } else { Err(Error::Content(failures.join(", "))) }
    }

    fn error_policy(&self, _key: &AllAggregates, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

/// The aggregated roles whose stored rules are not what aggregation gives, with the rules
/// they should have.
fn stale_aggregates(roles: &[ClusterRole]) -> Vec<(String, Vec<PolicyRule>)> {
    rbac::aggregate(roles)
        .into_iter()
        .filter(|(name, rules)| {
            let stored =
                roles.iter().find(|r| r.name_any() == *name).and_then(|r| r.rules.as_deref()).unwrap_or_default();
            normalized(stored) != normalized(rules)
        })
        .collect()
}

/// Rules as upstream's semantic equality compares them: an empty list is an absent one.
fn normalized(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let list = |l: &Option<Vec<String>>| l.clone().filter(|l| !l.is_empty());
    rules
        .iter()
        .map(|r| PolicyRule {
            api_groups: list(&r.api_groups),
            non_resource_urls: list(&r.non_resource_urls),
            resource_names: list(&r.resource_names),
            resources: list(&r.resources),
            verbs: r.verbs.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    const TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

    fn rule(verb: &str, resource: &str) -> PolicyRule {
        PolicyRule {
            verbs: vec![verb.into()],
            api_groups: Some(vec!["".into()]),
            resources: Some(vec![resource.into()]),
            ..Default::default()
        }
    }

    fn role(name: &str, labelled: bool, rules: Option<Vec<PolicyRule>>) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: labelled.then(|| [(TO_VIEW.to_owned(), "true".to_owned())].into()),
                ..Default::default()
            },
            rules,
            aggregation_rule: None,
        }
    }

    fn view(rules: Option<Vec<PolicyRule>>) -> ClusterRole {
        let selector = LabelSelector {
            match_labels: Some([(TO_VIEW.to_owned(), "true".to_owned())].into()),
            ..Default::default()
        };
        ClusterRole {
            aggregation_rule: Some(AggregationRule { cluster_role_selectors: Some(vec![selector]) }),
            ..role("view", false, rules)
        }
    }

    #[test]
    fn a_new_labelled_role_makes_the_aggregate_stale() {
        let roles =
            [view(None), role("pods-reader", true, Some(vec![rule("get", "pods")])), role("other", false, None)];
        assert_eq!(stale_aggregates(&roles), vec![("view".to_owned(), vec![rule("get", "pods")])]);
    }

    #[test]
    fn a_settled_aggregate_is_left_alone_even_if_spelled_differently() {
        let mut stored = rule("get", "pods");
        stored.resource_names = Some(vec![]);
        let roles = [view(Some(vec![stored])), role("pods-reader", true, Some(vec![rule("get", "pods")]))];
        assert!(stale_aggregates(&roles).is_empty());
        assert!(stale_aggregates(&[view(Some(vec![]))]).is_empty(), "nothing selected and no rules");
    }

    #[test]
    fn rules_of_a_role_that_stops_matching_are_removed() {
        let roles =
            [view(Some(vec![rule("get", "pods")])), role("pods-reader", false, Some(vec![rule("get", "pods")]))];
        assert_eq!(stale_aggregates(&roles), vec![("view".to_owned(), vec![])]);
    }
}
