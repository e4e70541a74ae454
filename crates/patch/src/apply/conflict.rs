//! Apply conflicts and their upstream messages.

use serde_json::{Value, json};

use super::managed::{Entry, UPDATE};
use crate::fields::{PathElement, path_string};

/// Why a server-side apply was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The apply changes fields other managers own and was not forced (409 Conflict,
    /// reason `Conflict`, with [`ApplyError::causes`] as `details.causes`).
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The configuration is not an object or sets `managedFields` (400 Bad Request).
    #[error("{0}")]
    BadRequest(String),
}

impl ApplyError {
    /// The HTTP status code of the Status the API server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            ApplyError::Conflicts(_) => 409,
            ApplyError::BadRequest(_) => 400,
        }
    }

    /// The Status `details.causes`: one `FieldManagerConflict` per contested field.
    pub fn causes(&self) -> Vec<Value> {
        match self {
            ApplyError::Conflicts(conflicts) => conflicts
                .iter()
                .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager_display()), "field": c.field}))
                .collect(),
            ApplyError::BadRequest(_) => Vec::new(),
        }
    }
}

/// A field the apply would change that another manager owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    /// The subresource the owner wrote through, or "".
    pub subresource: String,
    /// The field in upstream's notation: `.spec.replicas`.
    pub field: String,
}

impl Conflict {
    pub(super) fn new(owner: &Entry, path: &[PathElement]) -> Conflict {
        Conflict {
            manager: owner.manager.clone(),
            operation: owner.operation.clone(),
            api_version: owner.api_version.clone(),
            subresource: owner.subresource.clone(),
            field: path_string(path),
        }
    }

    /// How upstream names the owner: `"kubectl"`, or for updates
    /// `"kubectl-client-side-apply" using apps/v1`.
    pub fn manager_display(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == UPDATE {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

/// Conflicts grouped by owner (sorted), each owner's fields in path order.
pub(super) fn sorted(mut conflicts: Vec<Conflict>) -> Vec<Conflict> {
    conflicts.sort_by_key(Conflict::manager_display);
    conflicts
}

fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {}: {}", only.manager_display(), only.field);
    }
    let mut lines = Vec::new();
    let mut current = None;
    for conflict in conflicts {
        let owner = conflict.manager_display();
        if current.as_ref() != Some(&owner) {
            lines.push(format!("conflicts with {owner}:"));
            current = Some(owner);
        }
        lines.push(format!("- {}", conflict.field));
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}
