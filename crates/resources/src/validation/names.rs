//! Name and label syntax (upstream's `k8s.io/apimachinery/pkg/util/validation`).
//! Each function returns the problems found, as upstream's message strings.

use regex::Regex;
use std::sync::LazyLock;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

static DNS1123_LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{DNS1123_LABEL_FMT}$")).unwrap());
static DNS1123_SUBDOMAIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*$")).unwrap());
static DNS1035_LABEL: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{DNS1035_LABEL_FMT}$")).unwrap());
static QUALIFIED_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{QUALIFIED_NAME_FMT}$")).unwrap());
static LABEL_VALUE: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^({QUALIFIED_NAME_FMT})?$")).unwrap());

fn max_len(value: &str, max: usize) -> Option<String> {
    (value.len() > max).then(|| format!("must be no more than {max} characters"))
}

/// An RFC 1123 subdomain (most object names): at most 253 characters.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs: Vec<String> = max_len(value, 253).into_iter().collect();
    if !DNS1123_SUBDOMAIN.is_match(value) {
        errs.push(format!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{DNS1123_LABEL_FMT}(\\.{DNS1123_LABEL_FMT})*')"
        ));
    }
    errs
}

/// An RFC 1123 label (namespace names, container names): at most 63 characters.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs: Vec<String> = max_len(value, 63).into_iter().collect();
    if !DNS1123_LABEL.is_match(value) {
        errs.push(format!(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL_FMT}')"
        ));
    }
    errs
}

/// An RFC 1035 label (Service names): starts with a letter, at most 63 characters.
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut errs: Vec<String> = max_len(value, 63).into_iter().collect();
    if !DNS1035_LABEL.is_match(value) {
        errs.push(format!(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{DNS1035_LABEL_FMT}')"
        ));
    }
    errs
}

/// A path segment name (RBAC objects): anything but `.`, `..`, and names with `/` or `%`.
pub fn path_segment_name(value: &str) -> Vec<String> {
    if value == "." || value == ".." {
        return vec![format!("may not be '{value}'")];
    }
    ["/", "%"].iter().filter(|bad| value.contains(*bad)).map(|bad| format!("may not contain '{bad}'")).collect()
}

/// A qualified name (label and annotation keys): optional DNS-subdomain prefix and `/`,
/// then a name of at most 63 characters.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let (prefix, name) = match value.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, value),
    };
    if value.matches('/').count() > 1 {
        return vec![format!(
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME_FMT}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        )];
    }
    if let Some(p) = prefix {
        if p.is_empty() {
            errs.push("prefix part must be non-empty".to_owned());
        } else {
            errs.extend(dns1123_subdomain(p).into_iter().map(|e| format!("prefix part {e}")));
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_owned());
    }
    if !name.is_empty() && !QUALIFIED_NAME.is_match(name) {
        errs.push(format!(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME_FMT}')"
        ));
    }
    errs
}

/// A label value: empty, or a name of at most 63 characters.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs: Vec<String> = max_len(value, 63).into_iter().collect();
    if !LABEL_VALUE.is_match(value) {
        errs.push(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '({QUALIFIED_NAME_FMT})?')"
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns1123_subdomain("my-nginx.example").is_empty());
        assert_eq!(dns1123_subdomain("Foo_bar").len(), 1);
        assert!(dns1123_label("kube-system").is_empty());
        assert!(!dns1123_label("a.b").is_empty());
        assert!(dns1035_label("my-nginx").is_empty());
        assert!(!dns1035_label("1abc").is_empty());
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(!qualified_name("bad key").is_empty());
        assert!(label_value("").is_empty());
        assert!(!label_value("-x").is_empty());
        assert_eq!(path_segment_name("a/b"), vec!["may not contain '/'"]);
    }
}
