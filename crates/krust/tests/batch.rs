//! The Job and CronJob controllers end to end with the real kubectl, on simulated nodes
//! whose containers run to completion through the `krust-sim:exit` marker.

mod support;

use support::{Cluster, eventually};

fn cluster() -> Cluster {
    let cluster = Cluster::start_with(&["--simulated-nodes", "2"]);
    eventually(30, || {
        let nodes = cluster.ok(&["get", "nodes", "--no-headers"]);
        (nodes.lines().filter(|l| l.split_whitespace().nth(1) == Some("Ready")).count() == 2).then_some(())
    });
    cluster
}

/// The pod template of a Job whose container exits with `code`.
fn exiting_template(code: u8) -> String {
    format!(
        "    metadata:\n      labels:\n        app: batch\n    spec:\n      restartPolicy: Never\n      containers:\n      \
         - name: work\n        image: busybox\n        command: [\"krust-sim:exit\", \"{code}\"]\n"
    )
}

#[test]
fn a_job_runs_its_completions_in_parallel_and_completes() {
    let cluster = cluster();
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\nspec:\n  completions: 3\n  parallelism: 2\n  \
         template:\n{}",
        exiting_template(0)
    );
    cluster.ok_stdin(&["apply", "-f", "-"], &job);
    cluster.ok(&["wait", "--for=condition=complete", "job/x", "--timeout=60s"]);
    assert_eq!(cluster.ok(&["get", "job", "x", "-o", "jsonpath={.status.succeeded}"]), "3");
    let conditions = cluster.ok(&["get", "job", "x", "-o", "jsonpath={.status.conditions[*].type}"]);
    assert_eq!(conditions, "SuccessCriteriaMet Complete");
    let completion = cluster.ok(&["get", "job", "x", "-o", "jsonpath={.status.completionTime}"]);
    assert!(!completion.is_empty());
    let pods = cluster.ok(&["get", "pods", "-l", "batch.kubernetes.io/job-name=x", "-o", "name"]);
    assert_eq!(pods.lines().count(), 3, "{pods}");
    assert!(pods.lines().all(|p| p.starts_with("pod/x-") && p.len() == "pod/x-".len() + 5), "{pods}");
    let table = cluster.ok(&["get", "job", "x", "--no-headers"]);
    assert!(table.contains("Complete") && table.contains("3/3"), "{table}");
    let events = cluster.ok(&["get", "events", "--field-selector", "involvedObject.name=x", "--no-headers"]);
    assert!(events.contains("SuccessfulCreate") && events.contains("Job completed"), "{events}");
}

#[test]
fn a_job_whose_pods_fail_stops_at_its_backoff_limit() {
    let cluster = cluster();
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: failing\nspec:\n  backoffLimit: 1\n  template:\n{}",
        exiting_template(3)
    );
    cluster.ok_stdin(&["apply", "-f", "-"], &job);
    cluster.ok(&["wait", "--for=condition=failed", "job/failing", "--timeout=60s"]);
    let reason =
        cluster.ok(&["get", "job", "failing", "-o", "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}"]);
    assert_eq!(reason, "BackoffLimitExceeded");
    assert_eq!(cluster.ok(&["get", "job", "failing", "-o", "jsonpath={.status.failed}"]), "2");
}

#[test]
fn a_finished_job_is_deleted_after_its_ttl() {
    let cluster = cluster();
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: brief\nspec:\n  ttlSecondsAfterFinished: 1\n  \
         template:\n{}",
        exiting_template(0)
    );
    cluster.ok_stdin(&["apply", "-f", "-"], &job);
    eventually(60, || cluster.kubectl(&["get", "job", "brief"]).stderr.contains("NotFound").then_some(()));
}

#[test]
fn a_suspended_job_runs_nothing_until_resumed() {
    let cluster = cluster();
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: held\nspec:\n  suspend: true\n  template:\n{}",
        exiting_template(0)
    );
    cluster.ok_stdin(&["apply", "-f", "-"], &job);
    cluster.ok(&["wait", "--for=condition=suspended", "job/held", "--timeout=30s"]);
    let pods = cluster.ok(&["get", "pods", "-l", "batch.kubernetes.io/job-name=held", "-o", "name"]);
    assert_eq!(pods, "", "a suspended Job creates no pods");
    assert_eq!(cluster.ok(&["get", "job", "held", "-o", "jsonpath={.status.startTime}"]), "");
    cluster.ok(&["patch", "job", "held", "--type=merge", "-p", r#"{"spec":{"suspend":false}}"#]);
    cluster.ok(&["wait", "--for=condition=complete", "job/held", "--timeout=60s"]);
    let suspended =
        cluster.ok(&["get", "job", "held", "-o", "jsonpath={.status.conditions[?(@.type==\"Suspended\")].reason}"]);
    assert_eq!(suspended, "JobResumed");
}

fn cronjob_manifest(schedule: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: tick\nspec:\n  schedule: \"{schedule}\"\n  \
         jobTemplate:\n    spec:\n      template:\n    {}",
        exiting_template(0).replace('\n', "\n    ").trim_end()
    )
}

#[test]
fn a_job_created_from_a_cronjob_runs_to_completion() {
    let cluster = cluster();
    // Yearly: the controller starts nothing during the test.
    cluster.ok_stdin(&["apply", "-f", "-"], &cronjob_manifest("@yearly"));
    cluster.ok(&["create", "job", "--from=cronjob/tick", "manual"]);
    cluster.ok(&["wait", "--for=condition=complete", "job/manual", "--timeout=60s"]);
    let owner = cluster.ok(&["get", "job", "manual", "-o", "jsonpath={.metadata.ownerReferences[0].kind}"]);
    assert_eq!(owner, "CronJob");
    let jobs = cluster.ok(&["get", "jobs", "-o", "name"]);
    assert_eq!(jobs.trim(), "job.batch/manual", "no scheduled run yet");
}

/// Waits for a minute boundary, so it is opt-in: `cargo test -p krust --test batch -- --ignored`.
#[test]
#[ignore]
fn a_cronjob_starts_a_job_on_schedule() {
    let cluster = cluster();
    cluster.ok_stdin(&["apply", "-f", "-"], &cronjob_manifest("* * * * *"));
    let job = eventually(75, || {
        let names = cluster.ok(&["get", "jobs", "-o", "jsonpath={.items[*].metadata.name}"]);
        names.split_whitespace().next().map(str::to_owned)
    });
    assert!(job.starts_with("tick-") && job["tick-".len()..].parse::<u64>().is_ok(), "{job}");
    cluster.ok(&["wait", "--for=condition=complete", &format!("job/{job}"), "--timeout=60s"]);
    let last = cluster.ok(&["get", "cronjob", "tick", "-o", "jsonpath={.status.lastScheduleTime}"]);
    assert!(!last.is_empty());
    eventually(30, || {
        let done = cluster.ok(&["get", "cronjob", "tick", "-o", "jsonpath={.status.lastSuccessfulTime}"]);
        (!done.is_empty()).then_some(())
    });
}
