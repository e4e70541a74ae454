//! apps/v1 Deployment: declarative rollouts of ReplicaSets.

use super::workload::{CONTAINERS, IMAGES, container_cells, count, selector_column};
use crate::defaults::pod::{default_str, pod_template_spec};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::workload::{
    active_deadline, immutable_selector, int_or_percent_value, nonnegative, not_more_than_100_percent,
    selector_is_empty, validate_controller_template, validate_int_or_percent, validate_required_selector,
};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    singular: "deployment",
    short_names: &["deploy"],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status, Subresource::Scale],
    definition: "io.k8s.api.apps.v1.Deployment",
    strategy: &Typed(DeploymentStrategyDef),
};

pub struct DeploymentStrategyDef;

/// `SetDefaults_Deployment`: one replica, a 25%/25% rolling update, ten old ReplicaSets
/// kept, ten minutes to make progress.
fn default_spec(spec: &mut DeploymentSpec) {
    spec.replicas.get_or_insert(1);
    let strategy = spec.strategy.get_or_insert_with(DeploymentStrategy::default);
    default_str(&mut strategy.type_, "RollingUpdate");
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let rolling = strategy.rolling_update.get_or_insert_with(RollingUpdateDeployment::default);
        rolling.max_unavailable.get_or_insert_with(|| IntOrString::String("25%".to_owned()));
        rolling.max_surge.get_or_insert_with(|| IntOrString::String("25%".to_owned()));
    }
    spec.revision_history_limit.get_or_insert(10);
    spec.progress_deadline_seconds.get_or_insert(600);
    pod_template_spec(&mut spec.template);
}

/// `ValidateDeploymentStrategy`.
fn validate_strategy(strategy: Option<&DeploymentStrategy>, path: &FieldPath) -> Vec<FieldError> {
    let default = DeploymentStrategy::default();
    let strategy = strategy.unwrap_or(&default);
    let rolling = strategy.rolling_update.as_ref();
    match strategy.type_.as_deref().unwrap_or_default() {
        "Recreate" if rolling.is_some() => vec![FieldError::forbidden(
            &path.child("rollingUpdate"),
            "may not be specified when strategy `type` is 'Recreate'",
        )],
        "Recreate" => Vec::new(),
        "RollingUpdate" => {
            let Some(r) = rolling else {
                return vec![FieldError::required(
                    &path.child("rollingUpdate"),
                    "this should be defaulted and never be nil",
                )];
            };
            let p = path.child("rollingUpdate");
            let (unavailable, surge) = (r.max_unavailable.as_ref(), r.max_surge.as_ref());
            let mut errs = validate_int_or_percent(unavailable, &p.child("maxUnavailable"));
            errs.extend(validate_int_or_percent(surge, &p.child("maxSurge")));
            if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
                let shown = unavailable.map_or(Value::Null, |v| serde_json::to_value(v).unwrap_or(Value::Null));
                errs.push(FieldError::invalid(&p.child("maxUnavailable"), shown, "may not be 0 when `maxSurge` is 0"));
            }
            errs.extend(not_more_than_100_percent(unavailable, &p.child("maxUnavailable")));
            errs
        }
        other => vec![FieldError::not_supported(path, other, &["Recreate", "RollingUpdate"])],
    }
}

/// `ValidateDeploymentSpec`.
fn validate_spec(spec: &DeploymentSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = nonnegative(spec.replicas.map(i64::from), &path.child("replicas"));
    errs.extend(validate_required_selector(&spec.selector, &path.child("selector")));
    let template_path = path.child("template");
    errs.extend(validate_controller_template(&spec.template, &spec.selector, &template_path));
    if let Some(deadline) = active_deadline(&spec.template) {
        let p = template_path.child("spec").child("activeDeadlineSeconds");
        errs.push(FieldError::invalid(&p, deadline, "activeDeadlineSeconds in ReplicaSet is not Supported"));
    }
    errs.extend(validate_strategy(spec.strategy.as_ref(), &path.child("strategy")));
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    errs.extend(nonnegative(Some(i64::from(min_ready)), &path.child("minReadySeconds")));
    errs.extend(nonnegative(spec.revision_history_limit.map(i64::from), &path.child("revisionHistoryLimit")));
    if let Some(deadline) = spec.progress_deadline_seconds {
        let p = path.child("progressDeadlineSeconds");
        if deadline <= 0 {
            errs.push(FieldError::invalid(&p, deadline, "must be greater than zero"));
        }
        if deadline <= min_ready {
            errs.push(FieldError::invalid(&p, deadline, "must be greater than minReadySeconds"));
        }
    }
    errs
}

impl TypedStrategy for DeploymentStrategyDef {
    type Object = Deployment;

    const GENERATION: bool = true;

    /// Upstream's PrepareForCreate resets the status to its zero value, which Go writes
    /// out (`status: {}`, or the counters that have no `omitempty`).
    fn prepare_for_create(&self, d: &mut Deployment) {
        d.status = Some(Default::default());
    }

    fn default(&self, d: &mut Deployment) {
        default_spec(d.spec.get_or_insert_with(Default::default));
    }

    /// Annotation changes bump the generation too: they can pause or roll back a rollout.
    fn prepare_for_update(&self, new: &mut Deployment, old: &Deployment) {
        if new.metadata.annotations != old.metadata.annotations {
            new.metadata.generation = Some(old.metadata.generation.unwrap_or(0) + 1);
        }
    }

    fn validate(&self, d: &Deployment) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&d.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&d.spec.clone().unwrap_or_default(), &FieldPath::new("spec")));
        errs
    }

    fn validate_update(&self, new: &Deployment, old: &Deployment) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        let (new_spec, old_spec) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        errs.extend(validate_spec(&new_spec, &FieldPath::new("spec")));
        errs.extend(immutable_selector(
            &new_spec.selector,
            &old_spec.selector,
            &FieldPath::new("spec").child("selector"),
        ));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Ready", "string", "Number of the pod with ready state"),
            Column::new(
                "Up-to-date",
                "string",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            Column::new(
                "Available",
                "string",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            Column::AGE,
            CONTAINERS,
            IMAGES,
            selector_column(
                "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            ),
        ]
    }

    fn cells(&self, d: &Deployment) -> Vec<Cell> {
        let spec = d.spec.clone().unwrap_or_default();
        let status = d.status.clone().unwrap_or_default();
        let [names, images] = container_cells(Some(&spec.template));
        // Upstream prints the parsed selector here, which is empty rather than `<none>`.
        let selector =
            if selector_is_empty(&spec.selector) { String::new() } else { table::selector(Some(&spec.selector)) };
        vec![
            table::name(&d.metadata),
            format!("{}/{}", status.ready_replicas.unwrap_or(0), spec.replicas.unwrap_or(0)).into(),
            count(status.updated_replicas),
            count(status.available_replicas),
            table::age(&d.metadata),
            names,
            images,
            selector.into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Seed 003's manifest (run-my-nginx.yaml) as the API server receives it.
    fn my_nginx() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "my-nginx", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"run": "my-nginx"}}, "replicas": 2,
                "template": {"metadata": {"labels": {"run": "my-nginx"}},
                    "spec": {"containers": [{"name": "my-nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]}}}})
    }

    #[test]
    fn seed_003_defaults() {
        let mut obj = my_nginx();
        DEF.strategy.default(&mut obj);
        let spec = &obj["spec"];
        assert_eq!(spec["replicas"], 2);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["securityContext"], json!({}));
        assert_eq!(pod.get("enableServiceLinks"), None);
        let container = &pod["containers"][0];
        assert_eq!(container["imagePullPolicy"], "Always");
        assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(container["terminationMessagePolicy"], "File");
        assert_eq!(container["ports"][0], json!({"containerPort": 80, "protocol": "TCP"}));
        assert!(DEF.strategy.validate(&obj).is_empty());
    }

    #[test]
    fn selector_must_match_template_labels() {
        let mut obj = my_nginx();
        obj["spec"]["template"]["metadata"]["labels"] = json!({"run": "other"});
        obj["spec"]["template"]["spec"]["containers"][0]["name"] = json!("My_Nginx");
        DEF.strategy.default(&mut obj);
        let errs: Vec<String> = DEF.strategy.validate(&obj).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                r#"spec.template.metadata.labels: Invalid value: map[string]string{"run":"other"}: `selector` does not match template `labels`"#,
                r#"spec.template.spec.containers[0].name: Invalid value: "My_Nginx": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"#,
            ]
        );
    }

    #[test]
    fn selector_is_immutable_and_cells() {
        let mut old = my_nginx();
        DEF.strategy.default(&mut old);
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"run": "x"}});
        new["spec"]["template"]["metadata"]["labels"] = json!({"run": "x"});
        let errs: Vec<String> = DEF.strategy.validate_update(&new, &old).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                r#"spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"run":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
            ]
        );

        old["status"] = json!({"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1});
        let cells = DEF.strategy.cells(&old);
        assert_eq!(cells[1..4], [json!("1/2"), json!(2), json!(1)]);
        assert_eq!(cells[5..], [json!("my-nginx"), json!("nginx"), json!("run=my-nginx")]);
    }
}
