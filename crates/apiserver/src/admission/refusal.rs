//! Upstream's `admission.NewForbidden`: `<resource> "<name>" is forbidden: <reason>`, a
//! 403 about the object being admitted.

use crate::registry::admission::Attributes;
use crate::registry::{object, subject};
use crate::status::ApiError;
use serde_json::Value;
use std::fmt::Display;

/// Refuse the write `attrs` describes; `obj` names the object when the request did not.
pub fn forbidden(attrs: &Attributes<'_>, obj: &Value, reason: impl Display) -> ApiError {
    let name = if attrs.name.is_empty() { object::name(obj) } else { attrs.name };
    let name = if name.is_empty() { "Unknown" } else { name };
    ApiError::Forbidden {
        message: format!("{} \"{name}\" is forbidden: {reason}", attrs.def.group_resource()),
        subject: subject(attrs.def, name),
    }
}

/// Upstream's error aggregate: one message as is, several as `[a, b]` without repeats.
pub fn aggregate(errors: &[String]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for e in errors {
        if !unique.contains(&e.as_str()) {
            unique.push(e);
        }
    }
    match unique.as_slice() {
        [one] => (*one).to_owned(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_as_upstream() {
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
    }
}
