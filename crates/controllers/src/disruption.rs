//! The disruption controller (upstream's `disruption-controller`): every
//! PodDisruptionBudget's status says how many of its pods are healthy, how many must stay,
//! and so how many may be evicted now. Pods the eviction subresource took a disruption for
//! (`disruptedPods`) stop counting as healthy until they are gone or the entry expires.

use crate::{Error, FIELD_MANAGER};
use client_runtime::informers::Informers;
use client_runtime::labels;
use client_runtime::queue::WorkQueue;
use client_runtime::runner::{Action, Reconciler, Retry, run_workers_when_synced};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// How long an eviction's `disruptedPods` entry holds (upstream's `DeletionTimeout`).
const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
const WORKERS: usize = 1;

pub struct DisruptionController {
    client: Client,
    budgets: Store<PodDisruptionBudget>,
    pods: Store<Pod>,
}

/// Watch budgets and pods and keep every budget's status. Runs until cancelled.
pub async fn run(client: Client, informers: Informers) -> Result<(), Error> {
    let (budgets, pods) = (informers.all::<PodDisruptionBudget>(), informers.all::<Pod>());
    let queue = WorkQueue::new();
    let controller =
        Arc::new(DisruptionController { client: client.clone(), budgets: budgets.store(), pods: pods.store() });
    // A namespace is the key: a pod's change can move any budget of its namespace.
    budgets.queue_changes(&queue, |b| b.namespace().unwrap_or_default());
    pods.queue_changes(&queue, |p| p.namespace().unwrap_or_default());
    let synced = async { budgets.synced().await && pods.synced().await };
    run_workers_when_synced(controller, queue, WORKERS, synced).await;
    Ok(())
}

impl Reconciler for DisruptionController {
    /// A namespace.
    type Key = String;
    type Error = Error;
    const NAME: &'static str = "disruption";

    async fn reconcile(&self, namespace: &String) -> Result<Action, Error> {
        let now = Timestamp::now();
        let pods: Vec<Arc<Pod>> =
            self.pods.state().into_iter().filter(|p| p.namespace().as_deref() == Some(namespace)).collect();
        let mut next: Option<Duration> = None;
        for budget in self.budgets.state().into_iter().filter(|b| b.namespace().as_deref() == Some(namespace)) {
            let selected: Vec<&Pod> = pods.iter().map(|p| p.as_ref()).filter(|p| selected_by(&budget, p)).collect();
            let expected = self.expected_pods(&budget, &selected).await?;
            let (status, expiry) = compute_status(&budget, &selected, expected, now);
            if let Some(e) = expiry {
                next = Some(next.map_or(e, |n| n.min(e)));
            }
            if budget.status.as_ref() != Some(&status) {
                let mut updated = (*budget).clone();
                updated.status = Some(status);
                let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..Default::default() };
                let api = Api::<PodDisruptionBudget>::namespaced(self.client.clone(), namespace);
                match api.replace_status(&budget.name_any(), &params, &updated).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(next.map_or(Action::Done, Action::RequeueAfter))
    }

    fn error_policy(&self, _namespace: &String, _error: &Error) -> Retry {
        Retry::RateLimited
    }
}

impl DisruptionController {
    /// How many pods the budget covers: the selected pods for an integer `minAvailable`,
    /// else the scale of the controllers owning them (upstream's `getExpectedPodCount`).
    async fn expected_pods(&self, budget: &PodDisruptionBudget, pods: &[&Pod]) -> Result<i32, Error> {
        let spec = budget.spec.clone().unwrap_or_default();
        if matches!(spec.min_available, Some(IntOrString::Int(_))) {
            return Ok(pods.len() as i32);
        }
        let mut owners = BTreeSet::new();
        for pod in pods {
            if let Some(owner) = pod.owner_references().iter().find(|o| o.controller == Some(true)) {
                owners.insert((owner.kind.clone(), owner.name.clone(), pod.namespace().unwrap_or_default()));
            }
        }
        let mut total = 0;
        for (kind, name, ns) in owners {
            total += self.scale_of(&kind, &name, &ns).await?;
        }
        Ok(total)
    }

    /// The replicas of a pod's controller; a ReplicaSet's Deployment counts for it.
    async fn scale_of(&self, kind: &str, name: &str, ns: &str) -> Result<i32, Error> {
        let client = self.client.clone();
        let found = match kind {
            "ReplicaSet" => match Api::<ReplicaSet>::namespaced(client.clone(), ns).get_opt(name).await? {
                Some(rs) => {
                    match rs.owner_references().iter().find(|o| o.controller == Some(true) && o.kind == "Deployment") {
                        Some(d) => Api::<Deployment>::namespaced(client, ns)
                            .get_opt(&d.name)
                            .await?
                            .and_then(|d| d.spec?.replicas),
                        None => rs.spec.and_then(|s| s.replicas),
                    }
                }
                None => None,
            },
            "StatefulSet" => {
                Api::<StatefulSet>::namespaced(client, ns).get_opt(name).await?.and_then(|s| s.spec?.replicas)
            }
            "ReplicationController" => {
                Api::<ReplicationController>::namespaced(client, ns).get_opt(name).await?.and_then(|r| r.spec?.replicas)
            }
            _ => None,
        };
        Ok(found.unwrap_or(0))
    }
}

/// Whether the budget's selector picks `pod`: an empty selector picks every pod, none picks none.
fn selected_by(budget: &PodDisruptionBudget, pod: &Pod) -> bool {
    let selector = budget.spec.as_ref().and_then(|s| s.selector.as_ref());
    selector.is_some_and(|s| labels::selects(s, pod.labels())) && pod.metadata.deletion_timestamp.is_none()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The budget's status for `pods` (its live selected pods) and `expected` pods; also how
/// long until the next `disruptedPods` entry expires.
fn compute_status(
    budget: &PodDisruptionBudget,
    pods: &[&Pod],
    expected: i32,
    now: Timestamp,
) -> (PodDisruptionBudgetStatus, Option<Duration>) {
    let old = budget.status.clone().unwrap_or_default();
    let live: BTreeSet<String> = pods.iter().map(|p| p.name_any()).collect();
    let mut disrupted = BTreeMap::new();
    let mut expiry: Option<Duration> = None;
    for (name, at) in old.disrupted_pods.unwrap_or_default() {
        let age = Duration::try_from(now.duration_since(at.0)).unwrap_or(Duration::ZERO);
        if live.contains(&name) && age < DELETION_TIMEOUT {
            let left = DELETION_TIMEOUT - age;
            expiry = Some(expiry.map_or(left, |e| e.min(left)));
            disrupted.insert(name, at);
        }
    }
    let healthy = pods.iter().filter(|p| is_ready(p) && !disrupted.contains_key(&p.name_any())).count() as i32;
    let spec = budget.spec.clone().unwrap_or_default();
    let desired = match (&spec.min_available, &spec.max_unavailable) {
        (Some(min), _) => scaled(min, expected),
        (None, Some(max)) => (expected - scaled(max, expected)).max(0),
        (None, None) => 0,
    };
    let allowed = (healthy - desired).max(0);
    let (condition_status, reason) =
        if allowed > 0 { ("True", "SufficientPods") } else { ("False", "InsufficientPods") };
    let previous = old.conditions.unwrap_or_default().into_iter().find(|c| c.type_ == "DisruptionAllowed");
    let generation = budget.metadata.generation;
    let condition = match previous {
        Some(c) if c.status == condition_status && c.reason == reason => {
            Condition { observed_generation: generation, ..c }
        }
        _ => Condition {
            type_: "DisruptionAllowed".into(),
            status: condition_status.into(),
            reason: reason.into(),
            message: String::new(),
            last_transition_time: Time(now),
            observed_generation: generation,
        },
    };
    let status = PodDisruptionBudgetStatus {
        current_healthy: healthy,
        desired_healthy: desired,
        disruptions_allowed: allowed,
        expected_pods: expected,
        observed_generation: generation,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        conditions: Some(vec![condition]),
    };
    (status, expiry)
}

/// An int-or-percent of `total`; percentages round up, as upstream's budgets do.
fn scaled(value: &IntOrString, total: i32) -> i32 {
    match value {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let percent: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            let product = percent * i64::from(total);
            ((product + 99) / 100) as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn pod(name: &str, ready: bool) -> Pod {
        let condition = PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..Default::default()
        };
        Pod {
            metadata: kube::api::ObjectMeta { name: Some(name.into()), ..Default::default() },
            status: Some(PodStatus { conditions: Some(vec![condition]), ..Default::default() }),
            ..Default::default()
        }
    }

    fn budget(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudget {
        PodDisruptionBudget {
            metadata: kube::api::ObjectMeta { name: Some("web".into()), generation: Some(3), ..Default::default() },
            spec: Some(PodDisruptionBudgetSpec {
                min_available: min,
                max_unavailable: max,
                selector: Some(LabelSelector::default()),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn min_available_leaves_the_surplus_healthy_pods_to_disrupt() {
        let (a, b, c) = (pod("a", true), pod("b", true), pod("c", false));
        let (status, _) = compute_status(&budget(Some(IntOrString::Int(2)), None), &[&a, &b], 2, Timestamp::now());
        assert_eq!((status.current_healthy, status.desired_healthy, status.disruptions_allowed), (2, 2, 0));
        assert_eq!(status.conditions.unwrap()[0].reason, "InsufficientPods");
        let (status, _) = compute_status(&budget(Some(IntOrString::Int(1)), None), &[&a, &b, &c], 3, Timestamp::now());
        assert_eq!((status.current_healthy, status.disruptions_allowed, status.expected_pods), (2, 1, 3));
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.conditions.unwrap()[0].status, "True");
    }

    #[test]
    fn max_unavailable_percentages_round_up() {
        let a = pod("a", true);
        let (status, _) = compute_status(
            &budget(None, Some(IntOrString::String("25%".into()))),
            &[&a, &a, &a, &a, &a],
            5,
            Timestamp::now(),
        );
        assert_eq!((status.desired_healthy, status.disruptions_allowed), (3, 2));
    }

    #[test]
    fn disrupted_pods_stop_counting_until_gone_or_expired() {
        let (a, b) = (pod("a", true), pod("b", true));
        let now = Timestamp::now();
        let mut pdb = budget(Some(IntOrString::Int(1)), None);
        let disrupted = [("a".to_owned(), Time(now)), ("gone".to_owned(), Time(now))].into();
        pdb.status = Some(PodDisruptionBudgetStatus { disrupted_pods: Some(disrupted), ..Default::default() });
        let (status, expiry) = compute_status(&pdb, &[&a, &b], 2, now);
        assert_eq!((status.current_healthy, status.disruptions_allowed), (1, 0));
        assert_eq!(status.disrupted_pods.unwrap().keys().collect::<Vec<_>>(), ["a"]);
        assert_eq!(expiry, Some(DELETION_TIMEOUT));
    }
}
