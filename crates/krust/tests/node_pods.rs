//! End-to-end tests of a real node: `krust server` with its node agent on containerd, in
//! network namespaces of the test's own (see `support/node.rs`), running busybox images
//! the test builds. Seed 003's application: Deployment replicas on their own pod IPs,
//! reachable from the node; the service-account files and service-link variables inside
//! the containers; crash loops, missing images, Jobs, init containers and volumes.

mod support;

use support::node::BUSYBOX;
use support::{Cluster, eventually};

/// A web server pod template that serves, besides `index.html`, its own environment and
/// service-account files (so the test reads what the container sees over HTTP).
fn web_deployment(name: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      run: {name}
  template:
    metadata:
      labels:
        run: {name}
    spec:
      containers:
      - name: {name}
        image: {BUSYBOX}
        command:
        - sh
        - -c
        - |
          echo "hello from $(hostname)" > /www/index.html
          env | sort > /www/env
          cp /var/run/secrets/kubernetes.io/serviceaccount/namespace /www/namespace
          cp /var/run/secrets/kubernetes.io/serviceaccount/ca.crt /www/ca.crt
          cp /var/run/secrets/kubernetes.io/serviceaccount/token /www/token
          cat /etc/resolv.conf > /www/resolv
          httpd -f -p 80 -h /www &
          trap 'kill $!; exit 0' TERM
          wait
        ports:
        - containerPort: 80
"#
    )
}

/// `curl` from the node's namespace; the body, or `None` if it failed.
fn curl_from_node(c: &Cluster, url: &str) -> Option<String> {
    let out = c.in_node("curl").args(["-sf", "--max-time", "5", url]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The pod IPs of pods labelled `selector`, once `count` are Running and ready.
fn running_pod_ips(c: &Cluster, selector: &str, count: usize) -> Vec<String> {
    eventually(90, || {
        let out = c.ok(&["get", "pods", "-l", selector, "-o",
            r#"jsonpath={range .items[*]}{.status.phase},{.status.containerStatuses[0].ready},{.status.podIP},{.metadata.deletionTimestamp}{"\n"}{end}"#]);
        let ips: Vec<String> = out
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f.len() == 4 && f[0] == "Running" && f[1] == "true" && !f[2].is_empty() && f[3].is_empty())
                    .then(|| f[2].to_owned())
            })
            .collect();
        (ips.len() == count && out.lines().count() == count).then_some(ips)
    })
}

#[test]
fn a_deployment_runs_real_containers_on_their_own_ips() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    let node = c.ok(&[
        "get",
        "node",
        "krust-node",
        "-o",
        "jsonpath={.status.nodeInfo.containerRuntimeVersion} {.status.addresses[0].address} {.status.capacity.cpu}",
    ]);
    assert!(node.starts_with("containerd://"), "{node}");
    assert!(node.contains(support::node::NODE_IP), "{node}");

    c.ok_stdin(&["apply", "-f", "-"], &web_deployment("my-nginx", 2));
    let ips = running_pod_ips(&c, "run=my-nginx", 2);
    assert_ne!(ips[0], ips[1], "each pod has its own IP");
    for ip in &ips {
        assert!(ip.starts_with("10.244."), "pod IP {ip} from the node's pod range");
        let body = eventually(20, || curl_from_node(&c, &format!("http://{ip}/")));
        assert!(body.starts_with("hello from my-nginx-"), "{body}");
    }
    let wide = c.ok(&["get", "pods", "-l", "run=my-nginx", "-o", "wide"]);
    assert!(wide.contains("1/1") && wide.contains("Running") && wide.contains("krust-node"), "{wide}");

    // What the container sees: its service account, the API server's Service, cluster DNS.
    let ip = &ips[0];
    let env = curl_from_node(&c, &format!("http://{ip}/env")).unwrap();
    for expected in [
        "KUBERNETES_SERVICE_HOST=10.0.0.1",
        "KUBERNETES_SERVICE_PORT=443",
        "KUBERNETES_SERVICE_PORT_HTTPS=443",
        "KUBERNETES_PORT_443_TCP=tcp://10.0.0.1:443",
    ] {
        assert!(env.lines().any(|l| l == expected), "{expected} missing from\n{env}");
    }
    assert_eq!(curl_from_node(&c, &format!("http://{ip}/namespace")).unwrap(), "default");
    let ca = curl_from_node(&c, &format!("http://{ip}/ca.crt")).unwrap();
    assert_eq!(ca, std::fs::read_to_string(c.pki("ca.crt")).unwrap());
    let token = curl_from_node(&c, &format!("http://{ip}/token")).unwrap();
    let bearer = format!("Authorization: Bearer {token}");
    let (code, body) = c.curl("/api/v1/namespaces/kube-system/secrets", &["-H", &bearer]);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains(r#"User \"system:serviceaccount:default:default\" cannot list"#), "{body}");
    let resolv = curl_from_node(&c, &format!("http://{ip}/resolv")).unwrap();
    assert!(resolv.contains("nameserver 10.0.0.10"), "{resolv}");
    assert!(resolv.contains("search default.svc.cluster.local svc.cluster.local cluster.local"), "{resolv}");
    assert!(resolv.contains("ndots:5"), "{resolv}");

    // Pods started after a Service exists see its variables (seed 003's scale 0 / scale 2).
    c.ok(&["expose", "deployment", "my-nginx", "--port", "80"]);
    let cluster_ip = c.ok(&["get", "svc", "my-nginx", "-o", "jsonpath={.spec.clusterIP}"]);
    c.ok(&["scale", "deployment", "my-nginx", "--replicas=0"]);
    eventually(60, || c.ok(&["get", "pods", "-l", "run=my-nginx", "-o", "name"]).is_empty().then_some(()));
    c.ok(&["scale", "deployment", "my-nginx", "--replicas=2"]);
    let ips = running_pod_ips(&c, "run=my-nginx", 2);
    let env = eventually(20, || curl_from_node(&c, &format!("http://{}/env", ips[1])));
    assert!(env.lines().any(|l| l == format!("MY_NGINX_SERVICE_HOST={cluster_ip}")), "{env}");
    assert!(env.lines().any(|l| l == "MY_NGINX_SERVICE_PORT=80"), "{env}");
    assert!(env.lines().any(|l| l == format!("MY_NGINX_PORT_80_TCP=tcp://{cluster_ip}:80")), "{env}");

    // Deleting the Deployment stops the containers and releases everything.
    c.ok(&["delete", "deployment", "my-nginx", "--wait=false"]);
    eventually(60, || c.ok(&["get", "pods", "-o", "name"]).is_empty().then_some(()));
    let ipam = c.dir.path().join("agent/cni/networks/krust");
    eventually(20, || {
        let held = std::fs::read_dir(&ipam)
            .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("10.")).count())
            .unwrap_or(0);
        (held == 0).then_some(())
    });
}

#[test]
fn crashes_back_off_and_missing_images_never_run() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    c.ok(&[
        "run",
        "crasher",
        "--image",
        BUSYBOX,
        "--image-pull-policy=IfNotPresent",
        "--",
        "sh",
        "-c",
        "echo bye; exit 3",
    ]);
    let state = eventually(60, || {
        let out = c.ok(&["get", "pod", "crasher", "-o",
            "jsonpath={.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].restartCount}"]);
        out.starts_with("CrashLoopBackOff 3 ").then_some(out)
    });
    let restarts: u32 = state.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(restarts >= 1, "{state}");
    let table = c.ok(&["get", "pod", "crasher"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=crasher",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    for reason in ["Scheduled", "Pulled", "Created", "Started", "BackOff"] {
        assert!(events.contains(reason), "{reason} missing from {events}");
    }

    // An image no registry has: ErrImagePull, then ImagePullBackOff; never Running.
    c.ok(&["run", "missing", "--image", "127.0.0.1:1/nothing/here:1.0"]);
    let reasons = eventually(60, || {
        let reason =
            c.ok(&["get", "pod", "missing", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}"]);
        (reason == "ImagePullBackOff").then_some(reason)
    });
    assert_eq!(reasons, "ImagePullBackOff");
    assert_eq!(c.ok(&["get", "pod", "missing", "-o", "jsonpath={.status.phase}"]), "Pending");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=missing",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(events.contains("Failed to pull image \"127.0.0.1:1/nothing/here:1.0\""), "{events}");
    assert!(events.contains("Error: ErrImagePull"), "{events}");
}

#[test]
fn jobs_init_containers_and_volumes_run_for_real() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    c.ok(&["create", "configmap", "site", "--from-literal=greeting=hello"]);
    c.ok(&["create", "secret", "generic", "creds", "--from-literal=password=s3cret"]);
    let pod = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: volumes
  labels: {{app: volumes}}
spec:
  initContainers:
  - name: prepare
    image: {BUSYBOX}
    command: ["sh", "-c", "echo prepared-by-init > /work/init.txt"]
    volumeMounts: [{{name: work, mountPath: /work}}]
  containers:
  - name: web
    image: {BUSYBOX}
    command: ["sh", "-c", "ln -s /etc/site /www/site; ln -s /etc/creds /www/creds; cp /work/init.txt /www/; exec httpd -f -p 80 -h /www"]
    volumeMounts:
    - {{name: work, mountPath: /work}}
    - {{name: site, mountPath: /etc/site}}
    - {{name: creds, mountPath: /etc/creds}}
  volumes:
  - {{name: work, emptyDir: {{}}}}
  - {{name: site, configMap: {{name: site}}}}
  - {{name: creds, secret: {{secretName: creds}}}}
"#
    );
    c.ok_stdin(&["apply", "-f", "-"], &pod);
    let ip = running_pod_ips(&c, "app=volumes", 1).remove(0);
    assert_eq!(eventually(20, || curl_from_node(&c, &format!("http://{ip}/init.txt"))), "prepared-by-init\n");
    assert_eq!(curl_from_node(&c, &format!("http://{ip}/site/greeting")).unwrap(), "hello");
    assert_eq!(curl_from_node(&c, &format!("http://{ip}/creds/password")).unwrap(), "s3cret");
    let init =
        c.ok(&["get", "pod", "volumes", "-o", "jsonpath={.status.initContainerStatuses[0].state.terminated.reason}"]);
    assert_eq!(init, "Completed");
    // A ConfigMap update reaches the running container in place.
    c.ok(&["patch", "configmap", "site", "-p", r#"{"data":{"greeting":"updated"}}"#]);
    eventually(60, || {
        (curl_from_node(&c, &format!("http://{ip}/site/greeting")).as_deref() == Some("updated")).then_some(())
    });

    // A pod whose Secret is missing waits in ContainerCreating with a FailedMount event.
    let waiting = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: nosecret}}\nspec:\n  containers: [{{name: c, image: {BUSYBOX}, command: [sleep, '3600']}}]\n  volumes: [{{name: s, secret: {{secretName: absent}}}}]\n"
    );
    c.ok_stdin(&["apply", "-f", "-"], &waiting);
    eventually(30, || {
        let events = c.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=nosecret,reason=FailedMount",
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        events.contains("secret \"absent\" not found").then_some(())
    });
    let table = c.ok(&["get", "pod", "nosecret"]);
    assert!(table.contains("ContainerCreating"), "{table}");

    // A Job's pod runs to completion.
    c.ok(&["create", "job", "once", "--image", BUSYBOX, "--", "sh", "-c", "echo done"]);
    eventually(60, || {
        let done = c.ok(&["get", "job", "once", "-o", "jsonpath={.status.succeeded}"]);
        (done == "1").then_some(())
    });
    let phase = c.ok(&["get", "pods", "-l", "job-name=once", "-o", "jsonpath={.items[0].status.phase}"]);
    assert_eq!(phase, "Succeeded");
}

#[test]
fn kubectl_logs_reads_the_containers_output() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    c.ok(&[
        "run",
        "counter",
        "--image",
        BUSYBOX,
        "--",
        "sh",
        "-c",
        "i=0; while true; do echo \"line $i\"; i=$((i+1)); sleep 0.2; done",
    ]);
    eventually(60, || c.kubectl(&["logs", "counter"]).stdout.contains("line 5").then_some(()));
    let tail = c.ok(&["logs", "counter", "--tail", "2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    assert!(tail.lines().all(|l| l.starts_with("line ")), "{tail}");
    let stamped = c.ok(&["logs", "counter", "--tail", "1", "--timestamps"]);
    let (time, text) = stamped.trim_end().split_once(' ').unwrap();
    assert!(time.parse::<jiff::Timestamp>().is_ok(), "{stamped}");
    assert!(text.starts_with("line "), "{stamped}");
    assert_eq!(c.ok(&["logs", "counter", "--limit-bytes", "4"]), "line");
    // -f keeps streaming new lines until the client stops.
    let mut follow = c.kubectl_cmd();
    follow.args(["logs", "-f", "counter", "--tail", "1"]).stdout(std::process::Stdio::piped());
    let mut child = follow.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let followed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(followed >= 4, "followed {followed} lines in 2s");

    // The previous instance of a restarted container, and a container that never started.
    c.ok(&["run", "restarts", "--image", BUSYBOX, "--", "sh", "-c", "echo started at $(date +%s); sleep 1; exit 1"]);
    eventually(60, || {
        let restarts = c.ok(&["get", "pod", "restarts", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"]);
        (restarts.parse::<u32>().unwrap_or(0) >= 1).then_some(())
    });
    assert!(c.ok(&["logs", "restarts", "--previous"]).starts_with("started at "));
    c.ok(&["run", "never", "--image", "127.0.0.1:1/none:1"]);
    eventually(60, || {
        let err = c.kubectl(&["logs", "never"]).stderr;
        err.contains("container \"never\" in pod \"never\" is waiting to start: ").then_some(())
    });
    let err = c.fails(&["logs", "counter", "-c", "nosuch"]);
    assert!(err.contains("container nosuch is not valid for pod counter"), "{err}");
}

#[test]
fn probes_restart_unhealthy_containers_and_gate_readiness() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    let pod = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: probed
  labels: {{app: probed}}
spec:
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sh", "-c", "touch /tmp/alive; exec httpd -f -p 80 -h /tmp"]
    livenessProbe:
      exec: {{command: ["cat", "/tmp/alive"]}}
      periodSeconds: 1
      failureThreshold: 2
    readinessProbe:
      httpGet: {{path: /ready, port: 80}}
      periodSeconds: 1
"#
    );
    c.ok(&["create", "service", "clusterip", "probed", "--tcp", "80:80"]);
    c.ok_stdin(&["apply", "-f", "-"], &pod);
    eventually(60, || (c.ok(&["get", "pod", "probed", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(()));
    // Not ready until /ready exists: the Service has the pod only as not ready.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(c.ok(&["get", "pod", "probed", "-o", "jsonpath={.status.containerStatuses[0].ready}"]), "false");
    let endpoints = c.ok(&[
        "get",
        "endpoints",
        "probed",
        "-o",
        "jsonpath={.subsets[*].addresses[*].ip}|{.subsets[*].notReadyAddresses[*].ip}",
    ]);
    assert!(endpoints.starts_with('|') && endpoints.len() > 1, "{endpoints}");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=probed,reason=Unhealthy",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(events.contains("Readiness probe failed: HTTP probe failed with statuscode: 404"), "{events}");
    c.ok(&["exec", "probed", "--", "touch", "/tmp/ready"]);
    let ip = eventually(30, || {
        let ready = c.ok(&["get", "endpoints", "probed", "-o", "jsonpath={.subsets[*].addresses[*].ip}"]);
        (!ready.is_empty()).then_some(ready)
    });
    assert_eq!(ip, c.ok(&["get", "pod", "probed", "-o", "jsonpath={.status.podIP}"]));
    let slice = c.ok(&[
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=probed",
        "-o",
        "jsonpath={.items[0].endpoints[0].conditions.ready}",
    ]);
    assert_eq!(slice, "true");

    // Liveness fails: the container is restarted, and ready again only after its probe.
    c.ok(&["exec", "probed", "--", "rm", "/tmp/alive"]);
    eventually(60, || {
        let restarts = c.ok(&["get", "pod", "probed", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"]);
        (restarts == "1").then_some(())
    });
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=probed,reason=Killing",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(events.contains("Container app failed liveness probe, will be restarted"), "{events}");
    eventually(30, || {
        (c.ok(&["get", "pod", "probed", "-o", "jsonpath={.status.containerStatuses[0].ready}"]) == "false")
            .then_some(())
    });
}

#[test]
fn lifecycle_hooks_run_and_pods_that_do_not_fit_are_rejected() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    let host_dir = c.dir.path().join("hook-output");
    std::fs::create_dir_all(&host_dir).unwrap();
    let pod = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: hooked}}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: {BUSYBOX}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    volumeMounts: [{{name: out, mountPath: /out}}]
    lifecycle:
      postStart: {{exec: {{command: ["sh", "-c", "echo started > /out/post-start"]}}}}
      preStop: {{exec: {{command: ["sh", "-c", "echo stopping > /out/pre-stop"]}}}}
  volumes:
  - name: out
    hostPath: {{path: {}, type: Directory}}
"#,
        host_dir.display()
    );
    c.ok_stdin(&["apply", "-f", "-"], &pod);
    eventually(60, || (c.ok(&["get", "pod", "hooked", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(()));
    assert_eq!(std::fs::read_to_string(host_dir.join("post-start")).unwrap(), "started\n");
    assert!(!host_dir.join("pre-stop").exists());
    c.ok(&["delete", "pod", "hooked"]);
    assert_eq!(std::fs::read_to_string(host_dir.join("pre-stop")).unwrap(), "stopping\n");

    // Placed on the node by hand with more CPU than it has: the kubelet refuses it.
    let greedy = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: greedy}}\nspec:\n  nodeName: krust-node\n  containers: [{{name: c, image: {BUSYBOX}, command: [sleep, '60'], resources: {{requests: {{cpu: '500'}}}}}}]\n"
    );
    c.ok_stdin(&["apply", "-f", "-"], &greedy);
    let status = eventually(30, || {
        let out = c.ok(&["get", "pod", "greedy", "-o", "jsonpath={.status.phase} {.status.reason} {.status.message}"]);
        out.starts_with("Failed ").then_some(out)
    });
    assert!(status.starts_with("Failed OutOfcpu Pod was rejected: Node didn't have enough resource: cpu, requested: 500000, used: 0, capacity: "), "{status}");
}

#[test]
fn the_kubelet_api_authenticates_authorizes_and_serves_metrics() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    c.ok(&["run", "measured", "--image", BUSYBOX, "--", "sleep", "3600"]);
    running_pod_ips(&c, "run=measured", 1);
    let kubelet = |path: &str, auth: &[&str]| {
        let out = c
            .in_node("curl")
            .args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(c.pki("ca.crt"))
            .args(auth)
            .arg(format!("https://{}:10250{path}", support::node::NODE_IP))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_owned(), body.to_owned())
    };
    let (cert, key) = (c.pki("admin.crt"), c.pki("admin.key"));
    let admin = ["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()];
    let (code, metrics) = eventually(30, || {
        let (code, body) = kubelet("/metrics", &admin);
        body.contains("kubelet_pod_start_sli_duration_seconds_count 1").then_some((code, body))
    });
    assert_eq!(code, "200");
    assert!(metrics.contains("# TYPE kubelet_running_pods gauge"), "{metrics}");
    let (code, pods) = kubelet("/pods", &admin);
    assert_eq!(code, "200");
    assert!(pods.contains("\"name\":\"measured\""), "{pods}");
    assert_eq!(kubelet("/metrics", &[]).0, "401");
    let (code, summary) = kubelet("/stats/summary", &admin);
    assert_eq!(code, "200");
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["node"]["nodeName"], "krust-node");
    assert!(summary["node"]["memory"]["availableBytes"].as_u64().unwrap() > 0, "{summary}");
    let measured = summary["pods"].as_array().unwrap().iter().find(|p| p["podRef"]["name"] == "measured").cloned();
    let measured = measured.unwrap_or_else(|| panic!("no stats for the pod: {summary}"));
    assert!(measured["memory"]["workingSetBytes"].as_u64().unwrap() > 0, "{measured}");
    // A service account may not read the node's metrics.
    let token = c.ok(&["create", "token", "default"]);
    let bearer = format!("Authorization: Bearer {}", token.trim());
    let (code, body) = kubelet("/metrics", &["-H", &bearer]);
    assert_eq!(code, "403", "{body}");
    assert!(
        body.contains("user=system:serviceaccount:default:default, verb=get, resource=nodes, subresource=metrics"),
        "{body}"
    );
    let health = c.in_node("curl").args(["-s", "http://127.0.0.1:10248/healthz"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&health.stdout), "ok");
}

#[test]
fn a_statefulset_gets_local_path_volumes_that_outlive_its_pods() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    eventually(30, || {
        let class =
            c.kubectl(&["get", "storageclass", "local-path", "-o", "jsonpath={.provisioner} {.volumeBindingMode}"]);
        (class.stdout == "rancher.io/local-path WaitForFirstConsumer").then_some(())
    });
    let sts = format!(
        r#"apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: web
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: {BUSYBOX}
        command: ["sh", "-c", "echo \"started as $(hostname)\" >> /data/log; exec sleep 3600"]
        volumeMounts: [{{name: data, mountPath: /data}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 1Gi}}}}
"#
    );
    c.ok_stdin(&["apply", "-f", "-"], &sts);
    eventually(90, || {
        let phases = c.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}"]);
        (phases == "Running Running").then_some(())
    });
    let claims = c.ok(&[
        "get",
        "pvc",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.status.phase},{.spec.storageClassName};{end}",
    ]);
    assert_eq!(claims, "data-web-0=Bound,local-path;data-web-1=Bound,local-path;");
    let node = c.ok(&[
        "get",
        "pvc",
        "data-web-0",
        "-o",
        "jsonpath={.metadata.annotations.volume\\.kubernetes\\.io/selected-node}",
    ]);
    assert_eq!(node, "krust-node");
    assert_eq!(c.ok(&["exec", "web-0", "--", "cat", "/data/log"]), "started as web-0\n");
    // The volume outlives the pod: the recreated web-0 finds what its predecessor wrote.
    c.ok(&["delete", "pod", "web-0"]);
    eventually(90, || {
        let log = c.kubectl(&["exec", "web-0", "--", "cat", "/data/log"]).stdout;
        (log == "started as web-0\nstarted as web-0\n").then_some(())
    });
    assert_eq!(c.ok(&["exec", "web-1", "--", "cat", "/data/log"]), "started as web-1\n");
}

#[test]
fn imported_images_run_and_sidecars_serve_their_pod() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    // `krust image import` loads an archive into the running node's containerd.
    let archive = c.dir.path().join("tools.tar");
    let image = kubelet::images::busybox::image(
        "example.com/tools:2.0",
        std::path::Path::new(kubelet::images::busybox::BUSYBOX),
    )
    .unwrap();
    std::fs::write(&archive, image.archive().unwrap()).unwrap();
    let import = std::process::Command::new(env!("CARGO_BIN_EXE_krust"))
        .args(["image", "import", "--data-dir"])
        .arg(c.dir.path())
        .arg(&archive)
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let images = c.ok(&["get", "node", "krust-node", "-o", "jsonpath={.status.images[*].names}"]);
    assert!(images.contains("docker.io/library/busybox:1.36"), "{images}");

    // A sidecar (a restartable init container) starts first and keeps running beside the
    // main container, which reaches it on localhost.
    let pod = r#"apiVersion: v1
kind: Pod
metadata: {name: with-sidecar}
spec:
  initContainers:
  - name: sidecar
    image: example.com/tools:2.0
    restartPolicy: Always
    command: ["sh", "-c", "echo from-sidecar > /tmp/index.html; exec httpd -f -p 9000 -h /tmp"]
  containers:
  - name: main
    image: example.com/tools:2.0
    command: ["sh", "-c", "until wget -qO- http://127.0.0.1:9000/ > /tmp/got; do sleep 0.2; done; exec sleep 3600"]
"#;
    c.ok_stdin(&["apply", "-f", "-"], pod);
    eventually(60, || {
        let ready =
            c.ok(&["get", "pod", "with-sidecar", "-o", r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#]);
        (ready == "True").then_some(())
    });
    let table = c.ok(&["get", "pod", "with-sidecar"]);
    assert!(table.contains("2/2") && table.contains("Running"), "{table}");
    assert_eq!(c.ok(&["exec", "with-sidecar", "-c", "main", "--", "cat", "/tmp/got"]), "from-sidecar\n");
    let sidecar = c.ok(&["get", "pod", "with-sidecar", "-o", "jsonpath={.status.initContainerStatuses[0].started} {.status.initContainerStatuses[0].state.running.startedAt}"]);
    assert!(sidecar.starts_with("true 20"), "{sidecar}");
}

#[test]
fn a_cronjob_runs_real_containers_on_schedule() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    c.ok(&["create", "cronjob", "tick", "--image", BUSYBOX, "--schedule", "* * * * *", "--", "sh", "-c", "echo tick"]);
    // The next minute starts a Job whose pod runs to completion.
    let job = eventually(100, || {
        let jobs = c.ok(&["get", "jobs", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.succeeded};{end}"]);
        jobs.split(';')
            .find(|j| j.starts_with("tick-") && j.ends_with("=1"))
            .map(|j| j.trim_end_matches("=1").to_owned())
    });
    let pod = c.ok(&["get", "pods", "-l", &format!("job-name={job}"), "-o", "jsonpath={.items[0].metadata.name}"]);
    assert_eq!(c.ok(&["logs", &pod]), "tick\n");
    let last = c.ok(&["get", "cronjob", "tick", "-o", "jsonpath={.status.lastSuccessfulTime}"]);
    assert!(!last.is_empty(), "the CronJob records its success");
}

#[test]
fn traffic_leaving_the_cluster_is_masqueraded_and_containerd_is_restarted_if_it_dies() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    let netns = c.netns.as_ref().unwrap();
    // An echo server outside the cluster: in the client namespace, printing the caller.
    let www = c.dir.path().join("outside");
    std::fs::create_dir_all(www.join("cgi-bin")).unwrap();
    let script = www.join("cgi-bin/ip");
    std::fs::write(&script, "#!/bin/sh\necho Content-Type: text/plain\necho\necho $REMOTE_ADDR\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut outside = std::process::Command::new("ip")
        .args(["netns", "exec", &netns.client, "busybox", "httpd", "-f", "-p", "8080", "-h"])
        .arg(&www)
        .spawn()
        .unwrap();
    c.ok(&["run", "client", "--image", BUSYBOX, "--", "sleep", "3600"]);
    eventually(60, || (c.ok(&["get", "pod", "client", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(()));
    let url = format!("http://{}:8080/cgi-bin/ip", testnet::CLIENT_IP);
    let seen = eventually(30, || {
        let run = c.kubectl(&["exec", "client", "--", "wget", "-qO-", &url]);
        run.success.then_some(run.stdout)
    });
    let _ = outside.kill();
    let _ = outside.wait();
    let seen = seen.trim().trim_start_matches("[::ffff:").trim_end_matches(']').to_owned();
    assert_eq!(seen, support::node::NODE_IP, "leaving the cluster, a pod's traffic carries the node's address");

    // containerd dies: Krust starts it again, and the node keeps running pods.
    let pid_file = c.dir.path().join("agent/containerd/containerd.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    eventually(30, || {
        let now: i32 = std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()?;
        (now != pid && std::path::Path::new(&format!("/proc/{now}")).exists()).then_some(())
    });
    c.ok(&["run", "after", "--image", BUSYBOX, "--", "sleep", "3600"]);
    eventually(60, || (c.ok(&["get", "pod", "after", "-o", "jsonpath={.status.phase}"]) == "Running").then_some(()));
    assert_eq!(c.ok(&["exec", "client", "--", "echo", "still running"]), "still running\n");
}

#[test]
fn without_containerd_the_server_says_what_to_install_and_runs_without_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_krust"))
        .args(["server", "--bind-address", "127.0.0.1", "--secure-port", "0", "--node-ip", "127.0.0.1", "--data-dir"])
        .arg(dir.path())
        .env("PATH", dir.path())
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = server.stderr.take().unwrap();
    // Bounded: if the line never comes, the server is stopped after 30 s (ending the read).
    let pid = nix::unistd::Pid::from_raw(server.id() as i32);
    let (done, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if stopped.recv_timeout(std::time::Duration::from_secs(30)).is_err() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    });
    let line = std::thread::spawn(move || {
        use std::io::BufRead;
        std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("containerd is not installed"))
    });
    let found = line.join().ok().flatten();
    let _ = done.send(());
    let _ = server.kill();
    let _ = server.wait();
    let found = found.expect("the server says containerd is missing");
    assert!(found.contains("apt-get install containerd runc containernetworking-plugins"), "{found}");
}

#[test]
fn pods_past_their_deadline_or_over_their_empty_dir_limit_fail() {
    let Some(c) = Cluster::start_node(&[]) else { return };
    let pods = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: deadline}}
spec:
  activeDeadlineSeconds: 3
  containers: [{{name: c, image: {BUSYBOX}, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: greedy-disk}}
spec:
  containers:
  - name: c
    image: {BUSYBOX}
    command: ["sh", "-c", "dd if=/dev/zero of=/data/big bs=1024 count=2048; exec sleep 3600"]
    volumeMounts: [{{name: data, mountPath: /data}}]
  volumes:
  - name: data
    emptyDir: {{sizeLimit: 1Mi}}
"#
    );
    c.ok_stdin(&["apply", "-f", "-"], &pods);
    let failed = |pod: &str| {
        let c = &c;
        let pod = pod.to_owned();
        eventually(60, move || {
            let out = c.ok(&["get", "pod", &pod, "-o", "jsonpath={.status.phase}|{.status.reason}|{.status.message}"]);
            out.starts_with("Failed|").then_some(out)
        })
    };
    assert_eq!(
        failed("deadline"),
        "Failed|DeadlineExceeded|Pod was active on the node longer than the specified deadline"
    );
    assert_eq!(failed("greedy-disk"), "Failed|Evicted|Usage of EmptyDir volume \"data\" exceeds the limit \"1Mi\". ");
}

#[test]
fn grpc_probes_ask_the_standard_health_service() {
    if !std::path::Path::new("/usr/bin/etcd").exists() {
        assert!(std::env::var_os("CI").is_none(), "the gRPC probe test uses etcd's health service (CI installs etcd)");
        return;
    }
    let Some(c) = Cluster::start_node(&[]) else { return };
    // etcd serves grpc.health.v1 on its client port: a gRPC health server on the node.
    let netns = c.netns.as_ref().unwrap();
    let node_ip = support::node::NODE_IP;
    let mut etcd = std::process::Command::new("ip")
        .args(["netns", "exec", &netns.node, "etcd", "--data-dir"])
        .arg(c.dir.path().join("etcd"))
        .args([
            "--listen-client-urls",
            &format!("http://{node_ip}:23790"),
            "--advertise-client-urls",
            &format!("http://{node_ip}:23790"),
        ])
        .args([
            "--listen-peer-urls",
            "http://127.0.0.1:23800",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:23800",
        ])
        .args(["--initial-cluster", "default=http://127.0.0.1:23800"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A pod on the node's network probes it; a second probe asks a port nobody serves.
    let pod = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: grpc-probed}}
spec:
  hostNetwork: true
  containers:
  - name: healthy
    image: {BUSYBOX}
    command: [sleep, "3600"]
    readinessProbe: {{grpc: {{port: 23790}}, periodSeconds: 1}}
  - name: unserved
    image: {BUSYBOX}
    command: [sleep, "3600"]
    readinessProbe: {{grpc: {{port: 23791}}, periodSeconds: 1}}
"#
    );
    c.ok_stdin(&["apply", "-f", "-"], &pod);
    let readiness = eventually(60, || {
        let ready = c.ok(&["get", "pod", "grpc-probed", "-o", "jsonpath={.status.containerStatuses[*].ready}"]);
        (ready == "true false").then_some(ready)
    });
    let _ = etcd.kill();
    let _ = etcd.wait();
    assert_eq!(readiness, "true false");
    let events = c.ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=grpc-probed,reason=Unhealthy",
        "-o",
        "jsonpath={.items[*].message}",
    ]);
    assert!(events.contains("Readiness probe failed:") && events.contains("23791"), "{events}");
}
