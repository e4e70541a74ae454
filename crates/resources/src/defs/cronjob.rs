//! batch/v1 CronJob: Jobs on a schedule.

use super::job::validate_job_spec;
use super::shared;
use super::workload::{CONTAINERS, IMAGES, container_cells, selector_cell, selector_column};
use crate::defaults::pod::{default_str, pod_template_spec};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{self, Cell, Column};
use crate::validation::workload::{go_label_selector, invalid_go, nonnegative};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef, Subresource};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec};
use serde_json::Value;

pub const DEF: ResourceDef = ResourceDef {
    group: "batch",
    version: "v1",
    kind: "CronJob",
    plural: "cronjobs",
    singular: "cronjob",
    short_names: &["cj"],
    categories: &["all"],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[Subresource::Status],
    definition: "io.k8s.api.batch.v1.CronJob",
    strategy: &Typed(CronJobStrategy),
};

/// Job names are the CronJob's name plus an 11-character suffix, within 63.
const MAX_NAME_LENGTH: usize = 52;

pub struct CronJobStrategy;

const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
/// The five fields of a standard schedule (minute, hour, day of month, month, day of
/// week): allowed range and the names that may stand for values.
const CRON_FIELDS: &[(u32, u32, &[&str])] =
    &[(0, 59, &[]), (0, 23, &[]), (1, 31, &[]), (1, 12, MONTHS), (0, 6, WEEKDAYS)];

/// Parse a schedule like upstream's cron library (`cron.ParseStandard`), returning its
/// error text.
fn parse_schedule(schedule: &str) -> Result<(), String> {
    if schedule.starts_with('@') {
        let known = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
        return if known.contains(&schedule) || schedule.starts_with("@every ") {
            Ok(())
        } else {
            Err(format!("unrecognized descriptor: {schedule}"))
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != CRON_FIELDS.len() {
        return Err(format!("expected exactly 5 fields, found {}: [{}]", fields.len(), fields.join(" ")));
    }
    for (field, (min, max, names)) in fields.iter().zip(CRON_FIELDS) {
        for part in field.split(',') {
            parse_range(part, *min, *max, names)?;
        }
    }
    Ok(())
}

fn parse_range(expr: &str, min: u32, max: u32, names: &[&str]) -> Result<(), String> {
    let (range, step) = match expr.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (expr, None),
    };
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(u32::try_from(i).unwrap_or(0) + min);
        }
        s.parse::<u32>()
            .map_err(|_| format!("failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax"))
    };
    if range != "*" && range != "?" {
        let (lo, hi) = match range.split_once('-') {
            Some((lo, hi)) => (value(lo)?, value(hi)?),
            None => (value(range)?, value(range)?),
        };
        if lo < min {
            return Err(format!("beginning of range ({lo}) below minimum ({min}): {expr}"));
        }
        if hi > max {
            return Err(format!("end of range ({hi}) above maximum ({max}): {expr}"));
        }
        if lo > hi {
            return Err(format!("beginning of range ({lo}) beyond end of range ({hi}): {expr}"));
        }
    }
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(0) => return Err(format!("step of range should be a positive number: {expr}")),
            Ok(_) => {}
            Err(_) => {
                return Err(format!("failed to parse int from {step}: strconv.Atoi: parsing {step:?}: invalid syntax"));
            }
        }
    }
    Ok(())
}

/// `validateCronJobSpec`.
fn validate_spec(spec: &CronJobSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let schedule_path = path.child("schedule");
    if spec.schedule.is_empty() {
        errs.push(FieldError::required(&schedule_path, ""));
    } else if spec.schedule.contains("TZ") {
        errs.push(FieldError::invalid(
            &schedule_path,
            spec.schedule.as_str(),
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ));
    } else if let Err(msg) = parse_schedule(&spec.schedule) {
        errs.push(FieldError::invalid(&schedule_path, spec.schedule.as_str(), msg));
    }
    errs.extend(nonnegative(spec.starting_deadline_seconds, &path.child("startingDeadlineSeconds")));
    let policy_path = path.child("concurrencyPolicy");
    match spec.concurrency_policy.as_deref().unwrap_or_default() {
        "" => errs.push(FieldError::required(&policy_path, "")),
        "Allow" | "Forbid" | "Replace" => {}
        other => errs.push(FieldError::not_supported(&policy_path, other, &["Allow", "Forbid", "Replace"])),
    }
    let template_path = path.child("jobTemplate");
    let job_spec = spec.job_template.spec.clone().unwrap_or_default();
    errs.extend(validate_job_spec(&job_spec, &template_path.child("spec")));
    if let Some(selector) = &job_spec.selector {
        let p = template_path.child("spec").child("selector");
        errs.push(invalid_go(&p, go_label_selector(selector), "`selector` will be auto-generated"));
    }
    if job_spec.manual_selector == Some(true) {
        let p = template_path.child("spec").child("manualSelector");
        errs.push(FieldError::not_supported(&p, true, &["nil", "false"]));
    }
    errs.extend(nonnegative(
        spec.successful_jobs_history_limit.map(i64::from),
        &path.child("successfulJobsHistoryLimit"),
    ));
    errs.extend(nonnegative(spec.failed_jobs_history_limit.map(i64::from), &path.child("failedJobsHistoryLimit")));
    errs
}

impl TypedStrategy for CronJobStrategy {
    type Object = CronJob;

    const GENERATION: bool = true;

    /// Upstream's PrepareForCreate resets the status to its zero value, which Go writes
    /// out (`status: {}`, or the counters that have no `omitempty`).
    fn prepare_for_create(&self, cj: &mut CronJob) {
        cj.status = Some(Default::default());
    }

    /// `SetDefaults_CronJob`; the job template gets only its pod template's defaults.
    fn default(&self, cj: &mut CronJob) {
        let spec = cj.spec.get_or_insert_with(Default::default);
        default_str(&mut spec.concurrency_policy, "Allow");
        spec.suspend.get_or_insert(false);
        spec.successful_jobs_history_limit.get_or_insert(3);
        spec.failed_jobs_history_limit.get_or_insert(1);
        pod_template_spec(&mut spec.job_template.spec.get_or_insert_with(Default::default).template);
    }

    fn validate(&self, cj: &CronJob) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&cj.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&cj.spec.clone().unwrap_or_default(), &FieldPath::new("spec")));
        let name = cj.metadata.name.as_deref().unwrap_or_default();
        if name.len() > MAX_NAME_LENGTH {
            let msg = format!("must be no more than {MAX_NAME_LENGTH} characters");
            errs.push(FieldError::invalid(&FieldPath::new("metadata").child("name"), name, msg));
        }
        errs
    }

    fn validate_update(&self, new: &CronJob, old: &CronJob) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_spec(&new.spec.clone().unwrap_or_default(), &FieldPath::new("spec")));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::NAME,
            Column::new("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
            Column::new(
                "Timezone",
                "string",
                "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
            ),
            Column::new(
                "Suspend",
                "boolean",
                "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.",
            ),
            Column::new("Active", "integer", "A list of pointers to currently running jobs."),
            Column::new(
                "Last Schedule",
                "string",
                "Information when was the last time the job was successfully scheduled.",
            ),
            Column::AGE,
            CONTAINERS,
            IMAGES,
            selector_column("A label query over pods that should match the pod count."),
        ]
    }

    fn cells(&self, cj: &CronJob) -> Vec<Cell> {
        let spec = cj.spec.clone().unwrap_or_default();
        let status = cj.status.clone().unwrap_or_default();
        let job_spec = spec.job_template.spec.clone().unwrap_or_default();
        let suspend = match spec.suspend {
            Some(true) => "True",
            Some(false) => "False",
            None => "<unset>",
        };
        let last_schedule =
            status.last_schedule_time.as_ref().map_or_else(|| "<none>".to_owned(), |t| shared::since(Some(t)));
        let [names, images] = container_cells(Some(&job_spec.template));
        vec![
            table::name(&cj.metadata),
            spec.schedule.into(),
            spec.time_zone.unwrap_or_else(|| "<none>".to_owned()).into(),
            suspend.into(),
            Value::from(status.active.map_or(0, |a| a.len())),
            last_schedule.into(),
            table::age(&cj.metadata),
            names,
            images,
            selector_cell(job_spec.selector.as_ref()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cronjob(schedule: &str) -> Value {
        let mut obj = json!({"metadata": {"name": "hello", "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                "containers": [{"name": "hello", "image": "busybox:1.28"}], "restartPolicy": "OnFailure"}}}}}});
        DEF.strategy.default(&mut obj);
        obj
    }

    #[test]
    fn defaults_and_cells() {
        let obj = cronjob("*/1 * * * *");
        let spec = &obj["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(
            (spec["successfulJobsHistoryLimit"].clone(), spec["failedJobsHistoryLimit"].clone()),
            (json!(3), json!(1))
        );
        assert_eq!(spec["jobTemplate"]["spec"].get("backoffLimit"), None);
        assert_eq!(spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        assert!(DEF.strategy.validate(&obj).is_empty());
        let cells = DEF.strategy.cells(&obj);
        assert_eq!(cells[1..6], [json!("*/1 * * * *"), json!("<none>"), json!("False"), json!(0), json!("<none>")]);
        assert_eq!(cells[7..], [json!("hello"), json!("busybox:1.28"), json!("<none>")]);
    }

    #[test]
    fn bad_schedules() {
        let errs: Vec<String> = DEF.strategy.validate(&cronjob("* * *")).iter().map(ToString::to_string).collect();
        assert_eq!(errs, vec![r#"spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]"#]);
        assert!(parse_schedule("0 9 * * mon-fri").is_ok());
        assert!(parse_schedule("@hourly").is_ok());
        assert_eq!(parse_schedule("0 25 * * *").unwrap_err(), "end of range (25) above maximum (23): 25");
    }
}
