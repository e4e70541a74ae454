//! A replica controller's status counters from the pods it owns (upstream's
//! `calculateStatus`), and when availability needs another look.

use super::kinds::Counts;
use super::ranking::{is_ready, ready_condition};
use k8s_openapi::api::core::v1::Pod;
use std::collections::BTreeMap;
use std::time::Duration;

/// Counters for `owned` active pods, of an owner at `generation` whose template has
/// `template_labels` and that needs `min_ready_seconds` of readiness for availability.
pub fn counts(
    owned: &[&Pod],
    template_labels: &BTreeMap<String, String>,
    min_ready_seconds: i32,
    generation: i64,
    now: jiff::Timestamp,
) -> Counts {
    let fully_labeled = owned
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            template_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .count();
    Counts {
        replicas: owned.len() as i32,
        fully_labeled_replicas: fully_labeled as i32,
        ready_replicas: owned.iter().filter(|p| is_ready(p)).count() as i32,
        available_replicas: owned.iter().filter(|p| is_available(p, min_ready_seconds, now)).count() as i32,
        observed_generation: generation,
    }
}

/// Ready for at least `min_ready_seconds` (upstream's `IsPodAvailable`).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds == 0 {
        return true;
    }
    let since = ready_condition(pod).and_then(|c| c.last_transition_time.as_ref());
    since.is_some_and(|t| t.0 + jiff::SignedDuration::from_secs(min_ready_seconds.into()) < now)
}

/// When to look again so that ready pods become available: after `min_ready_seconds`
/// while some ready pod is not yet available (upstream's requeue in `syncReplicaSet`).
pub fn recheck_after(counts: &Counts, min_ready_seconds: i32) -> Option<Duration> {
    let waiting = counts.ready_replicas > counts.available_replicas;
    (min_ready_seconds > 0 && waiting).then(|| Duration::from_secs(min_ready_seconds as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(labels: &[(&str, &str)], ready_secs_ago: Option<i64>, now: jiff::Timestamp) -> Pod {
        Pod {
            metadata: ObjectMeta {
                labels: Some(labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()),
                ..Default::default()
            },
            status: Some(PodStatus {
                conditions: ready_secs_ago.map(|ago| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(now - jiff::SignedDuration::from_secs(ago))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn counters_follow_labels_readiness_and_min_ready_seconds() {
        let now = jiff::Timestamp::now();
        let template: BTreeMap<String, String> = [("app".into(), "web".into()), ("v".into(), "2".into())].into();
        let pods = [
            pod(&[("app", "web"), ("v", "2")], Some(60), now),
            pod(&[("app", "web"), ("v", "2")], Some(1), now),
            pod(&[("app", "web")], None, now),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let c = counts(&refs, &template, 10, 7, now);
        assert_eq!(
            c,
            Counts {
                replicas: 3,
                fully_labeled_replicas: 2,
                ready_replicas: 2,
                available_replicas: 1,
                observed_generation: 7
            }
        );
        assert_eq!(recheck_after(&c, 10), Some(Duration::from_secs(10)));
        assert_eq!(counts(&refs, &template, 0, 7, now).available_replicas, 2);
    }
}
