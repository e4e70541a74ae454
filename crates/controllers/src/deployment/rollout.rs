//! The arithmetic of a rollout (upstream's `deployment/util` and `rolling.go`), over plain
//! ReplicaSets: surge and unavailability from `maxSurge`/`maxUnavailable`, how far the new
//! ReplicaSet may grow, how far old ones may shrink, and proportional scaling of a
//! Deployment resized mid-rollout.

use super::annotations::{MAX_REPLICAS, int_annotation};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn deployment_replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn set_replicas(rs: &mut ReplicaSet, n: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(n);
}

pub fn available(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0)
}

pub fn is_recreate(d: &Deployment) -> bool {
    let strategy = d.spec.as_ref().and_then(|s| s.strategy.as_ref());
    strategy.and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

/// upstream's `GetScaledValueFromIntOrPercent`: an integer, or a percentage of `total`
/// rounded up or down. An unreadable value counts as 0 (validation refuses it).
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> i32 {
    match value {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => {
            let Some(percent) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else { return 0 };
            let scaled = percent * i64::from(total);
            (if round_up { (scaled + 99).div_euclid(100) } else { scaled.div_euclid(100) }) as i32
        }
    }
}

/// upstream's `ResolveFenceposts`: (surge, unavailable), never both zero.
pub fn resolve_fenceposts(max_surge: &IntOrString, max_unavailable: &IntOrString, desired: i32) -> (i32, i32) {
    let surge = scaled_value(max_surge, desired, true);
    let unavailable = scaled_value(max_unavailable, desired, false);
    if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) }
}

fn fenceposts(d: &Deployment) -> (i32, i32) {
    let rolling = d.spec.as_ref().and_then(|s| s.strategy.as_ref()).and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".to_owned());
    let surge = rolling.and_then(|r| r.max_surge.clone()).unwrap_or_else(|| quarter.clone());
    let unavailable = rolling.and_then(|r| r.max_unavailable.clone()).unwrap_or(quarter);
    resolve_fenceposts(&surge, &unavailable, deployment_replicas(d))
}

/// How many pods above the desired count a rolling update may run (0 for Recreate).
pub fn max_surge(d: &Deployment) -> i32 {
    if is_recreate(d) { 0 } else { fenceposts(d).0 }
}

/// How many pods below the desired count a rolling update may leave unavailable.
pub fn max_unavailable(d: &Deployment) -> i32 {
    let desired = deployment_replicas(d);
    if is_recreate(d) || desired == 0 { 0 } else { fenceposts(d).1.min(desired) }
}

/// The size the new ReplicaSet may grow to now (upstream's `NewRSNewReplicas`).
pub fn new_rs_new_replicas(d: &Deployment, all: &[&ReplicaSet], new_rs: &ReplicaSet) -> i32 {
    let desired = deployment_replicas(d);
    if is_recreate(d) {
        return desired;
    }
    let current: i32 = all.iter().map(|rs| replicas(rs)).sum();
    let max_total = desired + max_surge(d);
    if current >= max_total {
        return replicas(new_rs);
    }
    let scale_up = (max_total - current).min(desired - replicas(new_rs));
    replicas(new_rs) + scale_up
}

/// How many old pods a rolling update may remove now (upstream's `maxScaledDown` in
/// `reconcileOldReplicaSets`); `all` includes the new ReplicaSet.
pub fn old_scale_down_budget(d: &Deployment, all: &[&ReplicaSet], new_rs: Option<&ReplicaSet>) -> i32 {
    let all_pods: i32 = all.iter().map(|rs| replicas(rs)).sum();
    let min_available = deployment_replicas(d) - max_unavailable(d);
    let new_unavailable = new_rs.map_or(0, |rs| replicas(rs) - available(rs));
    all_pods - min_available - new_unavailable
}

/// upstream's `cleanupUnhealthyReplicas`: shrink old ReplicaSets (oldest first) by their
/// unavailable pods, at most `budget` in all. Returns (index into `old`, new size) for each
/// change and how many were removed.
pub fn cleanup_unhealthy(old: &[&ReplicaSet], budget: i32) -> (Vec<(usize, i32)>, i32) {
    let mut changes = Vec::new();
    let mut total = 0;
    for i in oldest_first(old) {
        if total >= budget {
            break;
        }
        let (size, ok) = (replicas(old[i]), available(old[i]));
        if size == 0 || size == ok {
            continue;
        }
        let down = (budget - total).min(size - ok);
        changes.push((i, size - down));
        total += down;
    }
    (changes, total)
}

/// upstream's `scaleDownOldReplicaSetsForRollingUpdate`: shrink old ReplicaSets (oldest
/// first) while availability stays above `desired - maxUnavailable`; `available_total` is
/// the available pods of all ReplicaSets.
pub fn scale_down_old_for_rolling_update(
    d: &Deployment,
    old: &[&ReplicaSet],
    available_total: i32,
) -> Vec<(usize, i32)> {
    let min_available = deployment_replicas(d) - max_unavailable(d);
    if available_total <= min_available {
        return Vec::new();
    }
    let budget = available_total - min_available;
    let mut changes = Vec::new();
    let mut total = 0;
    for i in oldest_first(old) {
        if total >= budget {
            break;
        }
        let size = replicas(old[i]);
        if size == 0 {
            continue;
        }
        let down = size.min(budget - total);
        changes.push((i, size - down));
        total += down;
    }
    changes
}

fn oldest_first(sets: &[&ReplicaSet]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sets.len()).collect();
    order.sort_by(|&a, &b| {
        created(sets[a]).cmp(&created(sets[b])).then_with(|| sets[a].metadata.name.cmp(&sets[b].metadata.name))
    });
    order
}

pub fn created(rs: &ReplicaSet) -> Option<jiff::Timestamp> {
    rs.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// upstream's proportional scaling in `scale`: spread the difference between the
/// Deployment's allowed size (desired plus surge) and the active ReplicaSets' sizes in
/// proportion to their size (their `max-replicas` annotation against the new maximum),
/// the rounding leftover going to the largest. `active` are the ReplicaSets with pods;
/// returns (index, new size) for each that changes.
pub fn proportional_sizes(d: &Deployment, active: &[&ReplicaSet]) -> Vec<(usize, i32)> {
    let desired = deployment_replicas(d);
    let current: i32 = active.iter().map(|rs| replicas(rs)).sum();
    let allowed = if desired > 0 { desired + max_surge(d) } else { 0 };
    let to_add = allowed - current;
    if to_add == 0 || active.is_empty() {
        return Vec::new();
    }
    // Larger first; among equals newer first when growing, older first when shrinking.
    let mut order: Vec<usize> = (0..active.len()).collect();
    order.sort_by(|&a, &b| {
        let by_size = replicas(active[b]).cmp(&replicas(active[a]));
        let by_age = created(active[a]).cmp(&created(active[b]));
        by_size.then(if to_add > 0 { by_age.reverse() } else { by_age })
    });
    let status_replicas = d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let mut added = 0;
    let mut sizes: Vec<i32> = active.iter().map(|rs| replicas(rs)).collect();
    for &i in &order {
        let proportion = proportion(active[i], desired + max_surge(d), desired, status_replicas, to_add, added);
        sizes[i] += proportion;
        added += proportion;
    }
    if added != to_add {
        sizes[order[0]] += to_add - added;
    }
    (0..active.len())
        .filter_map(|i| {
            let size = sizes[i].max(0);
            (size != replicas(active[i])).then_some((i, size))
        })
        .collect()
}

/// upstream's `GetProportion`.
fn proportion(
    rs: &ReplicaSet,
    deployment_max: i32,
    desired: i32,
    status_replicas: i32,
    to_add: i32,
    added: i32,
) -> i32 {
    if replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if desired == 0 {
        -replicas(rs)
    } else {
        let annotated = int_annotation(rs, MAX_REPLICAS).unwrap_or(status_replicas);
        if annotated <= 0 {
            0
        } else {
            let size = (f64::from(replicas(rs)) * f64::from(deployment_max) / f64::from(annotated)).ceil() as i32;
            size - replicas(rs)
        }
    };
    let allowed = to_add - added;
    if to_add > 0 { fraction.min(allowed) } else { fraction.max(allowed) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{
        DeploymentSpec, DeploymentStrategy, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDeployment,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn deployment(desired: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(desired),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    fn rs(name: &str, age_secs: i64, size: i32, ok: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.into()),
                creation_timestamp: Some(Time(
                    jiff::Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(1000 - age_secs),
                )),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec { replicas: Some(size), ..Default::default() }),
            status: Some(ReplicaSetStatus { available_replicas: Some(ok), ..Default::default() }),
        }
    }

    #[test]
    fn percentages_round_surge_up_and_unavailability_down() {
        assert_eq!(resolve_fenceposts(&pct("25%"), &pct("25%"), 2), (1, 0));
        assert_eq!(resolve_fenceposts(&pct("25%"), &pct("25%"), 10), (3, 2));
        assert_eq!(resolve_fenceposts(&IntOrString::Int(0), &pct("10%"), 5), (0, 1), "never both zero");
        let d = deployment(3, pct("50%"), IntOrString::Int(5));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (2, 3), "unavailability is capped at the desired count");
    }

    #[test]
    fn the_new_replica_set_grows_within_the_surge() {
        let d = deployment(2, pct("25%"), pct("25%"));
        let (old, new) = (rs("old", 100, 2, 2), rs("new", 1, 0, 0));
        assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 1);
        let grown = rs("new", 1, 1, 0);
        assert_eq!(new_rs_new_replicas(&d, &[&old, &grown], &grown), 1, "3 pods is the most allowed");
    }

    #[test]
    fn old_replica_sets_shrink_as_new_pods_become_available() {
        let d = deployment(2, pct("25%"), pct("25%"));
        let (old, new) = (rs("old", 100, 2, 2), rs("new", 1, 1, 0));
        assert_eq!(old_scale_down_budget(&d, &[&old, &new], Some(&new)), 0, "the new pod is not available yet");
        let new = rs("new", 1, 1, 1);
        assert_eq!(old_scale_down_budget(&d, &[&old, &new], Some(&new)), 1);
        assert_eq!(scale_down_old_for_rolling_update(&d, &[&old], 3), vec![(0, 1)]);
        assert_eq!(scale_down_old_for_rolling_update(&d, &[&old], 2), vec![]);
    }

    #[test]
    fn unhealthy_old_pods_go_first_oldest_replica_set_first() {
        let (a, b) = (rs("a", 100, 3, 1), rs("b", 200, 2, 0));
        assert_eq!(cleanup_unhealthy(&[&a, &b], 3), (vec![(1, 0), (0, 2)], 3));
        assert_eq!(cleanup_unhealthy(&[&a, &b], 1), (vec![(1, 1)], 1));
    }

    #[test]
    fn a_resize_mid_rollout_is_spread_proportionally() {
        let mut d = deployment(20, IntOrString::Int(3), IntOrString::Int(2));
        d.status = Some(Default::default());
        let mut old = rs("old", 100, 8, 8);
        let mut new = rs("new", 1, 5, 5);
        for set in [&mut old, &mut new] {
            set.metadata.annotations = Some([(MAX_REPLICAS.to_owned(), "13".to_owned())].into());
        }
        // From 10 (+3 surge) to 20 (+3): 13 → 23 pods; old gets ceil(8*23/13)-8 = 7, new the rest.
        let sizes = proportional_sizes(&d, &[&old, &new]);
        assert_eq!(sizes, vec![(0, 15), (1, 8)]);
    }
}
