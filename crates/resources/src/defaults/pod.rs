//! Pod spec defaults: upstream's `SetDefaults_PodSpec`, `SetDefaults_Container`,
//! `SetDefaults_Probe`, the volume-source defaults, and the Pod-only ones of
//! `SetDefaults_Pod` (which pod templates deliberately do not get).

use k8s_openapi::api::core::v1::{
    Container, DownwardAPIVolumeFile, HTTPGetAction, LifecycleHandler, ObjectFieldSelector, Pod, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, Volume,
};

/// Upstream's `DefaultTerminationGracePeriodSeconds`.
const TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// Default file mode of secret, configMap, downwardAPI and projected volumes (0644).
const VOLUME_DEFAULT_MODE: i32 = 0o644;
/// Default lifetime of a projected service-account token: one hour.
const TOKEN_EXPIRATION_SECONDS: i64 = 3600;

/// Defaults of a Pod object: the pod-only ones, then the spec's.
pub fn pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    // Requests default to limits only on Pods, not on templates, so a workload's stored
    // template stays as written.
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        default_requests_to_limits(c);
    }
    spec.enable_service_links.get_or_insert(true);
    if spec.host_network == Some(true) {
        for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
            for port in c.ports.iter_mut().flatten() {
                if port.host_port.unwrap_or(0) == 0 {
                    port.host_port = Some(port.container_port);
                }
            }
        }
    }
    pod_spec(spec);
}

/// Defaults of a pod template (a workload's `spec.template`): the spec's defaults only.
pub fn pod_template_spec(template: &mut PodTemplateSpec) {
    pod_spec(template.spec.get_or_insert_with(Default::default));
}

/// `SetDefaults_PodSpec` and the defaults of everything inside a pod spec.
pub fn pod_spec(spec: &mut PodSpec) {
    default_str(&mut spec.dns_policy, "ClusterFirst");
    default_str(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(PodSecurityContext::default);
    spec.termination_grace_period_seconds.get_or_insert(TERMINATION_GRACE_PERIOD_SECONDS);
    default_str(&mut spec.scheduler_name, "default-scheduler");
    mirror_service_account(spec);
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        volume(v);
    }
}

/// The v1 conversion keeps the deprecated `serviceAccount` equal to `serviceAccountName`
/// (reading it when only the old field is set).
fn mirror_service_account(spec: &mut PodSpec) {
    if spec.service_account_name.as_deref().unwrap_or_default().is_empty() {
        spec.service_account_name = spec.service_account.clone().filter(|s| !s.is_empty());
    }
    spec.service_account = spec.service_account_name.clone();
}

fn default_requests_to_limits(c: &mut Container) {
    let Some(resources) = c.resources.as_mut() else { return };
    let Some(limits) = resources.limits.as_ref() else { return };
    let requests = resources.requests.get_or_insert_with(Default::default);
    for (name, value) in limits {
        requests.entry(name.clone()).or_insert_with(|| value.clone());
    }
}

/// `SetDefaults_Container` plus the defaults of its ports, env, probes and hooks.
pub fn container(c: &mut Container) {
    if c.image_pull_policy.as_deref().unwrap_or_default().is_empty() {
        c.image_pull_policy = Some(pull_policy(c.image.as_deref().unwrap_or_default()).to_owned());
    }
    default_str(&mut c.termination_message_path, "/dev/termination-log");
    default_str(&mut c.termination_message_policy, "File");
    // A value (not pointer) struct in Go, so upstream always writes it, as `resources: {}`.
    c.resources.get_or_insert_with(Default::default);
    for port in c.ports.iter_mut().flatten() {
        default_str(&mut port.protocol, "TCP");
    }
    for env in c.env.iter_mut().flatten() {
        if let Some(field_ref) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            field_selector(field_ref);
        }
    }
    for p in [&mut c.liveness_probe, &mut c.readiness_probe, &mut c.startup_probe].into_iter().flatten() {
        probe(p);
    }
    if let Some(lifecycle) = c.lifecycle.as_mut() {
        for hook in [&mut lifecycle.post_start, &mut lifecycle.pre_stop].into_iter().flatten() {
            lifecycle_handler(hook);
        }
    }
}

/// `imagePullPolicy` from the image's tag: `Always` for `:latest` or no tag (and no
/// digest), else `IfNotPresent` (upstream's `ParseImageName` tag rule).
pub fn pull_policy(image: &str) -> &'static str {
    if image.is_empty() {
        return "IfNotPresent";
    }
    let (name, has_digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last_component = name.rsplit('/').next().unwrap_or(name);
    match last_component.split_once(':').map(|(_, tag)| tag) {
        Some("latest") => "Always",
        Some(_) => "IfNotPresent",
        None if has_digest => "IfNotPresent",
        None => "Always",
    }
}

/// `SetDefaults_Probe` and its handler's defaults.
fn probe(p: &mut Probe) {
    default_i32(&mut p.timeout_seconds, 1);
    default_i32(&mut p.period_seconds, 10);
    default_i32(&mut p.success_threshold, 1);
    default_i32(&mut p.failure_threshold, 3);
    if let Some(http) = p.http_get.as_mut() {
        http_get(http);
    }
    if let Some(grpc) = p.grpc.as_mut() {
        grpc.service.get_or_insert_with(String::new);
    }
}

fn lifecycle_handler(h: &mut LifecycleHandler) {
    if let Some(http) = h.http_get.as_mut() {
        http_get(http);
    }
}

fn http_get(h: &mut HTTPGetAction) {
    default_str(&mut h.path, "/");
    default_str(&mut h.scheme, "HTTP");
}

fn field_selector(f: &mut ObjectFieldSelector) {
    default_str(&mut f.api_version, "v1");
}

fn downward_items(items: &mut Option<Vec<DownwardAPIVolumeFile>>) {
    for item in items.iter_mut().flatten() {
        if let Some(f) = item.field_ref.as_mut() {
            field_selector(f);
        }
    }
}

/// `SetDefaults_Volume` (a volume without a source is an emptyDir) and the defaults of
/// each source type.
fn volume(v: &mut Volume) {
    let has_source = serde_json::to_value(&*v)
        .ok()
        .and_then(|json| json.as_object().map(|o| o.keys().any(|k| k != "name")))
        .unwrap_or(true);
    if !has_source {
        v.empty_dir = Some(Default::default());
    }
    if let Some(s) = v.secret.as_mut() {
        s.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
    }
    if let Some(s) = v.config_map.as_mut() {
        s.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
    }
    if let Some(s) = v.downward_api.as_mut() {
        s.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
        downward_items(&mut s.items);
    }
    if let Some(s) = v.projected.as_mut() {
        s.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
        for source in s.sources.iter_mut().flatten() {
            if let Some(token) = source.service_account_token.as_mut() {
                token.expiration_seconds.get_or_insert(TOKEN_EXPIRATION_SECONDS);
            }
            if let Some(d) = source.downward_api.as_mut() {
                downward_items(&mut d.items);
            }
        }
    }
    if let Some(s) = v.host_path.as_mut() {
        s.type_.get_or_insert_with(String::new);
    }
    if let Some(template) = v.ephemeral.as_mut().and_then(|e| e.volume_claim_template.as_mut()) {
        default_str(&mut template.spec.volume_mode, "Filesystem");
    }
}

/// Set an optional string to `value` when it is unset or empty.
pub fn default_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or_default().is_empty() {
        *field = Some(value.to_owned());
    }
}

/// Set an optional number to `value` when it is unset or zero (Go's zero value).
fn default_i32(field: &mut Option<i32>, value: i32) {
    if field.unwrap_or(0) == 0 {
        *field = Some(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy("nginx"), "Always");
        assert_eq!(pull_policy("nginx:latest"), "Always");
        assert_eq!(pull_policy("nginx:1.27"), "IfNotPresent");
        assert_eq!(pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(pull_policy("registry:5000/nginx:1.0"), "IfNotPresent");
        assert_eq!(pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn pods_get_pod_only_defaults_and_templates_do_not() {
        let spec = json!({"containers": [{"name": "c", "image": "busybox:1.36",
            "resources": {"limits": {"cpu": "1"}},
            "readinessProbe": {"httpGet": {"port": 80}}}],
            "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "cfg"}}]});
        let mut p: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap();
        pod(&mut p);
        let got = serde_json::to_value(&p).unwrap();
        assert_eq!(got["spec"]["enableServiceLinks"], true);
        assert_eq!(got["spec"]["containers"][0]["resources"]["requests"]["cpu"], "1");
        assert_eq!(got["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        let probe = &got["spec"]["containers"][0]["readinessProbe"];
        assert_eq!(probe["httpGet"], json!({"path": "/", "port": 80, "scheme": "HTTP"}));
        assert_eq!((probe["timeoutSeconds"].clone(), probe["failureThreshold"].clone()), (json!(1), json!(3)));
        assert_eq!(got["spec"]["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(got["spec"]["volumes"][1]["configMap"]["defaultMode"], 420);

        let mut t: PodTemplateSpec = serde_json::from_value(json!({"spec": spec})).unwrap();
        pod_template_spec(&mut t);
        let got = serde_json::to_value(&t).unwrap();
        assert_eq!(got["spec"].get("enableServiceLinks"), None);
        assert_eq!(got["spec"]["containers"][0]["resources"].get("requests"), None);
        assert_eq!(got["spec"]["restartPolicy"], "Always");
        assert_eq!(got["spec"]["securityContext"], json!({}));
    }

    #[test]
    fn containers_always_carry_resources() {
        let mut spec: PodSpec = serde_json::from_value(json!({"containers": [{"name": "c", "image": "nginx"}],
            "initContainers": [{"name": "i", "image": "busybox"}]}))
        .unwrap();
        pod_spec(&mut spec);
        let got = serde_json::to_value(&spec).unwrap();
        assert_eq!(got["containers"][0]["resources"], json!({}));
        assert_eq!(got["initContainers"][0]["resources"], json!({}));
    }
}
