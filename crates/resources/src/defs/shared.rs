//! Table and defaulting helpers that several resource files share: upstream's default
//! `Name`/`Created At` table for kinds without a printer, access-mode abbreviations,
//! capped lists (`a,b,c + 2 more...`) and timestamps as the printers render them.

use crate::table::{self, Cell, Column};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use serde_json::Value;

/// The `Created At` column of upstream's default table (kinds without a printer, such as
/// Roles and LimitRanges).
pub const CREATED_AT: Column = Column { name: "Created At", kind: "date", format: "", priority: 0, ..Column::AGE };

/// The default table's columns: Name and Created At.
pub fn default_columns() -> Vec<Column> {
    vec![Column::NAME, CREATED_AT]
}

/// The default table's cells: the name and the creation time in RFC 3339, UTC.
pub fn default_cells(meta: &ObjectMeta) -> Vec<Cell> {
    let created = match &meta.creation_timestamp {
        Some(t) => Value::String(t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        None => Value::Null,
    };
    vec![table::name(meta), created]
}

/// Time since `t` as the printers show it, `<unknown>` when unset.
pub fn since(t: Option<&Time>) -> String {
    t.map_or_else(|| "<unknown>".to_owned(), |t| elapsed(t.0))
}

/// Time since a MicroTime, `<unknown>` when unset.
pub fn since_micro(t: Option<&MicroTime>) -> String {
    t.map_or_else(|| "<unknown>".to_owned(), |t| elapsed(t.0))
}

fn elapsed(t: jiff::Timestamp) -> String {
    table::human_duration(jiff::Timestamp::now().duration_since(t).as_secs())
}

/// Access modes abbreviated in upstream's fixed order: `RWO,ROX,RWX,RWOP`.
pub fn access_modes(modes: &[String]) -> String {
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| modes.iter().any(|m| m == mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// At most `max` items joined with commas, then ` + N more...`; `<unset>` when empty
/// (upstream's `listWithMoreString`).
pub fn capped_list(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "<unset>".to_owned();
    }
    let shown = items[..items.len().min(max)].join(",");
    if items.len() > max { format!("{shown} + {} more...", items.len() - max) } else { shown }
}

/// Set an optional string to `value` when it is unset or empty.
pub fn default_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().unwrap_or_default().is_empty() {
        *field = Some(value.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_modes_use_upstream_order() {
        let modes = vec!["ReadWriteMany".to_owned(), "ReadWriteOnce".to_owned()];
        assert_eq!(access_modes(&modes), "RWO,RWX");
    }

    #[test]
    fn capped_lists() {
        let items: Vec<String> = (1..=5).map(|i| i.to_string()).collect();
        assert_eq!(capped_list(&items, 3), "1,2,3 + 2 more...");
        assert_eq!(capped_list(&[], 3), "<unset>");
    }
}
