//! Which candidate node to preempt on (upstream's `pickOneNodeForPreemption`): each
//! criterion in turn keeps the best-scoring candidates, until one is left.

use super::Candidate;
use super::victims::start_time;
use crate::framework::pod_priority;
use jiff::Timestamp;

/// The earliest start among the highest-priority victims (upstream's
/// `GetEarliestPodStartTime`); victims not started yet count as starting `now`.
fn earliest_start_of_most_important(candidate: &Candidate, now: Timestamp) -> Timestamp {
    let pods = &candidate.victims.pods;
    let highest = pods.iter().map(|p| pod_priority(p)).max().unwrap_or(0);
    pods.iter().filter(|p| pod_priority(p) == highest).map(|p| start_time(p, now)).min().unwrap_or(now)
}

/// The index of the candidate to preempt on, by, in order: fewest PodDisruptionBudget
/// violations; lowest priority of its most important victim; smallest sum of victim
/// priorities; fewest victims; latest start of its most important victims; then the first.
pub fn pick_one(candidates: &[Candidate], now: Timestamp) -> Option<usize> {
    // Scores where higher is better.
    let criteria: [&dyn Fn(&Candidate) -> i128; 5] = [
        &|c| -(c.victims.pdb_violations as i128),
        &|c| -i128::from(c.victims.pods.iter().map(|p| pod_priority(p)).max().unwrap_or(i32::MIN)),
        // Shifted by 2^31 so every term is positive: a few negative-priority victims must
        // not look better than fewer victims of the same priority.
        &|c| -c.victims.pods.iter().map(|p| i128::from(pod_priority(p)) + (1i128 << 31)).sum::<i128>(),
        &|c| -(c.victims.pods.len() as i128),
        &|c| earliest_start_of_most_important(c, now).as_nanosecond(),
    ];
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for score in criteria {
        if remaining.len() <= 1 {
            break;
        }
        let best = remaining.iter().map(|&i| score(&candidates[i])).max()?;
        remaining.retain(|&i| score(&candidates[i]) == best);
    }
    remaining.first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preemption::testing::{now, running};
    use crate::preemption::victims::Victims;
    use std::sync::Arc;

    fn candidate(node: &str, pdb_violations: usize, victims: &[(i32, &str)]) -> Candidate {
        let pods = victims.iter().enumerate().map(|(i, (prio, start))| running(&format!("v{i}"), *prio, "1", start));
        Candidate { node: node.to_owned(), victims: Victims { pods: pods.collect::<Vec<Arc<_>>>(), pdb_violations } }
    }

    fn picked(candidates: &[Candidate]) -> &str {
        &candidates[pick_one(candidates, now()).unwrap()].node
    }

    const T9: &str = "2025-01-01T09:00:00Z";
    const T10: &str = "2025-01-01T10:00:00Z";

    #[test]
    fn fewest_budget_violations_first() {
        let candidates = [candidate("a", 1, &[(0, T9)]), candidate("b", 0, &[(5, T9), (5, T9)])];
        assert_eq!(picked(&candidates), "b");
    }

    #[test]
    fn then_the_lowest_highest_victim_priority() {
        let candidates = [candidate("a", 0, &[(5, T9)]), candidate("b", 0, &[(3, T9), (3, T9), (1, T9)])];
        assert_eq!(picked(&candidates), "b");
    }

    #[test]
    fn then_the_smallest_priority_sum_even_below_zero() {
        let candidates = [candidate("a", 0, &[(3, T9), (-5, T9)]), candidate("b", 0, &[(3, T9)])];
        assert_eq!(picked(&candidates), "b");
        let candidates = [candidate("a", 0, &[(-5, T9), (-5, T9)]), candidate("b", 0, &[(-5, T9)])];
        assert_eq!(picked(&candidates), "b");
    }

    #[test]
    fn then_fewest_victims_then_the_youngest_most_important_victims() {
        // Equal sums (shifted) need equal counts; the start time decides.
        let candidates = [candidate("a", 0, &[(2, T9), (1, T10)]), candidate("b", 0, &[(2, T10), (1, T9)])];
        assert_eq!(picked(&candidates), "b");
        let candidates = [candidate("a", 0, &[(2, T10)]), candidate("b", 0, &[(2, T10)])];
        assert_eq!(picked(&candidates), "a");
        assert_eq!(pick_one(&[], now()), None);
    }
}
