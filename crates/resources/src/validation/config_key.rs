//! Keys of ConfigMap and Secret data (upstream's `IsConfigMapKey`): file names of at most
//! 253 characters made of alphanumerics, `-`, `_` and `.`.

use crate::{FieldError, FieldPath};

const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/// The problems with `key`, as upstream's messages.
pub fn config_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        errs.push(CONFIG_KEY_MSG.to_owned());
    }
    if key == "." {
        errs.push("must not be '.'".to_owned());
    } else if key == ".." {
        errs.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_owned());
    }
    errs
}

/// Field errors for every bad key of a data map at `path` (`data[bad key]`).
pub fn validate_keys<'a>(keys: impl IntoIterator<Item = &'a String>, path: &FieldPath) -> Vec<FieldError> {
    keys.into_iter()
        .flat_map(|k| config_key(k).into_iter().map(move |msg| FieldError::invalid(&path.key(k), k.as_str(), msg)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::config_key;

    #[test]
    fn keys() {
        assert!(config_key("tls.crt").is_empty());
        assert_eq!(config_key("..x"), vec!["must not start with '..'"]);
        assert_eq!(config_key("a b").len(), 1);
    }
}
