//! The run-to-completion marker. Simulated nodes start no containers, so a pod says how
//! its work ends through its first container's command:
//!
//! ```yaml
//! command: ["krust-sim:exit", "0"]   # the container exits with code 0
//! ```
//!
//! Such a container runs for [`RUN_TIME`] and then terminates with that exit code. With
//! `restartPolicy: Never` the pod then ends `Succeeded` (code 0) or `Failed` (any other);
//! with `OnFailure` it ends `Succeeded` on 0 and is otherwise restarted, like a kubelet
//! would, every [`RUN_TIME`]; with `Always` the container is restarted whatever the code.
//! Any other command runs until the pod is deleted.

use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

/// The command that marks a container as run-to-completion.
pub const EXIT_MARKER: &str = "krust-sim:exit";
/// How long a marked container runs before it exits.
pub const RUN_TIME: Duration = Duration::from_secs(1);

/// The exit code the first container's command asks for, if it carries the marker.
pub fn exit_code(pod: &Pod) -> Option<i32> {
    let command = pod.spec.as_ref()?.containers.first()?.command.as_ref()?;
    match command.as_slice() {
        [marker, code] if marker == EXIT_MARKER => code.trim().parse().ok(),
        [marker] if marker == EXIT_MARKER => Some(0),
        _ => None,
    }
}

/// How a pod whose container exited with `code` goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterExit {
    Succeeded,
    Failed,
    Restart,
}

pub fn after_exit(pod: &Pod, code: i32) -> AfterExit {
    let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    match (policy, code) {
        ("Never", 0) | ("OnFailure", 0) => AfterExit::Succeeded,
        ("Never", _) => AfterExit::Failed,
        _ => AfterExit::Restart,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(command: serde_json::Value, policy: &str) -> Pod {
        serde_json::from_value(
            json!({"spec": {"restartPolicy": policy, "containers": [{"name": "c", "command": command}]}}),
        )
        .unwrap()
    }

    #[test]
    fn reads_the_marker_of_the_first_container() {
        assert_eq!(exit_code(&pod(json!(["krust-sim:exit", "3"]), "Never")), Some(3));
        assert_eq!(exit_code(&pod(json!(["krust-sim:exit"]), "Never")), Some(0));
        assert_eq!(exit_code(&pod(json!(["sleep", "3"]), "Never")), None);
    }

    #[test]
    fn the_restart_policy_decides_what_follows() {
        assert_eq!(after_exit(&pod(json!([]), "Never"), 0), AfterExit::Succeeded);
        assert_eq!(after_exit(&pod(json!([]), "Never"), 1), AfterExit::Failed);
        assert_eq!(after_exit(&pod(json!([]), "OnFailure"), 0), AfterExit::Succeeded);
        assert_eq!(after_exit(&pod(json!([]), "OnFailure"), 2), AfterExit::Restart);
        assert_eq!(after_exit(&pod(json!([]), "Always"), 0), AfterExit::Restart);
    }
}
