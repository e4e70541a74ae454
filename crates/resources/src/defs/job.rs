//! batch/v1 Job: pods that run to completion. Also validates the job template of a
//! CronJob ([`validate_job_spec`]).

use super::workload::{CONTAINERS, IMAGES, container_cells, selector_cell, selector_column};
use crate::defaults::pod::pod_template_spec;
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::pod::validate_pod_template_spec;
use crate::validation::workload::{
    IMMUTABLE_MSG, go_label_selector, go_map, invalid_go, nonnegative, selector_matches, selector_mismatch,
    validate_label_selector,
};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;
use std::collections::BTreeMap;

pub const DEF: ResourceDef = ResourceDef {
    group: "batch",
    version: "v1",
    kind: "Job",
    plural: "jobs",
    singular: "job",
    short_names: &[],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.batch.v1.Job",
    strategy: &Typed(JobStrategy),
};

const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const LEGACY_JOB_NAME: &str = "job-name";

pub struct JobStrategy;

/// `SetDefaults_Job`: one completion at parallelism one, six retries, non-indexed,
/// running, replacing pods once terminated or failed; labels from the pod template.
pub fn default_job(job: &mut Job) {
    let spec = job.spec.get_or_insert_with(Default::default);
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    spec.backoff_limit.get_or_insert(if spec.backoff_limit_per_index.is_some() { i32::MAX } else { 6 });
    let template_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.clone());
    if let Some(labels) = template_labels.filter(|_| job.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty)) {
        job.metadata.labels = Some(labels);
    }
    spec.completion_mode.get_or_insert_with(|| "NonIndexed".to_owned());
    spec.suspend.get_or_insert(false);
    spec.manual_selector.get_or_insert(false);
    for rule in spec.pod_failure_policy.iter_mut().flat_map(|p| p.rules.iter_mut()) {
        for pattern in rule.on_pod_conditions.iter_mut().flatten() {
            if pattern.status.is_empty() {
                pattern.status = "True".to_owned();
            }
        }
    }
    let replacement = if spec.pod_failure_policy.is_some() { "Failed" } else { "TerminatingOrFailed" };
    spec.pod_replacement_policy.get_or_insert_with(|| replacement.to_owned());
    pod_template_spec(&mut spec.template);
}

/// Upstream's `generateSelector`: label the template with the job's name and uid (both
/// spellings) and select on the uid.
fn generate_selector(job: &mut Job) {
    let name = job.metadata.name.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let job_labels_were_defaulted = {
        let template_labels =
            job.spec.as_ref().and_then(|s| s.template.metadata.as_ref()).and_then(|m| m.labels.as_ref());
        job.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty) || job.metadata.labels.as_ref() == template_labels
    };
    let spec = job.spec.get_or_insert_with(Default::default);
    let labels =
        spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(Default::default);
    for (key, value) in
        [(LEGACY_JOB_NAME, &name), (JOB_NAME, &name), (LEGACY_CONTROLLER_UID, &uid), (CONTROLLER_UID, &uid)]
    {
        labels.entry(key.to_owned()).or_insert_with(|| value.clone());
    }
    let labels = labels.clone();
    let selector = spec.selector.get_or_insert_with(LabelSelector::default);
    selector.match_labels.get_or_insert_with(Default::default).entry(CONTROLLER_UID.to_owned()).or_insert(uid);
    // Upstream's job labels share the template's label map when defaulting copied it, so
    // they carry the generated labels too.
    if job_labels_were_defaulted {
        job.metadata.labels = Some(labels);
    }
}

/// `validateJobSpec` (shared with CronJob job templates): counts, completion mode,
/// the pod template and its restart policy.
pub fn validate_job_spec(spec: &JobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (field, value) in [
        ("parallelism", spec.parallelism.map(i64::from)),
        ("completions", spec.completions.map(i64::from)),
        ("activeDeadlineSeconds", spec.active_deadline_seconds),
        ("backoffLimit", spec.backoff_limit.map(i64::from)),
        ("ttlSecondsAfterFinished", spec.ttl_seconds_after_finished.map(i64::from)),
    ] {
        errs.extend(nonnegative(value, &path.child(field)));
    }
    match spec.completion_mode.as_deref() {
        None | Some("NonIndexed") => {}
        Some("Indexed") if spec.completions.is_none() => {
            errs.push(FieldError::required(&path.child("completions"), "when completion mode is Indexed"));
        }
        Some("Indexed") => {}
        Some(other) => {
            errs.push(FieldError::not_supported(&path.child("completionMode"), other, &["NonIndexed", "Indexed"]))
        }
    }
    if let Some(policy) =
        spec.pod_replacement_policy.as_deref().filter(|p| !["TerminatingOrFailed", "Failed"].contains(p))
    {
        errs.push(FieldError::not_supported(
            &path.child("podReplacementPolicy"),
            policy,
            &["Failed", "TerminatingOrFailed"],
        ));
    }
    let template_path = path.child("template");
    errs.extend(validate_pod_template_spec(&spec.template, &template_path));
    let restart_path = template_path.child("spec").child("restartPolicy");
    match spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or_default() {
        "Always" | "" => errs.push(FieldError::required(&restart_path, r#"valid values: "OnFailure", "Never""#)),
        "OnFailure" if spec.pod_failure_policy.is_some() => errs.push(FieldError::invalid(
            &restart_path,
            "OnFailure",
            r#"only "Never" is supported when podFailurePolicy is specified"#,
        )),
        "OnFailure" | "Never" => {}
        other => errs.push(FieldError::not_supported(&restart_path, other, &["OnFailure", "Never"])),
    }
    errs
}

/// `validateGeneratedSelector`: a generated selector's labels must be on the template.
fn validate_generated_selector(job: &Job) -> Vec<FieldError> {
    let spec = job.spec.clone().unwrap_or_default();
    if spec.manual_selector == Some(true) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    if uid.is_empty() {
        errs.push(FieldError::required(&FieldPath::new("metadata").child("uid"), ""));
    }
    let name = job.metadata.name.clone().unwrap_or_default();
    let template_meta = FieldPath::new("spec").child("template").child("metadata");
    let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    for (key, expected) in
        [(LEGACY_CONTROLLER_UID, &uid), (LEGACY_JOB_NAME, &name), (CONTROLLER_UID, &uid), (JOB_NAME, &name)]
    {
        let p = template_meta.child("labels").key(key);
        match labels.and_then(|l| l.get(key)) {
            None => errs.push(FieldError::required(&p, expected.as_str())),
            Some(actual) if actual != expected => {
                errs.push(invalid_go(&p, go_map(labels), &format!("must be '{expected}'")))
            }
            Some(_) => {}
        }
    }
    let expected: BTreeMap<String, String> = [(CONTROLLER_UID.to_owned(), uid), (JOB_NAME.to_owned(), name)].into();
    if let Some(selector) = spec.selector.as_ref().filter(|s| !selector_matches(s, Some(&expected))) {
        errs.push(invalid_go(
            &FieldPath::new("spec").child("selector"),
            go_label_selector(selector),
            "`selector` not auto-generated",
        ));
    }
    errs
}

/// `ValidateJob`.
fn validate_job(job: &Job) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta(&job.metadata, true, names::dns1123_subdomain);
    errs.extend(validate_generated_selector(job));
    let spec = job.spec.clone().unwrap_or_default();
    let path = FieldPath::new("spec");
    errs.extend(validate_job_spec(&spec, &path));
    match &spec.selector {
        None => errs.push(FieldError::required(&path.child("selector"), "")),
        Some(selector) => {
            errs.extend(validate_label_selector(selector, &path.child("selector")));
            let labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref());
            if !selector_matches(selector, labels) {
                errs.push(selector_mismatch(labels, &path.child("template").child("metadata").child("labels")));
            }
        }
    }
    errs
}

fn condition_true(job: &Job, kind: &str) -> bool {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_deref()).unwrap_or_default();
    conditions.iter().find(|c| c.type_ == kind).is_some_and(|c| c.status == "True")
}

impl TypedStrategy for JobStrategy {
    type Object = Job;

    const GENERATION: bool = true;
    const FIELD_SELECTORS: &'static [&'static str] = &["status.successful"];

    fn default(&self, job: &mut Job) {
        default_job(job);
    }

    /// Unless the client manages the selector, generate it from the job's uid (the
    /// store assigns the uid first).
    /// The status starts at its zero value (`status: {}`), as upstream's PrepareForCreate leaves it.
    fn prepare_for_create(&self, job: &mut Job) {
        job.status = Some(Default::default());
        if job.spec.as_ref().and_then(|s| s.manual_selector) != Some(true) {
            generate_selector(job);
        }
    }

    fn validate(&self, job: &Job) -> Vec<FieldError> {
        validate_job(job)
    }

    /// `ValidateJobUpdate`: the selector, template, completion mode and (outside
    /// elastic indexed jobs) completions are fixed once created.
    fn validate_update(&self, new: &Job, old: &Job) -> Vec<FieldError> {
        let mut errs = validate_job(new);
        errs.extend(meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain));
        let (n, o) = (new.spec.clone().unwrap_or_default(), old.spec.clone().unwrap_or_default());
        let path = FieldPath::new("spec");
        let elastic = n.completion_mode.as_deref() == Some("Indexed") && n.completions == n.parallelism;
        if n.completions != o.completions && !elastic {
            errs.push(FieldError::invalid(&path.child("completions"), n.completions, IMMUTABLE_MSG));
        }
        if n.selector != o.selector {
            let shown = n.selector.as_ref().map_or_else(|| "null".to_owned(), go_label_selector);
            errs.push(invalid_go(&path.child("selector"), shown, IMMUTABLE_MSG));
        }
        if n.template != o.template {
            let shown = serde_json::to_value(&n.template).unwrap_or(Value::Null);
            errs.push(FieldError::invalid(&path.child("template"), shown, IMMUTABLE_MSG));
        }
        if n.completion_mode != o.completion_mode {
            errs.push(FieldError::invalid(&path.child("completionMode"), n.completion_mode, IMMUTABLE_MSG));
        }
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Status", "string", "Status of the job."),
            Column::new("Completions", "string", "The number of pods which reached phase Succeeded."),
            Column::new("Duration", "string", "Time required to complete the job."),
            Column::AGE,
            CONTAINERS,
            IMAGES,
            selector_column("A label query over pods that should match the pod count."),
        ]
    }

    fn cells(&self, job: &Job) -> Vec<Cell> {
        let spec = job.spec.clone().unwrap_or_default();
        let status = job.status.clone().unwrap_or_default();
        let succeeded = status.succeeded.unwrap_or(0);
        let completions = match (spec.completions, spec.parallelism.unwrap_or(0)) {
            (Some(c), _) => format!("{succeeded}/{c}"),
            (None, p) if p > 1 => format!("{succeeded}/1 of {p}"),
            (None, _) => format!("{succeeded}/1"),
        };
        let duration = match (&status.start_time, &status.completion_time) {
            (None, _) => String::new(),
            (Some(start), None) => table::human_duration(Timestamp::now().duration_since(start.0).as_secs()),
            (Some(start), Some(end)) => table::human_duration(end.0.duration_since(start.0).as_secs()),
        };
        let state = if condition_true(job, "Complete") {
            "Complete"
        } else if condition_true(job, "Failed") {
            "Failed"
        } else if job.metadata.deletion_timestamp.is_some() {
            "Terminating"
        } else if condition_true(job, "Suspended") {
            "Suspended"
        } else if condition_true(job, "FailureTarget") {
            "FailureTarget"
        } else {
            "Running"
        };
        let [names, images] = container_cells(Some(&spec.template));
        vec![
            table::name(&job.metadata),
            state.into(),
            completions.into(),
            duration.into(),
            table::age(&job.metadata),
            names,
            images,
            selector_cell(spec.selector.as_ref()),
        ]
    }

    fn selectable_fields(&self, job: &Job) -> Vec<(&'static str, String)> {
        vec![("status.successful", job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0).to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn created() -> Value {
        let mut obj = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "8a1c-uid"},
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.34"}], "restartPolicy": "Never"}}}});
        DEF.strategy.default(&mut obj);
        DEF.strategy.prepare_for_create(&mut obj);
        obj
    }

    #[test]
    fn defaults_and_generated_selector() {
        let obj = created();
        let spec = &obj["spec"];
        assert_eq!((spec["completions"].clone(), spec["parallelism"].clone()), (json!(1), json!(1)));
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!((spec["suspend"].clone(), spec["manualSelector"].clone()), (json!(false), json!(false)));
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert_eq!(spec["selector"], json!({"matchLabels": {CONTROLLER_UID: "8a1c-uid"}}));
        let labels = json!({CONTROLLER_UID: "8a1c-uid", JOB_NAME: "pi", LEGACY_CONTROLLER_UID: "8a1c-uid", LEGACY_JOB_NAME: "pi"});
        assert_eq!(spec["template"]["metadata"]["labels"], labels);
        assert_eq!(obj["metadata"]["labels"], labels);
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
        assert!(DEF.strategy.validate(&obj).is_empty());
    }

    #[test]
    fn restart_policy_always_is_rejected() {
        let mut obj = created();
        obj["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        let errs: Vec<String> = DEF.strategy.validate(&obj).iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#]
        );
    }

    #[test]
    fn human_readable_cells() {
        let mut obj = created();
        assert_eq!(DEF.strategy.cells(&obj)[1..4], [json!("Running"), json!("0/1"), json!("")]);
        obj["status"] = json!({"succeeded": 1, "startTime": "2025-01-01T00:00:00Z", "completionTime": "2025-01-01T00:00:07Z",
            "conditions": [{"type": "Complete", "status": "True"}]});
        let cells = DEF.strategy.cells(&obj);
        assert_eq!(cells[1..4], [json!("Complete"), json!("1/1"), json!("7s")]);
        assert_eq!(cells[5..], [json!("pi"), json!("perl:5.34"), json!("batch.kubernetes.io/controller-uid=8a1c-uid")]);
        assert_eq!(DEF.strategy.selectable_fields(&obj), vec![("status.successful", "1".to_owned())]);
        obj["status"]["conditions"] = json!([{"type": "Suspended", "status": "True"}]);
        assert_eq!(DEF.strategy.cells(&obj)[1], json!("Suspended"));
    }
}
