//! core/v1 Event: a report of something that happened to an object. Also the shared
//! validation, table and field selectors of events.k8s.io/v1 Events, which upstream
//! stores as the same object (see `events_v1`).

use super::shared::{since, since_micro};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{Cell, Column};
use crate::validation::names;
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::core::v1::Event;

pub const DEF: ResourceDef = ResourceDef {
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    short_names: &["ev"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.core.v1.Event",
    strategy: &Typed(EventStrategy),
};

pub struct EventStrategy;

const REPORTING_INSTANCE_LIMIT: usize = 128;
const ACTION_LIMIT: usize = 128;
const REASON_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

fn str_of(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or_default()
}

fn too_long(field: &str, limit: usize) -> FieldError {
    FieldError::invalid(&FieldPath::new(field), "", format!("can have at most {limit} characters"))
}

/// Upstream's `legacyValidateEvent`; `controller_field` names reportingController as the
/// request's version spells it.
pub(super) fn legacy_validate(event: &Event, controller_field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = str_of(&event.metadata.namespace);
    let involved_ns = str_of(&event.involved_object.namespace);
    let ns_path = FieldPath::new("involvedObject").child("namespace");
    let mismatch = || FieldError::invalid(&ns_path, involved_ns, "does not match event.namespace");
    if event.event_time.is_none() {
        if (involved_ns.is_empty() && !ns.is_empty() && ns != "default")
            || (!involved_ns.is_empty() && ns != involved_ns)
        {
            errs.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        let controller = str_of(&event.reporting_component);
        if controller.is_empty() {
            errs.push(FieldError::required(&FieldPath::new(controller_field), ""));
        }
        errs.extend(
            names::qualified_name(controller)
                .into_iter()
                .map(|m| FieldError::invalid(&FieldPath::new(controller_field), controller, m)),
        );
        for (field, value, limit) in [
            ("reportingInstance", str_of(&event.reporting_instance), REPORTING_INSTANCE_LIMIT),
            ("action", str_of(&event.action), ACTION_LIMIT),
            ("reason", str_of(&event.reason), REASON_LIMIT),
        ] {
            if value.is_empty() {
                errs.push(FieldError::required(&FieldPath::new(field), ""));
            }
            if value.len() > limit {
                errs.push(too_long(field, limit));
            }
        }
        if str_of(&event.message).len() > NOTE_LIMIT {
            errs.push(too_long("message", NOTE_LIMIT));
        }
    }
    errs.extend(
        names::dns1123_subdomain(ns).into_iter().map(|m| FieldError::invalid(&FieldPath::new("namespace"), ns, m)),
    );
    errs
}

/// The event's name must be given (the legacy API validates nothing else of metadata).
pub(super) fn require_name(event: &Event) -> Vec<FieldError> {
    let named = !str_of(&event.metadata.name).is_empty() || !str_of(&event.metadata.generate_name).is_empty();
    if named {
        Vec::new()
    } else {
        vec![FieldError::required(&FieldPath::new("metadata").child("name"), "name or generateName is required")]
    }
}

/// Upstream's event table (shared by both Event APIs).
pub(super) fn event_columns() -> Vec<Column> {
    vec![
        Column::new("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
        Column::new("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
        Column::new("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
        Column::new("Object", "string", "The object that this event is about."),
        Column::new("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers\\[2\\]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers\\[2\\]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.").wide(),
        Column::new("Source", "string", "The component reporting this event. Should be a short machine understandable string.").wide(),
        Column::new("Message", "string", "A human-readable description of the status of this operation."),
        Column::new("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)").wide(),
        Column::new("Count", "string", "The number of times this event has occurred.").wide(),
        Column::NAME.wide(),
    ]
}

/// Upstream's `printEvent` cells.
pub(super) fn event_cells(e: &Event) -> Vec<Cell> {
    let first = match &e.first_timestamp {
        Some(t) => since(Some(t)),
        None => since_micro(e.event_time.as_ref()),
    };
    let mut last = match &e.last_timestamp {
        Some(t) => since(Some(t)),
        None => first.clone(),
    };
    let mut count = e.count.unwrap_or(0);
    if let Some(series) = &e.series {
        last = since_micro(series.last_observed_time.as_ref());
        count = series.count.unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_of(&e.involved_object.kind).to_lowercase();
    let target = match str_of(&e.involved_object.name) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let source = e.source.clone().unwrap_or_default();
    let component = str_of(&source.component).to_owned();
    let component = if component.is_empty() { str_of(&e.reporting_component).to_owned() } else { component };
    let host = str_of(&source.host).to_owned();
    let host = if host.is_empty() { str_of(&e.reporting_instance).to_owned() } else { host };
    let source = if host.is_empty() { component } else { format!("{component}, {host}") };
    vec![
        last.into(),
        str_of(&e.type_).into(),
        str_of(&e.reason).into(),
        target.into(),
        str_of(&e.involved_object.field_path).into(),
        source.into(),
        str_of(&e.message).trim().into(),
        first.into(),
        count.into(),
        str_of(&e.metadata.name).into(),
    ]
}

/// Upstream's event field-selector attributes, by the core API's names.
pub(super) fn event_fields(e: &Event) -> Vec<(&'static str, String)> {
    let o = &e.involved_object;
    let source = e.source.as_ref().and_then(|s| s.component.clone()).filter(|c| !c.is_empty());
    vec![
        ("involvedObject.kind", str_of(&o.kind).to_owned()),
        ("involvedObject.namespace", str_of(&o.namespace).to_owned()),
        ("involvedObject.name", str_of(&o.name).to_owned()),
        ("involvedObject.uid", str_of(&o.uid).to_owned()),
        ("involvedObject.apiVersion", str_of(&o.api_version).to_owned()),
        ("involvedObject.resourceVersion", str_of(&o.resource_version).to_owned()),
        ("involvedObject.fieldPath", str_of(&o.field_path).to_owned()),
        ("reason", str_of(&e.reason).to_owned()),
        ("reportingComponent", str_of(&e.reporting_component).to_owned()),
        ("source", source.unwrap_or_else(|| str_of(&e.reporting_component).to_owned())),
        ("type", str_of(&e.type_).to_owned()),
    ]
}

impl TypedStrategy for EventStrategy {
    type Object = Event;
    const FIELD_SELECTORS: &'static [&'static str] = &[
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ];

    fn validate(&self, e: &Event) -> Vec<FieldError> {
        let mut errs = require_name(e);
        errs.extend(legacy_validate(e, "reportingComponent"));
        errs
    }

    fn validate_update(&self, new: &Event, _old: &Event) -> Vec<FieldError> {
        self.validate(new)
    }

    fn columns(&self) -> Vec<Column> {
        event_columns()
    }

    fn cells(&self, e: &Event) -> Vec<Cell> {
        event_cells(e)
    }

    fn selectable_fields(&self, e: &Event) -> Vec<(&'static str, String)> {
        event_fields(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> serde_json::Value {
        DEF.strategy
            .decode(json!({
                "metadata": {"name": "nginx.17a", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "nginx", "namespace": "default", "uid": "u1",
                    "apiVersion": "v1", "fieldPath": "spec.containers{nginx}"},
                "reason": "Pulled", "message": "Successfully pulled image \"nginx\"\n", "type": "Normal",
                "source": {"component": "kubelet", "host": "node-1"}, "count": 2
            }))
            .unwrap()
            .object
    }

    #[test]
    fn field_selectors() {
        let fields = DEF.strategy.selectable_fields(&event());
        let get = |k: &str| fields.iter().find(|(f, _)| *f == k).map(|(_, v)| v.as_str());
        assert_eq!(get("involvedObject.kind"), Some("Pod"));
        assert_eq!(get("involvedObject.name"), Some("nginx"));
        assert_eq!(get("involvedObject.uid"), Some("u1"));
        assert_eq!(get("involvedObject.fieldPath"), Some("spec.containers{nginx}"));
        assert_eq!(get("reason"), Some("Pulled"));
        assert_eq!(get("source"), Some("kubelet"));
        assert_eq!(get("type"), Some("Normal"));
        assert_eq!(get("reportingComponent"), Some(""));
        assert_eq!(fields.len(), EventStrategy::FIELD_SELECTORS.len());
    }

    #[test]
    fn cells_and_validation() {
        let v = event();
        assert!(DEF.strategy.validate(&v).is_empty(), "{:?}", DEF.strategy.validate(&v));
        let cells = DEF.strategy.cells(&v);
        assert_eq!(cells.len(), DEF.strategy.columns().len());
        assert_eq!(cells[0], "<unknown>");
        assert_eq!(cells[3], "pod/nginx");
        assert_eq!(cells[5], "kubelet, node-1");
        assert_eq!(cells[6], "Successfully pulled image \"nginx\"");
        assert_eq!(cells[8], 2);
        let mut other_ns = v.clone();
        other_ns["involvedObject"]["namespace"] = json!("kube-system");
        let msgs: Vec<String> = DEF.strategy.validate(&other_ns).iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec!["involvedObject.namespace: Invalid value: \"kube-system\": does not match event.namespace"]
        );
    }
}
