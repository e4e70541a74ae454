//! The probe state of a pod's containers, as upstream's prober manager keeps it: each
//! container instance's startup, liveness and readiness probes run on their own period
//! after their initial delay, and count consecutive results against their thresholds.
//! Until the startup probe passes the others wait; a container is ready only after its
//! readiness probe passed; liveness or startup failures past the threshold restart it.

use super::probe;
use crate::cri::Cri;
use k8s_openapi::api::core::v1::{Container, Probe};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The kinds of probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Startup,
    Liveness,
    Readiness,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
        }
    }

    fn of(self, container: &Container) -> Option<&Probe> {
        match self {
            Kind::Startup => container.startup_probe.as_ref(),
            Kind::Liveness => container.liveness_probe.as_ref(),
            Kind::Readiness => container.readiness_probe.as_ref(),
        }
    }
}

#[derive(Default)]
struct Counter {
    last_run: Option<Instant>,
    successes: i32,
    failures: i32,
    /// The result the thresholds settled on.
    passing: Option<bool>,
}

/// One container instance's probes.
struct Instance {
    id: String,
    started: Instant,
    counters: HashMap<Kind, Counter>,
}

/// What a round of probing decided for one container.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Nothing changed that needs action.
    Fine,
    /// A probe failed now (an `Unhealthy` event with this message).
    Unhealthy { kind: Kind, message: String },
    /// Liveness or startup failed past the threshold: restart the container.
    Restart { kind: Kind, message: String },
}

/// The probes of one pod.
#[derive(Default)]
pub struct Probes {
    instances: HashMap<String, Instance>,
}

impl Probes {
    /// Whether `container` has started (its startup probe passed, or it has none).
    pub fn started(&self, container: &Container) -> bool {
        container.startup_probe.is_none()
            || self.instances.get(&container.name).is_some_and(|i| counter_passing(i, Kind::Startup))
    }

    /// Whether `container` is ready by its readiness probe (true without one, once started).
    pub fn ready(&self, container: &Container) -> bool {
        self.started(container)
            && (container.readiness_probe.is_none()
                || self.instances.get(&container.name).is_some_and(|i| counter_passing(i, Kind::Readiness)))
    }

    /// Forget containers that are not running any more.
    pub fn retain(&mut self, running: &HashMap<String, String>) {
        self.instances.retain(|name, instance| running.get(name) == Some(&instance.id));
    }

    /// Run the probes of `container` (running as `id` in a pod at `pod_ip`) that are due.
    pub async fn probe(&mut self, cri: &Cri, container: &Container, id: &str, pod_ip: &str) -> Vec<Verdict> {
        let instance = self.instances.entry(container.name.clone()).or_insert_with(|| Instance {
            id: id.to_owned(),
            started: Instant::now(),
            counters: HashMap::new(),
        });
        if instance.id != id {
            *instance = Instance { id: id.to_owned(), started: Instant::now(), counters: HashMap::new() };
        }
        let started = container.startup_probe.is_none() || counter_passing(instance, Kind::Startup);
        let kinds: &[Kind] = if started { &[Kind::Liveness, Kind::Readiness] } else { &[Kind::Startup] };
        let mut verdicts = Vec::new();
        for &kind in kinds {
            let Some(spec) = kind.of(container) else { continue };
            let now = Instant::now();
            let delay = Duration::from_secs(spec.initial_delay_seconds.unwrap_or(0).max(0) as u64);
            let period = Duration::from_secs(spec.period_seconds.unwrap_or(10).max(1) as u64);
            let counter = instance.counters.entry(kind).or_default();
            let due = now.duration_since(instance.started) >= delay
                && counter.last_run.is_none_or(|last| now.duration_since(last) >= period);
            if !due {
                continue;
            }
            counter.last_run = Some(now);
            let outcome = probe::run(cri, spec, container, id, pod_ip).await;
            verdicts.push(record(counter, kind, spec, outcome));
        }
        verdicts
    }
}

fn counter_passing(instance: &Instance, kind: Kind) -> bool {
    instance.counters.get(&kind).and_then(|c| c.passing) == Some(true)
}

/// Count one result against the probe's thresholds.
fn record(counter: &mut Counter, kind: Kind, spec: &Probe, outcome: probe::Outcome) -> Verdict {
    let success_threshold = spec.success_threshold.unwrap_or(1).max(1);
    let failure_threshold = spec.failure_threshold.unwrap_or(3).max(1);
    match outcome {
        Ok(()) => {
            counter.failures = 0;
            counter.successes += 1;
            if counter.successes >= success_threshold {
                counter.passing = Some(true);
            }
            Verdict::Fine
        }
        Err(output) => {
            counter.successes = 0;
            counter.failures += 1;
            let message = format!("{} probe failed: {}", kind.name(), output.trim_end());
            if counter.failures >= failure_threshold {
                counter.passing = Some(false);
                if kind != Kind::Readiness {
                    counter.failures = 0;
                    return Verdict::Restart { kind, message };
                }
            }
            Verdict::Unhealthy { kind, message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(success: i32, failure: i32) -> Probe {
        Probe { success_threshold: Some(success), failure_threshold: Some(failure), ..Default::default() }
    }

    #[test]
    fn thresholds_decide_readiness_and_restarts() {
        let mut readiness = Counter::default();
        let probe = spec(2, 2);
        assert_eq!(record(&mut readiness, Kind::Readiness, &probe, Ok(())), Verdict::Fine);
        assert_eq!(readiness.passing, None, "one success of two");
        record(&mut readiness, Kind::Readiness, &probe, Ok(()));
        assert_eq!(readiness.passing, Some(true));
        assert!(matches!(record(&mut readiness, Kind::Readiness, &probe, Err("x".into())), Verdict::Unhealthy { .. }));
        assert_eq!(readiness.passing, Some(true), "one failure of two");
        record(&mut readiness, Kind::Readiness, &probe, Err("x".into()));
        assert_eq!(readiness.passing, Some(false));

        let mut liveness = Counter::default();
        let probe = spec(1, 2);
        record(&mut liveness, Kind::Liveness, &probe, Err("down".into()));
        let verdict = record(&mut liveness, Kind::Liveness, &probe, Err("down".into()));
        assert_eq!(verdict, Verdict::Restart { kind: Kind::Liveness, message: "Liveness probe failed: down".into() });
    }
}
