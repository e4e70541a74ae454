//! events.k8s.io/v1 Event: the structured form of core Events. Upstream stores both as
//! one object; this file maps the events.k8s.io shape onto the core one to share its
//! validation, table and field selectors.

use super::event::{event_cells, event_columns, event_fields, legacy_validate};
use crate::strategy::{Typed, TypedStrategy};
use crate::table::{Cell, Column};
use crate::validation::{meta, names};
use crate::{ALL_VERBS, FieldError, FieldPath, ResourceDef};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1::Event;

pub const DEF: ResourceDef = ResourceDef {
    group: "events.k8s.io",
    version: "v1",
    kind: "Event",
    plural: "events",
    singular: "event",
    short_names: &["ev"],
    categories: &[],
    namespaced: true,
    verbs: ALL_VERBS,
    subresources: &[],
    definition: "io.k8s.api.events.v1.Event",
    strategy: &Typed(EventStrategy),
};

pub struct EventStrategy;

/// The core form of an events.k8s.io Event (upstream's conversion).
fn to_core(e: &Event) -> core::Event {
    core::Event {
        metadata: e.metadata.clone(),
        involved_object: e.regarding.clone().unwrap_or_default(),
        related: e.related.clone(),
        reason: e.reason.clone(),
        message: e.note.clone(),
        type_: e.type_.clone(),
        event_time: e.event_time.clone(),
        series: e.series.as_ref().map(|s| core::EventSeries {
            count: Some(s.count),
            last_observed_time: Some(s.last_observed_time.clone()),
        }),
        source: e.deprecated_source.clone(),
        first_timestamp: e.deprecated_first_timestamp.clone(),
        last_timestamp: e.deprecated_last_timestamp.clone(),
        count: e.deprecated_count,
        action: e.action.clone(),
        reporting_component: e.reporting_controller.clone(),
        reporting_instance: e.reporting_instance.clone(),
    }
}

/// The events.k8s.io form of a core Event (upstream's conversion, the inverse of [`to_core`]).
fn from_core(c: core::Event) -> Event {
    Event {
        metadata: c.metadata,
        regarding: Some(c.involved_object),
        related: c.related,
        reason: c.reason,
        note: c.message,
        type_: c.type_,
        event_time: c.event_time,
        series: c.series.and_then(|s| {
            Some(k8s_openapi::api::events::v1::EventSeries {
                count: s.count?,
                last_observed_time: s.last_observed_time?,
            })
        }),
        deprecated_source: c.source,
        deprecated_first_timestamp: c.first_timestamp,
        deprecated_last_timestamp: c.last_timestamp,
        deprecated_count: c.count,
        action: c.action,
        reporting_controller: c.reporting_component,
        reporting_instance: c.reporting_instance,
    }
}

/// Upstream's strict `ValidateEventCreate` for events.k8s.io/v1, beyond metadata.
fn validate_strict(e: &Event) -> Vec<FieldError> {
    let mut errs = legacy_validate(&to_core(e), "reportingController");
    if e.series.as_ref().is_some_and(|s| s.count < 2) {
        errs.push(FieldError::invalid(&FieldPath::new("series.count"), "", "should be at least 2"));
    }
    if e.event_time.is_none() {
        errs.push(FieldError::required(&FieldPath::new("eventTime"), ""));
    }
    let ty = e.type_.as_deref().unwrap_or_default();
    if ty != "Normal" && ty != "Warning" {
        errs.push(FieldError::invalid(&FieldPath::new("type"), "", format!("has invalid value: {ty}")));
    }
    let unset = |field: &str| FieldError::invalid(&FieldPath::new(field), "", "needs to be unset");
    if e.deprecated_first_timestamp.is_some() {
        errs.push(unset("firstTimestamp"));
    }
    if e.deprecated_last_timestamp.is_some() {
        errs.push(unset("lastTimestamp"));
    }
    if e.deprecated_count.unwrap_or(0) != 0 {
        errs.push(unset("count"));
    }
    let source = e.deprecated_source.clone().unwrap_or_default();
    if !source.component.unwrap_or_default().is_empty() || !source.host.unwrap_or_default().is_empty() {
        errs.push(unset("source"));
    }
    errs
}

impl TypedStrategy for EventStrategy {
    type Object = Event;
    /// One copy of each Event, stored as a core Event.
    const STORED_AS: Option<(&'static str, &'static str)> = Some(("", "events"));

    fn to_stored(&self, obj: serde_json::Value) -> serde_json::Value {
        match serde_json::from_value::<Event>(obj.clone()) {
            Ok(e) => serde_json::to_value(to_core(&e)).unwrap_or(obj),
            Err(_) => obj,
        }
    }

    fn read_stored(&self, stored: serde_json::Value) -> serde_json::Value {
        match serde_json::from_value::<core::Event>(stored.clone()) {
            Ok(c) => serde_json::to_value(from_core(c)).unwrap_or(stored),
            Err(_) => stored,
        }
    }
    const FIELD_SELECTORS: &'static [&'static str] = &[
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reason",
        "reportingController",
        "type",
    ];

    fn validate(&self, e: &Event) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta(&e.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_strict(e));
        errs
    }

    fn validate_update(&self, new: &Event, old: &Event) -> Vec<FieldError> {
        let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata, true, names::dns1123_subdomain);
        errs.extend(validate_strict(new));
        errs
    }

    fn columns(&self) -> Vec<Column> {
        event_columns()
    }

    fn cells(&self, e: &Event) -> Vec<Cell> {
        event_cells(&to_core(e))
    }

    fn selectable_fields(&self, e: &Event) -> Vec<(&'static str, String)> {
        event_fields(&to_core(e))
            .into_iter()
            .filter_map(|(k, v)| {
                let name = match k {
                    "reportingComponent" => "reportingController",
                    "source" => return None,
                    k => Self::FIELD_SELECTORS
                        .iter()
                        .copied()
                        .find(|f| f.strip_prefix("regarding.") == k.strip_prefix("involvedObject."))
                        .filter(|_| k.starts_with("involvedObject."))
                        .unwrap_or(k),
                };
                Some((name, v))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_validation_and_selectors() {
        let v = DEF
            .strategy
            .decode(json!({"metadata": {"name": "e1", "namespace": "default"},
                "eventTime": "2025-01-01T00:00:00.000000Z", "reportingController": "krust.io/scheduler",
                "reportingInstance": "krust-1", "action": "Binding", "reason": "Scheduled", "type": "Normal",
                "regarding": {"kind": "Pod", "name": "web", "namespace": "default"}, "note": "assigned"}))
            .unwrap()
            .object;
        assert!(DEF.strategy.validate(&v).is_empty(), "{:?}", DEF.strategy.validate(&v));
        let fields = DEF.strategy.selectable_fields(&v);
        assert!(fields.contains(&("regarding.kind", "Pod".to_owned())));
        assert!(fields.contains(&("reportingController", "krust.io/scheduler".to_owned())));
        assert_eq!(fields.len(), EventStrategy::FIELD_SELECTORS.len());
        assert_eq!(DEF.strategy.cells(&v)[3], "pod/web");
        let mut bad = v.clone();
        bad["type"] = json!("Odd");
        let msgs: Vec<String> = DEF.strategy.validate(&bad).iter().map(ToString::to_string).collect();
        assert_eq!(msgs, vec!["type: Invalid value: \"\": has invalid value: Odd"]);
    }
}
