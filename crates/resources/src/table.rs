//! Server-side table printing: the columns a kind shows in `kubectl get`, and helpers
//! for cells every kind shares (age, selectors, lists).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::Value;

/// A column definition, as `meta.k8s.io/v1` Table's `columnDefinitions` holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub kind: &'static str,
    /// `name` for the Name column, else usually empty.
    pub format: &'static str,
    pub description: &'static str,
    /// 0: shown by default; 1: only with `-o wide`.
    pub priority: i32,
}

impl Column {
    pub const fn new(name: &'static str, kind: &'static str, description: &'static str) -> Self {
        Column { name, kind, format: "", description, priority: 0 }
    }
    /// The same column, shown only with `-o wide`.
    pub const fn wide(self) -> Self {
        Column { priority: 1, ..self }
    }
    pub const NAME: Column = Column {
        name: "Name",
        kind: "string",
        format: "name",
        description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
        priority: 0,
    };
    pub const AGE: Column = Column {
        name: "Age",
        kind: "string",
        format: "",
        description: "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        priority: 0,
    };
}

/// One table cell.
pub type Cell = Value;

/// The object's name cell.
pub fn name(meta: &ObjectMeta) -> Cell {
    Value::String(meta.name.clone().unwrap_or_default())
}

/// The Age cell: time since creation, as upstream's `HumanDuration` prints it
/// (`<unknown>` when unset).
pub fn age(meta: &ObjectMeta) -> Cell {
    Value::String(match &meta.creation_timestamp {
        Some(t) => human_duration(Timestamp::now().duration_since(t.0).as_secs()),
        None => "<unknown>".to_owned(),
    })
}

/// Upstream's `duration.HumanDuration`: `5s`, `3m20s`, `2d5h`, `3y45d`.
pub fn human_duration(secs: i64) -> String {
    if secs < 0 {
        return "<invalid>".to_owned();
    }
    let s = secs;
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        let rem = s % 60;
        return if rem == 0 { format!("{m}m") } else { format!("{m}m{rem}s") };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = s / 3600;
    if h < 8 {
        let rem = m % 60;
        return if rem == 0 { format!("{h}h") } else { format!("{h}h{rem}m") };
    }
    if h < 48 {
        return format!("{h}h");
    }
    if h < 24 * 8 {
        let rem = h % 24;
        return if rem == 0 { format!("{}d", h / 24) } else { format!("{}d{rem}h", h / 24) };
    }
    if h < 24 * 365 * 2 {
        return format!("{}d", h / 24);
    }
    if h < 24 * 365 * 8 {
        let days = (h / 24) % 365;
        return if days == 0 { format!("{}y", h / 24 / 365) } else { format!("{}y{days}d", h / 24 / 365) };
    }
    format!("{}y", h / 24 / 365)
}

/// A label selector as `kubectl get -o wide` prints it: `app=x,tier in (a,b)`, or `<none>`.
pub fn selector(sel: Option<&LabelSelector>) -> String {
    let Some(sel) = sel else { return "<none>".to_owned() };
    let mut parts: Vec<String> = Vec::new();
    if let Some(labels) = &sel.match_labels {
        parts.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
    }
    for req in sel.match_expressions.iter().flatten() {
        let values = req.values.clone().unwrap_or_default().join(",");
        parts.push(match req.operator.as_str() {
            "In" => format!("{} in ({values})", req.key),
            "NotIn" => format!("{} notin ({values})", req.key),
            "Exists" => req.key.clone(),
            "DoesNotExist" => format!("!{}", req.key),
            op => format!("{} {op} ({values})", req.key),
        });
    }
    if parts.is_empty() { "<none>".to_owned() } else { parts.join(",") }
}

/// A map selector (`Service.spec.selector`) printed as `k=v,k2=v2`, or `<none>`.
pub fn map_selector<'a>(sel: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let parts: Vec<String> = sel.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    if parts.is_empty() { "<none>".to_owned() } else { parts.join(",") }
}

/// A list joined with commas, or `<none>` when empty.
pub fn list_or_none<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() { "<none>".to_owned() } else { items.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",") }
}

#[cfg(test)]
mod tests {
    use super::human_duration;

    #[test]
    fn human_durations_match_upstream() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(20 * 3600), "20h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(30 * 86400), "30d");
    }
}
