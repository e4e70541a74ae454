//! End-to-end tests of the streaming commands against a real node (see `support/node.rs`):
//! `kubectl exec` (exit codes, stdin, a terminal; over WebSocket and over SPDY), `cp`,
//! `attach`, `run -i --rm`, `port-forward`; pod-to-pod traffic and containers sharing
//! localhost; and a `krust server` restart that keeps the containers running.

mod support;

use std::io::Write;
use std::process::Stdio;
use support::node::BUSYBOX;
use support::{Cluster, eventually};

fn wait_running(c: &Cluster, pod: &str) -> String {
    eventually(60, || {
        let out = c.ok(&["get", "pod", pod, "-o", "jsonpath={.status.phase} {.status.podIP}"]);
        out.strip_prefix("Running ").filter(|ip| !ip.is_empty()).map(str::to_owned)
    })
}

/// `kubectl exec` with the given extra environment; (exit code, stdout, stderr).
fn exec(c: &Cluster, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = c.kubectl_cmd();
    cmd.args(args).envs(env.iter().copied()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exec_cp_attach_and_run_work_over_websocket_and_spdy() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    c.ok(&[
        "run",
        "shell",
        "--image",
        BUSYBOX,
        "--",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done",
    ]);
    wait_running(&c, "shell");
    for env in [&[][..], &[("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false")][..]] {
        let (code, out, err) =
            exec(&c, env, &["exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], None);
        assert_eq!((code, out.as_str()), (3, "out\n"), "{env:?}: {err}");
        assert!(err.contains("err\n"), "{env:?}: {err}");
        let (code, out, _) =
            exec(&c, env, &["exec", "-i", "shell", "--", "sh", "-c", "cat; echo done"], Some("piped\n"));
        assert_eq!((code, out.as_str()), (0, "piped\ndone\n"), "{env:?}");
    }
    // A terminal: `script` gives kubectl one, of a known size that reaches the container.
    let run = c
        .in_node("script")
        .args([
            "-qec",
            &format!(
                "stty cols 97 rows 31; kubectl --kubeconfig {} exec -it shell -- sh -c 'tty; sleep 1; stty size; exit 4'",
                c.kubeconfig().display()
            ),
        ])
        .arg("/dev/null")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("/dev/pts/"), "{out}");
    assert!(out.contains("31 97"), "the terminal size was not passed on: {out}");
    assert_eq!(run.status.code(), Some(4), "{out}");

    // kubectl cp, both ways (tar over exec).
    let local = c.dir.path().join("to-pod.txt");
    std::fs::write(&local, "copied in\n").unwrap();
    c.ok(&["cp", local.to_str().unwrap(), "shell:/tmp/in.txt"]);
    assert_eq!(c.ok(&["exec", "shell", "--", "cat", "/tmp/in.txt"]), "copied in\n");
    let back = c.dir.path().join("from-pod.txt");
    c.ok(&["cp", "shell:/tmp/in.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "copied in\n");

    // attach streams what the container prints from now on.
    let mut attach = c.kubectl_cmd();
    attach.args(["attach", "shell"]).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = attach.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    child.kill().unwrap();
    let seen = String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned();
    assert!(seen.lines().filter(|l| l.starts_with("tick ")).count() >= 3, "{seen}");

    // run -i --rm: the pod's stdin is kubectl's, and the pod is gone afterwards.
    let (code, out, err) = exec(
        &c,
        &[],
        &[
            "run",
            "-i",
            "--rm",
            "--restart=Never",
            "once",
            "--image",
            BUSYBOX,
            "--",
            "sh",
            "-c",
            "read line; echo got $line",
        ],
        Some("hello\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("got hello"), "{out}");
    eventually(30, || c.kubectl(&["get", "pod", "once"]).stderr.contains("NotFound").then_some(()));
}

#[test]
fn pods_reach_each_other_and_port_forward_reaches_a_pod() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    let pod = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: pair}}
spec:
  containers:
  - name: server
    image: {BUSYBOX}
    command:
    - sh
    - -c
    - |
      echo shared-localhost > /tmp/index.html
      mkdir /tmp/cgi-bin
      printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho $REMOTE_ADDR\n' > /tmp/cgi-bin/ip
      chmod +x /tmp/cgi-bin/ip
      exec httpd -f -p 8080 -h /tmp
  - name: client
    image: {BUSYBOX}
    command: ["sleep", "3600"]
"#
    );
    c.ok_stdin(&["apply", "-f", "-"], &pod);
    c.ok(&["run", "other", "--image", BUSYBOX, "--", "sleep", "3600"]);
    let pair_ip = wait_running(&c, "pair");
    let other_ip = wait_running(&c, "other");
    // Two containers of one pod share its network namespace.
    let body = eventually(20, || {
        c.kubectl(&["exec", "pair", "-c", "client", "--", "wget", "-qO-", "http://127.0.0.1:8080/"])
            .success
            .then(|| c.ok(&["exec", "pair", "-c", "client", "--", "wget", "-qO-", "http://127.0.0.1:8080/"]))
    });
    assert_eq!(body, "shared-localhost\n");
    // Another pod reaches it on its pod IP, without NAT: the server sees the client's pod IP.
    assert_eq!(
        c.ok(&["exec", "other", "--", "wget", "-qO-", &format!("http://{pair_ip}:8080/")]),
        "shared-localhost\n"
    );
    let seen = c.ok(&["exec", "other", "--", "wget", "-qO-", &format!("http://{pair_ip}:8080/cgi-bin/ip")]);
    // busybox httpd prints an IPv4 peer in IPv6-mapped form, `[::ffff:10.244.0.3]`.
    let seen = seen.trim().trim_start_matches("[::ffff:").trim_end_matches(']');
    assert_eq!(seen, other_ip, "the server sees the client pod's own IP");

    for env in [&[][..], &[("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")][..]] {
        let mut forward = c.kubectl_cmd();
        forward
            .args(["port-forward", "pod/pair", "18080:8080"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = forward.spawn().unwrap();
        let body = eventually(20, || {
            let out = c.in_node("curl").args(["-sf", "--max-time", "3", "http://127.0.0.1:18080/"]).output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
        });
        child.kill().unwrap();
        let _ = child.wait();
        assert_eq!(body, "shared-localhost\n", "{env:?}");
    }
}

#[test]
fn restarting_the_server_keeps_containers_and_cleans_up_pods_deleted_meanwhile() {
    let Some(mut c) = Cluster::start_node(&[]) else { return };
    c.ok(&["run", "keeper", "--image", BUSYBOX, "--", "sleep", "3600"]);
    c.ok(&["run", "goner", "--image", BUSYBOX, "--", "sleep", "3600"]);
    wait_running(&c, "keeper");
    wait_running(&c, "goner");
    let id = |c: &Cluster| c.ok(&["get", "pod", "keeper", "-o", "jsonpath={.status.containerStatuses[0].containerID}"]);
    let before = id(&c);
    // Down, then up without the node agent: `goner` is deleted while no agent runs.
    c.stop_and_restart(&["--disable-agent"]);
    c.ok(&["delete", "pod", "goner", "--grace-period=0", "--force"]);
    c.stop_and_restart(&[]);
    c.wait_for_ready_node();
    assert_eq!(id(&c), before, "the container was adopted, not restarted");
    assert_eq!(c.ok(&["get", "pod", "keeper", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"]), "0");
    assert_eq!(c.ok(&["exec", "keeper", "--", "echo", "still here"]), "still here\n");
    // The deleted pod's sandbox, IP and directories are gone.
    let ipam = c.dir.path().join("agent/cni/networks/krust");
    eventually(60, || {
        let held = std::fs::read_dir(&ipam)
            .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("10.")).count())
            .unwrap_or(0);
        let pods = std::fs::read_dir(c.dir.path().join("agent/pods")).map(|d| d.count()).unwrap_or(0);
        (held == 1 && pods == 1).then_some(())
    });
}

#[test]
fn kubectl_debug_adds_an_ephemeral_container_in_the_targets_process_namespace() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    c.ok(&["run", "target", "--image", BUSYBOX, "--", "sleep", "3600"]);
    wait_running(&c, "target");
    c.ok(&[
        "debug",
        "target",
        "--image",
        BUSYBOX,
        "--image-pull-policy=IfNotPresent",
        "--target",
        "target",
        "-c",
        "dbg",
        "--",
        "ps",
    ]);
    let state = eventually(60, || {
        let state = c.ok(&[
            "get",
            "pod",
            "target",
            "-o",
            "jsonpath={.status.ephemeralContainerStatuses[0].state.terminated.reason}",
        ]);
        (!state.is_empty()).then_some(state)
    });
    assert_eq!(state, "Completed");
    let ps = c.ok(&["logs", "target", "-c", "dbg"]);
    assert!(ps.contains("sleep 3600"), "the debug container sees the target's processes:\n{ps}");
    // Existing ephemeral containers cannot be changed or removed.
    let patch = r#"{"spec":{"ephemeralContainers":[]}}"#;
    let err =
        c.fails(&["patch", "pod", "target", "--subresource", "ephemeralcontainers", "--type", "merge", "-p", patch]);
    assert!(err.contains("may not be changed"), "{err}");
}
